import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFunctionsCore } from '../../emulators/functions-host/registry.js';
import { startDevHost, type DevHost, type HistoryEvent } from '../../emulators/devhost/index.js';

/**
 * The dev host's durable engine driven with small orchestrations registered here through
 * `df.app.orchestration` / `df.app.activity` — the same path the app's own functions take — so the
 * library's replay machinery, not a test double, decides what happens.
 */
installFunctionsCore();

const calls: Record<string, number> = {};
const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);

df.app.activity('addOne', { handler: (n: number) => (count('addOne'), n + 1) });
df.app.activity('failsOnceThenSucceeds', {
  handler: (key: string) => {
    if (count(`flaky:${key}`) === 1) throw new Error(`transient failure for ${key}`);
    return `ok:${key}`;
  },
});
df.app.activity('alwaysFails', {
  handler: (key: string) => {
    count(`broken:${key}`);
    throw new Error(`permanent failure for ${key}`);
  },
});

df.app.orchestration('chain', function* (context: OrchestrationContext) {
  let value = context.df.getInput<number>();
  for (let i = 0; i < 3; i++) {
    value = yield context.df.callActivity('addOne', value);
    context.df.setCustomStatus({ step: i + 1 });
  }
  return value;
});

df.app.orchestration('retried', function* (context: OrchestrationContext) {
  const retry = new df.RetryOptions(20, 3);
  retry.backoffCoefficient = 2;
  const { activity, key } = context.df.getInput<{ activity: string; key: string }>();
  try {
    return yield context.df.callActivityWithRetry(activity, retry, key);
  } catch (error) {
    return { gaveUp: (error as Error).message };
  }
});

df.app.orchestration('eventOrTimer', function* (context: OrchestrationContext) {
  const { timeoutMs } = context.df.getInput<{ timeoutMs: number }>();
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
  const timer = context.df.createTimer(deadline);
  const event = context.df.waitForExternalEvent('Go');
  const winner = yield context.df.Task.any([event, timer]);
  if (winner === event) {
    timer.cancel();
    return { outcome: 'event', payload: event.result };
  }
  return { outcome: 'timer', firedAfterDeadline: context.df.currentUtcDateTime.getTime() >= deadline.getTime() };
});

df.app.orchestration('fanOut', function* (context: OrchestrationContext) {
  const inputs = context.df.getInput<number[]>();
  const results: number[] = yield context.df.Task.all(inputs.map((n) => context.df.callActivity('addOne', n)));
  return results;
});

df.app.orchestration('collectTicks', function* (context: OrchestrationContext) {
  const expected = context.df.getInput<number>();
  const seen: number[] = [];
  while (seen.length < expected) seen.push((yield context.df.waitForExternalEvent('tick')) as number);
  return seen.sort((a, b) => a - b);
});

df.app.orchestration('uncaught', function* (context: OrchestrationContext) {
  context.df.setCustomStatus('about to fail');
  return yield context.df.callActivity('alwaysFails', context.df.getInput<string>());
});

df.app.orchestration('countTo', function* (context: OrchestrationContext) {
  const { n, target } = context.df.getInput<{ n: number; target: number }>();
  const next: number = yield context.df.callActivity('addOne', n);
  if (next < target) {
    context.df.continueAsNew({ n: next, target });
    return undefined;
  }
  return next;
});

const typeName = (e: HistoryEvent) =>
  ({ 4: 'TaskScheduled', 5: 'TaskCompleted', 6: 'TaskFailed', 10: 'TimerCreated', 11: 'TimerFired', 15: 'EventRaised' })[e.EventType];
const outcomes = (events: readonly HistoryEvent[]) => events.map(typeName).filter(Boolean);

