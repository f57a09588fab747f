import { InvocationContext } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { installFunctionsCore, registeredFunctions } from '../../emulators/functions-host/registry.js';
import { historyEvents, type HistoryEvent } from '../../emulators/devhost/durable/history.js';
import type { FinalizedCall, LifecycleInput, LifecycleSummary } from '../../src/lib/lifecycle/index.js';

/**
 * The registered `callLifecycle` handler — durable-functions' own replay entry point — fed hand-built
 * histories, exactly as the Durable Functions extension feeds it: each test spells out the events
 * (task ids as the Durable Task Framework numbers them) and checks the actions the replay asks for.
 */
installFunctionsCore();

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: Record<string, unknown>;
  fireAt?: Date;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: Action[];
}
interface State {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  customStatus?: unknown;
}

const WHEN_ANY = 11;
const CALL_ACTIVITY = 0;
const CREATE_TIMER = 5;
const t0 = new Date('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1_000);
const input: LifecycleInput = {
  callId: 'call-1',
  callConnectionId: 'conn-1',
  startedAt: '2026-03-01T09:59:58.000Z',
  maxDurationSeconds: 600,
  direction: 'inbound',
  callerUserId: 'user-1',
};
const finalized = (endReason: string, endedAt: string): FinalizedCall => ({
  callId: 'call-1',
  callConnectionId: 'conn-1',
  direction: 'inbound',
  callerUserId: 'user-1',
  startedAt: input.startedAt,
  endedAt,
  endReason,
  durationSeconds: 42,
  turnCount: 4,
  summary: 'four turns',
});

let handler: (trigger: unknown, context: InvocationContext) => Promise<unknown>;

beforeAll(async () => {
  await import('../../src/functions/callLifecycle.js');
  const registration = registeredFunctions().find((f) => f.metadata.name === 'callLifecycle');
  if (!registration) throw new Error('callLifecycle is not registered');
  handler = registration.handler as typeof handler;
});

async function replay(history: HistoryEvent[]): Promise<State> {
  const trigger = {
    history,
    input,
    instanceId: 'conn-1',
    isReplaying: false,
    parentInstanceId: '',
    upperSchemaVersion: 3,
    maximumShortTimerDuration: '6.00:00:00',
    longRunningTimerIntervalDuration: '3.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  return (await handler(trigger, new InvocationContext({ functionName: 'callLifecycle' }))) as State;
}

const actionsOf = (state: State) => state.actions[0] ?? [];
const lastAction = (state: State) => actionsOf(state).at(-1);

/** First episode: started, the wait for CallDisconnected or the timer (task 0) recorded. */
function started(): HistoryEvent[] {
  return [
    historyEvents.orchestratorStarted(t0),
    historyEvents.executionStarted(t0, 'callLifecycle', input),
    historyEvents.timerCreated(t0, 0, at(600)),
    historyEvents.orchestratorCompleted(t0),
  ];
}

function episode(time: Date, ...events: HistoryEvent[]): HistoryEvent[] {
  return [historyEvents.orchestratorStarted(time), ...events, historyEvents.orchestratorCompleted(time)];
}

describe('callLifecycle replay', () => {
  it('first waits for CallDisconnected or a timer at start + max duration', async () => {
    const state = await replay([historyEvents.orchestratorStarted(t0), historyEvents.executionStarted(t0, 'callLifecycle', input)]);
    expect(state.isDone).toBe(false);
    expect(actionsOf(state)).toHaveLength(1);
    const [wait] = actionsOf(state);
    expect(wait?.actionType).toBe(WHEN_ANY);
    expect(wait?.compoundActions?.map((a) => a.externalEventName ?? a.fireAt?.toISOString())).toEqual(['CallDisconnected', at(600).toISOString()]);
    expect(state.customStatus).toEqual({ phase: 'in-call', callId: 'call-1' });
  });

  it('runs the happy path step by step to its summary', async () => {
    // Prepare: the call disconnects 42 s in; every activity then succeeds.
    const endedAt = at(42).toISOString();
    const history = [...started(), ...episode(at(42), historyEvents.eventRaised(at(42), 'CallDisconnected', { reason: 'caller-hung-up', at: endedAt }))];
    const results: Array<[string, unknown]> = [
      ['finalizeCall', finalized('caller-hung-up', endedAt)],
      ['archiveTranscript', { turnsArchived: 4 }],
      ['updateProfile', { updated: true }],
      ['writeAnalytics', { written: true }],
      ['writeAudit', { written: true }],
      ['cleanupCall', { cleaned: true }],
    ];
    const scheduled: string[] = [];
    // Act: replay, record what it schedules, append that activity's completion, replay again.
    let state = await replay(history);
    expect(actionsOf(state)[0]?.compoundActions?.[1]?.isCanceled).toBe(true);
    for (const [index, [name, result]] of results.entries()) {
      const action = lastAction(state);
      scheduled.push(action?.functionName ?? '?');
      const taskId = index + 1;
      history.push(...episode(at(43 + index), historyEvents.taskScheduled(at(43 + index), taskId, name, action?.input)));
      history.push(...episode(at(43 + index), historyEvents.taskCompleted(at(43 + index), taskId, result)));
      state = await replay(history);
    }
    // Assess
    expect(scheduled).toEqual(results.map(([name]) => name));
    expect(state.isDone).toBe(true);
    const summary = state.output as LifecycleSummary;
    expect(summary).toEqual({
      callId: 'call-1',
      callConnectionId: 'conn-1',
      direction: 'inbound',
      endReason: 'caller-hung-up',
      endedAt,
      hungUpByLifecycle: false,
      durationSeconds: 42,
      turnCount: 4,
      turnsArchived: 4,
      profileUpdated: true,
      warnings: [],
    });
    expect(state.customStatus).toEqual({ phase: 'done', callId: 'call-1', endReason: 'caller-hung-up' });
  });

  it('retries a failed step on a durable timer after sliding the call state TTLs, and moves on when the retry succeeds', async () => {
    const endedAt = at(42).toISOString();
    const history = [
      ...started(),
      ...episode(at(42), historyEvents.eventRaised(at(42), 'CallDisconnected', { reason: 'caller-hung-up', at: endedAt })),
      ...episode(at(42), historyEvents.taskScheduled(at(42), 1, 'finalizeCall', null)),
      ...episode(at(43), historyEvents.taskFailed(at(43), 1, { ErrorType: 'RedisUnavailableError', ErrorMessage: 'redis down' })),
    ];
    const failed = await replay(history);
    history.push(...episode(at(43), historyEvents.taskScheduled(at(43), 2, 'keepCallState', null), historyEvents.taskCompleted(at(43), 2, { kept: true })));
    const waiting = await replay(history);
    history.push(...episode(at(43), historyEvents.timerCreated(at(43), 3, at(45))));
    history.push(...episode(at(45), historyEvents.timerFired(at(45), 3, at(45))));
    const retrying = await replay(history);
    history.push(...episode(at(45), historyEvents.taskScheduled(at(45), 4, 'finalizeCall', null)));
    history.push(...episode(at(46), historyEvents.taskCompleted(at(46), 4, finalized('caller-hung-up', endedAt))));
    const next = await replay(history);

    // Each attempt is a plain activity call: the orchestration, not the framework, owns the retries.
    expect(actionsOf(failed).filter((a) => a.functionName === 'finalizeCall').map((a) => a.actionType)).toEqual([CALL_ACTIVITY]);
    expect(lastAction(failed)).toMatchObject({ actionType: CALL_ACTIVITY, functionName: 'keepCallState', input: { callId: 'call-1' } });
    expect(lastAction(waiting)).toMatchObject({ actionType: CREATE_TIMER, fireAt: at(45) });
    expect(lastAction(retrying)).toMatchObject({ actionType: CALL_ACTIVITY, functionName: 'finalizeCall' });
    expect([failed.isDone, waiting.isDone, retrying.isDone]).toEqual([false, false, false]);
    expect(lastAction(next)).toMatchObject({ functionName: 'archiveTranscript', input: finalized('caller-hung-up', endedAt) });
    expect(next.customStatus).toEqual({ phase: 'archiving', callId: 'call-1', endReason: 'caller-hung-up' });
  });

  it('hangs up when the max-duration timer fires, then finalizes with reason max-duration at that time', async () => {
    const history = [...started(), ...episode(at(600), historyEvents.timerFired(at(600), 0, at(600)))];
    const hangingUp = await replay(history);
    history.push(...episode(at(600), historyEvents.taskScheduled(at(600), 1, 'hangUpCall', null)));
    history.push(...episode(at(601), historyEvents.taskCompleted(at(601), 1, { hungUp: true })));
    const finalizing = await replay(history);

    expect(lastAction(hangingUp)).toMatchObject({ functionName: 'hangUpCall', input: { callConnectionId: 'conn-1' } });
    expect(hangingUp.customStatus).toEqual({ phase: 'hanging-up', callId: 'call-1', endReason: 'max-duration' });
    expect(lastAction(finalizing)).toMatchObject({
      functionName: 'finalizeCall',
      input: { callId: 'call-1', endReason: 'max-duration', endedAt: at(601).toISOString(), startedAt: input.startedAt },
    });
  });

  it('is deterministic: the same history always replays to the same actions, status and output', async () => {
    const endedAt = at(42).toISOString();
    const history = [
      ...started(),
      ...episode(at(42), historyEvents.eventRaised(at(42), 'CallDisconnected', { reason: 'caller-hung-up', at: endedAt })),
      ...episode(at(42), historyEvents.taskScheduled(at(42), 1, 'finalizeCall', null)),
      ...episode(at(44), historyEvents.taskCompleted(at(44), 1, finalized('caller-hung-up', endedAt))),
    ];
    const first = JSON.stringify(await replay(history));
    await new Promise((resolve) => setTimeout(resolve, 5)); // the wall clock moves; the replay must not notice
    const second = JSON.stringify(await replay(history));
    expect(second).toBe(first);
    expect(JSON.parse(first)).toMatchObject({ isDone: false, customStatus: { phase: 'archiving' } });
  });
});
