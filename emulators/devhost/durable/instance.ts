import type { HistoryEvent } from './history.js';
import type { RetryPolicy } from './retry.js';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';

export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

/** The status document the extension's HTTP API returns (what `DurableOrchestrationStatus` is built from). */
export interface InstanceStatus {
  readonly name: string;
  readonly instanceId: string;
  readonly runtimeStatus: RuntimeStatus;
  readonly input: unknown;
  readonly output: unknown;
  readonly customStatus: unknown;
  readonly createdTime: string;
  readonly lastUpdatedTime: string;
  readonly historyEvents?: unknown[];
}

/** One activity call made with retry options: which attempt it is on and what to run again. */
export interface RetryState {
  readonly functionName: string;
  readonly input: unknown;
  readonly policy: RetryPolicy;
  readonly firstAttemptAt: Date;
  failedAttempts: number;
}

/** In-memory record of one orchestration instance (one execution at a time; continue-as-new starts another). */
export interface Instance {
  readonly instanceId: string;
  name: string;
  input: unknown;
  createdTime: Date;
  lastUpdatedTime: Date;
  runtimeStatus: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  history: HistoryEvent[];
  /** Next task sequence number, handed out exactly as the library's executor does. */
  nextTaskId: number;
  /** How many of the replay's (flattened) actions have already been performed. */
  performedActions: number;
  /** Durable timer task id per action index, so a timer the orchestrator cancels stops its real timer. */
  timerOfAction: Map<number, number>;
  /** Real timers waiting to fire, by durable timer id. */
  timers: Map<number, NodeJS.Timeout>;
  /** Activity attempts (task id) and retry timers (timer id) that belong to a retried call. */
  retries: Map<number, RetryState>;
  /** Retry timers after which no attempt is left: firing one only hands the failure to the orchestrator. */
  finalRetryTimers: Set<number>;
  /** Bumped by continue-as-new, restart and purge so late activity results and timers are dropped. */
  generation: number;
  /** Serialises everything that touches this instance: one replay at a time. */
  queue: Promise<void>;
  waiters: Set<() => void>;
}

export function newInstance(instanceId: string, name: string, input: unknown, now: Date, generation = 0): Instance {
  return {
    instanceId,
    name,
    input,
    createdTime: now,
    lastUpdatedTime: now,
    runtimeStatus: 'Pending',
    output: undefined,
    customStatus: undefined,
    history: [],
    nextTaskId: 0,
    performedActions: 0,
    timerOfAction: new Map(),
    timers: new Map(),
    retries: new Map(),
    finalRetryTimers: new Set(),
    generation,
    queue: Promise.resolve(),
    waiters: new Set(),
  };
}

export function statusOf(instance: Instance, showHistory = false): InstanceStatus {
  return {
    name: instance.name,
    instanceId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    input: instance.input ?? null,
    output: instance.output ?? null,
    customStatus: instance.customStatus ?? null,
    createdTime: instance.createdTime.toISOString(),
    lastUpdatedTime: instance.lastUpdatedTime.toISOString(),
    ...(showHistory ? { historyEvents: instance.history.map(describeEvent) } : {}),
  };
}

const EVENT_NAMES: Record<number, string> = {
  0: 'ExecutionStarted', 1: 'ExecutionCompleted', 2: 'ExecutionFailed', 3: 'ExecutionTerminated', 4: 'TaskScheduled',
  5: 'TaskCompleted', 6: 'TaskFailed', 10: 'TimerCreated', 11: 'TimerFired', 12: 'OrchestratorStarted',
  13: 'OrchestratorCompleted', 15: 'EventRaised', 16: 'ContinueAsNew',
};

function describeEvent(event: HistoryEvent): Record<string, unknown> {
  const { EventType, IsPlayed: _played, IsProcessed: _processed, ...rest } = event;
  return { EventType: EVENT_NAMES[EventType] ?? EventType, ...rest };
}
