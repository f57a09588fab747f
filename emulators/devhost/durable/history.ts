import { appRequire } from '../functions-runtime.js';

/**
 * The history event classes of durable-functions, loaded from the library itself so the histories the
 * engine builds are exactly the objects its replay machinery expects. The package ships no typings for
 * these modules, hence the small declarations below.
 */

export const HistoryEventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
} as const;

export interface HistoryEvent {
  readonly EventType: number;
  readonly EventId: number;
  IsPlayed: boolean;
  readonly Timestamp: Date;
  readonly [field: string]: unknown;
}

interface EventOptions {
  eventId: number;
  timestamp: Date;
  isPlayed: boolean;
  [field: string]: unknown;
}

type EventClass = new (options: EventOptions) => HistoryEvent;
type BaseEventClass = new (eventType: number, eventId: number, isPlayed: boolean, timestamp: Date) => HistoryEvent;

const load = <T>(file: string, exportName: string): T =>
  (appRequire(`durable-functions/lib/src/history/${file}`) as Record<string, T>)[exportName] as T;

const classes = {
  ExecutionStarted: load<EventClass>('ExecutionStartedEvent.js', 'ExecutionStartedEvent'),
  OrchestratorStarted: load<EventClass>('OrchestratorStartedEvent.js', 'OrchestratorStartedEvent'),
  OrchestratorCompleted: load<EventClass>('OrchestratorCompletedEvent.js', 'OrchestratorCompletedEvent'),
  TaskScheduled: load<EventClass>('TaskScheduledEvent.js', 'TaskScheduledEvent'),
  TaskCompleted: load<EventClass>('TaskCompletedEvent.js', 'TaskCompletedEvent'),
  TaskFailed: load<EventClass>('TaskFailedEvent.js', 'TaskFailedEvent'),
  TimerCreated: load<EventClass>('TimerCreatedEvent.js', 'TimerCreatedEvent'),
  TimerFired: load<EventClass>('TimerFiredEvent.js', 'TimerFiredEvent'),
  EventRaised: load<EventClass>('EventRaisedEvent.js', 'EventRaisedEvent'),
  Base: load<BaseEventClass>('HistoryEvent.js', 'HistoryEvent'),
};

/** The failure shape the library turns into a `TaskFailedError` (see its `taskFailedErrorFromWireDto`). */
export interface FailureDetails {
  readonly ErrorType: string;
  readonly ErrorMessage: string;
  readonly StackTrace?: string;
}

/**
 * Builds history events. Event ids follow the Durable Task Framework: a TaskScheduled/TimerCreated event
 * carries the task's sequence number as its `EventId`, and its outcome points back to it
 * (`TaskScheduledId`, `TimerId`); other events get `-1`.
 */
export const historyEvents = {
  orchestratorStarted: (at: Date) => new classes.OrchestratorStarted({ eventId: -1, timestamp: at, isPlayed: false }),
  orchestratorCompleted: (at: Date) => new classes.OrchestratorCompleted({ eventId: -1, timestamp: at, isPlayed: false }),
  executionStarted: (at: Date, name: string, input: unknown) =>
    new classes.ExecutionStarted({ eventId: -1, timestamp: at, isPlayed: false, name, input: serialize(input) }),
  taskScheduled: (at: Date, taskId: number, name: string, input: unknown) =>
    new classes.TaskScheduled({ eventId: taskId, timestamp: at, isPlayed: false, name, input: serialize(input) }),
  taskCompleted: (at: Date, taskId: number, result: unknown) =>
    new classes.TaskCompleted({ eventId: -1, timestamp: at, isPlayed: false, taskScheduledId: taskId, result: serialize(result ?? null) }),
  taskFailed: (at: Date, taskId: number, failure: FailureDetails) =>
    new classes.TaskFailed({
      eventId: -1,
      timestamp: at,
      isPlayed: false,
      taskScheduledId: taskId,
      reason: failure.ErrorMessage,
      details: failure.StackTrace ?? '',
      failureDetails: failure,
    }),
  timerCreated: (at: Date, timerId: number, fireAt: Date) =>
    new classes.TimerCreated({ eventId: timerId, timestamp: at, isPlayed: false, fireAt }),
  timerFired: (at: Date, timerId: number, fireAt: Date) =>
    new classes.TimerFired({ eventId: -1, timestamp: at, isPlayed: false, timerId, fireAt }),
  eventRaised: (at: Date, name: string, payload: unknown) =>
    new classes.EventRaised({ eventId: -1, timestamp: at, isPlayed: false, name, input: payload === undefined ? undefined : serialize(payload) }),
  /** Terminal markers the library does not read; kept so a history reads like the extension's. */
  marker: (at: Date, eventType: number) => new classes.Base(eventType, -1, false, at),
};

/** Results and event payloads travel as JSON text in a history, exactly as they do through the extension. */
function serialize(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}