describe('durable engine', () => {
  let host: DevHost;
  beforeAll(async () => {
    host = await startDevHost();
  });
  afterAll(async () => {
    await host?.close();
  });

  it('runs an activity chain to completion, with custom status and output', async () => {
    // Prepare
    const before = calls.addOne ?? 0;
    // Act
    const id = await host.durable.start('chain', { input: 10 });
    const status = await host.durable.waitForCompletion(id);
    // Assess
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 13, customStatus: { step: 3 }, input: 10, name: 'chain' });
    expect((calls.addOne ?? 0) - before).toBe(3);
    expect(outcomes(host.durable.history(id))).toEqual([
      'TaskScheduled', 'TaskCompleted', 'TaskScheduled', 'TaskCompleted', 'TaskScheduled', 'TaskCompleted',
    ]);
  });

  it('retries a failed activity under RetryOptions and completes with its result', async () => {
    const id = await host.durable.start('retried', { input: { activity: 'failsOnceThenSucceeds', key: 'a' } });
    const status = await host.durable.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'ok:a' });
    expect(calls['flaky:a']).toBe(2);
    expect(outcomes(host.durable.history(id))).toEqual(['TaskScheduled', 'TaskFailed', 'TimerCreated', 'TimerFired', 'TaskScheduled', 'TaskCompleted']);
  });

  it('spaces retries by the backoff coefficient and gives up after the maximum attempts', async () => {
    const id = await host.durable.start('retried', { input: { activity: 'alwaysFails', key: 'b' } });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { gaveUp: string }).gaveUp).toContain('permanent failure for b');
    expect(calls['broken:b']).toBe(3);
    const created = host.durable.history(id).filter((e) => e.EventType === 10);
    const intervals = created.map((e) => (e.FireAt as Date).getTime() - e.Timestamp.getTime());
    expect(intervals.slice(0, 2)).toEqual([20, 40]);
  });

  it('lets the timer win when no event comes', async () => {
    const id = await host.durable.start('eventOrTimer', { input: { timeoutMs: 30 } });
    const status = await host.durable.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { outcome: 'timer', firedAfterDeadline: true } });
    expect(outcomes(host.durable.history(id))).toEqual(['TimerCreated', 'TimerFired']);
  });

  it('lets an event beat the timer and cancels the timer', async () => {
    const id = await host.durable.start('eventOrTimer', { input: { timeoutMs: 3_600_000 } });
    await host.durable.raiseEvent(id, 'Go', { reason: 'hangup' });
    const status = await host.durable.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: { outcome: 'event', payload: { reason: 'hangup' } } });
    expect(outcomes(host.durable.history(id))).toEqual(['TimerCreated', 'EventRaised']);
    expect(host.durable.pendingTimerCount(id)).toBe(0);
  });

  it('buffers an event raised before the orchestrator waits for it', async () => {
    const id = await host.durable.start('eventOrTimer', { input: { timeoutMs: 3_600_000 } });
    await host.durable.raiseEvent(id, 'Go', 'early');
    await expect(host.durable.waitForCompletion(id)).resolves.toMatchObject({ output: { outcome: 'event', payload: 'early' } });
  });

  it('refuses to start an instance id that is still running, and restarts a finished one', async () => {
    const id = await host.durable.start('eventOrTimer', { instanceId: 'same-id', input: { timeoutMs: 3_600_000 } });
    await expect(host.durable.start('eventOrTimer', { instanceId: id, input: { timeoutMs: 1 } })).rejects.toMatchObject({ status: 409 });
    await host.durable.raiseEvent(id, 'Go', 1);
    await host.durable.waitForCompletion(id);
    await host.durable.start('chain', { instanceId: id, input: 0 });
    await expect(host.durable.waitForCompletion(id)).resolves.toMatchObject({ name: 'chain', output: 3 });
  });

  it('fans out activities in parallel and gathers their results in order', async () => {
    const id = await host.durable.start('fanOut', { input: [1, 2, 3, 4, 5] });
    await expect(host.durable.waitForCompletion(id)).resolves.toMatchObject({ runtimeStatus: 'Completed', output: [2, 3, 4, 5, 6] });
  });

  it('handles events raised concurrently one replay at a time, losing none', async () => {
    const id = await host.durable.start('collectTicks', { input: 20 });
    const rpc = host.durable.clientData.rpcBaseUrl;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${rpc}instances/${id}/raiseEvent/tick`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: String(i) }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
    await expect(host.durable.waitForCompletion(id)).resolves.toMatchObject({ output: Array.from({ length: 20 }, (_, i) => i) });
  });

  it('continues as new with the new input until done', async () => {
    const id = await host.durable.start('countTo', { input: { n: 0, target: 3 } });
    const status = await host.durable.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 3, input: { n: 2, target: 3 } });
  });

  it('terminates a running instance and reports it as terminated', async () => {
    const id = await host.durable.start('eventOrTimer', { input: { timeoutMs: 3_600_000 } });
    await host.durable.terminate(id, 'operator');
    const status = await host.durable.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'operator' });
    expect(host.durable.pendingTimerCount(id)).toBe(0);
    await expect(host.durable.raiseEvent(id, 'Go')).rejects.toMatchObject({ status: 410 });
  });

  it('reports an orchestrator that lets an activity failure escape as failed, with the error', async () => {
    const id = await host.durable.start('uncaught', { input: 'c' });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain('permanent failure for c');
    expect(status.customStatus).toBe('about to fail');
  });
});

describe('durable engine with a time scale', () => {
  it('fires a one-minute durable timer in milliseconds, keeping durable time consistent', async () => {
    const host = await startDevHost({ timeScale: 0.001 });
    try {
      const id = await host.durable.start('eventOrTimer', { input: { timeoutMs: 60_000 } });
      await expect(host.durable.waitForCompletion(id, { timeoutMs: 5_000 })).resolves.toMatchObject({
        output: { outcome: 'timer', firedAfterDeadline: true },
      });
    } finally {
      await host.close();
    }
  });
});
