import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installFunctionsCore } from '../../emulators/functions-host/registry.js';
import { startDevHost, type DevHost } from '../../emulators/devhost/index.js';
import {
  CALL_DISCONNECTED_EVENT,
  lifecycleInstanceId,
  type LifecycleAuditEntry,
  type LifecycleDeps,
  type LifecycleInput,
  type LifecycleStatus,
  type LifecycleSummary,
} from '../../src/lib/lifecycle/index.js';
import { RecordingDeps } from './recording-deps.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { runWithApp } from '../../src/lib/app/current.js';
import { testConfig } from '../support/env.js';
import { ArchiveRejectedError, InvalidArchiveInputError } from '../../src/lib/archive/errors.js';
import { RedisUnavailableError } from '../../src/lib/state/errors.js';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { METRIC } from '../../src/lib/telemetry/metrics.js';

/** Reads the process's metrics on demand (the SDK's own reader contract; no exporter). */
class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function counterValue(reader: CollectingReader, name: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  let total = 0;
  for (const metric of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
    if (metric.descriptor.name !== name) continue;
    for (const point of metric.dataPoints as ReadonlyArray<{ value: unknown }>) total += Number(point.value);
  }
  return total;
}

/**
 * The registered `callLifecycle` orchestration and its activities, run by the dev host's durable engine
 * (durable-functions' replay machinery over an in-memory history). Durable time runs 100× faster, so
 * the 2 s retry interval takes 20 ms and a 60 s max duration 600 ms: slow enough that the wall time an
 * activity takes on a loaded machine (tens of ms) stays small beside the retry horizon's margins.
 */
installFunctionsCore();
await import('../../src/functions/callLifecycle.js');

let host: DevHost;
let sequence = 0;
/** The app of the current test: its lifecycle activities act on the test's recording dependencies. */
let app: App | undefined;

function withLifecycleDeps(deps: LifecycleDeps): void {
  app = createApp(testConfig({ LOG_LEVEL: 'error' }), { lifecycle: () => deps });
}

function callInput(overrides: Partial<LifecycleInput> = {}): LifecycleInput {
  sequence += 1;
  return {
    callId: `call-${sequence}`,
    callConnectionId: `conn-${sequence}-${Date.now()}`,
    startedAt: new Date(Date.now() - 90_000).toISOString(),
    maxDurationSeconds: 3_600,
    direction: 'inbound',
    callerUserId: `user-${sequence}`,
    ...overrides,
  };
}

async function start(input: LifecycleInput): Promise<string> {
  return host.durable.start('callLifecycle', { instanceId: lifecycleInstanceId(input.callConnectionId), input });
}

beforeAll(async () => {
  host = await startDevHost({
    timeScale: 0.01,
    scope: (invoke) => {
      if (!app) throw new Error('no lifecycle dependencies for this test');
      return runWithApp(app, invoke);
    },
  });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});
afterAll(async () => {
  await host?.close();
});

describe('callLifecycle orchestration', () => {
  it('finalizes, archives, updates the profile, writes analytics and audit, then cleans up after CallDisconnected', async () => {
    // Prepare
    const deps = new RecordingDeps();
    withLifecycleDeps(deps);
    const input = callInput();
    const at = new Date().toISOString();
    // Act
    const id = await start(input);
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at });
    const status = await host.durable.waitForCompletion(id);
    // Assess
    expect(id).toBe(input.callConnectionId);
    expect(status.runtimeStatus).toBe('Completed');
    expect(deps.ops()).toEqual(['finalize', 'archiveTranscript', 'updateProfile', 'recordAnalytics', 'appendAudit', 'cleanup']);
    expect(deps.calls[0]?.arg).toEqual({
      callId: input.callId,
      callConnectionId: input.callConnectionId,
      direction: 'inbound',
      callerUserId: input.callerUserId,
      startedAt: input.startedAt,
      endedAt: at,
      endReason: 'caller-hung-up',
    });
    expect(deps.calls[4]?.arg).toMatchObject({ callId: input.callId, action: 'ended', idempotencyKey: `${id}:ended` });
    expect(deps.calls[5]?.arg).toBe(input.callId);
    const output = status.output as LifecycleSummary;
    expect(output).toMatchObject({ callId: input.callId, endReason: 'caller-hung-up', endedAt: at, hungUpByLifecycle: false, durationSeconds: 90, turnCount: 5, turnsArchived: 5, profileUpdated: true, warnings: [] });
    expect(status.customStatus as LifecycleStatus).toEqual({ phase: 'done', callId: input.callId, endReason: 'caller-hung-up' });
    expect(host.durable.pendingTimerCount(id)).toBe(0);
  });

  it('retries an activity that fails and carries on with the same call', async () => {
    const deps = new RecordingDeps().failNext('archiveTranscript', 2);
    withLifecycleDeps(deps);
    const id = await start(callInput());
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at: new Date().toISOString() });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(deps.ops()).toEqual([
      'finalize', 'archiveTranscript', 'keepAlive', 'archiveTranscript', 'keepAlive', 'archiveTranscript', 'updateProfile', 'recordAnalytics', 'appendAudit', 'cleanup',
    ]);
    expect((status.output as LifecycleSummary).warnings).toEqual([]);
  });

  it('hangs up when the max duration passes first, then finalizes with that reason', async () => {
    const deps = new RecordingDeps();
    withLifecycleDeps(deps);
    const input = callInput({ maxDurationSeconds: 60 });
    const id = await start(input);
    const status = await host.durable.waitForCompletion(id);
    expect(deps.ops()).toEqual(['hangUp', 'finalize', 'archiveTranscript', 'updateProfile', 'recordAnalytics', 'appendAudit', 'appendAudit', 'cleanup']);
    expect(deps.calls[0]?.arg).toBe(input.callConnectionId);
    expect(deps.calls[1]?.arg).toMatchObject({ endReason: 'max-duration' });
    expect(deps.calls.filter((c) => c.op === 'appendAudit').map((c) => (c.arg as LifecycleAuditEntry).action)).toEqual(['hung_up_max_duration', 'ended']);
    expect(status.output).toMatchObject({ endReason: 'max-duration', hungUpByLifecycle: true });
  });

  it('keeps Redis alive and fails the orchestration when the archive stays down past the horizon, auditing the failure', async () => {
    const deps = new RecordingDeps().failNext('archiveTranscript', Infinity);
    withLifecycleDeps(deps);
    // Retries 2, 4, 8, 16 and 32 s apart: the sixth would start after the 60 s horizon.
    const id = await start(callInput({ archiveHorizonSeconds: 60 }));
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at: new Date().toISOString() });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('archiveTranscript failed after its retries');
    expect(deps.ops().filter((op) => op === 'archiveTranscript')).toHaveLength(5);
    expect(deps.ops().filter((op) => op === 'keepAlive')).toHaveLength(4);
    expect(status.customStatus).toMatchObject({ phase: 'gave-up' });
    expect(deps.ops()).not.toContain('cleanup');
    expect(deps.calls.at(-1)).toMatchObject({ op: 'appendAudit', arg: { action: 'archive_failed' } });
  });

  it('counts a call given up at the horizon once, whatever the replays', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    try {
      const deps = new RecordingDeps().failNext('archiveTranscript', Infinity);
      withLifecycleDeps(deps);
      const id = await start(callInput({ archiveHorizonSeconds: 60 }));
      await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at: new Date().toISOString() });
      const status = await host.durable.waitForCompletion(id);
      expect(status.customStatus).toMatchObject({ phase: 'gave-up' });
      // The count is recorded as the orchestration gives up, through a lazily loaded module.
      for (const until = Date.now() + 5_000; Date.now() < until && (await counterValue(reader, METRIC.archiveGaveUp)) === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await counterValue(reader, METRIC.archiveGaveUp)).toBe(1);
    } finally {
      metrics.disable();
      await provider.shutdown();
    }
  });

  it('reports best-effort steps that keep failing as warnings and still cleans up', async () => {
    const deps = new RecordingDeps().failNext('recordAnalytics', Infinity);
    withLifecycleDeps(deps);
    const id = await start(callInput({ direction: 'outbound', callerUserId: undefined }));
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'callee-hung-up', at: new Date().toISOString() });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(deps.ops()).not.toContain('updateProfile');
    expect(deps.ops().at(-1)).toBe('cleanup');
    expect(status.output).toMatchObject({ profileUpdated: false, warnings: [expect.stringContaining('writeAnalytics')] });
  });

  it('ends a required step at once, audited, when its activity fails in a way no retry can change', async () => {
    // Prepare: Cosmos DB refuses the transcript for good (413); a retry would be refused the same way.
    const tooLarge = Object.assign(new Error('Request size is too large'), { code: 413 });
    const deps = new RecordingDeps().failNext('archiveTranscript', Infinity, () => new ArchiveRejectedError('transcripts.upsertPage', tooLarge, 413));
    withLifecycleDeps(deps);
    const id = await start(callInput());
    // Act
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at: new Date().toISOString() });
    const status = await host.durable.waitForCompletion(id);
    // Assess: one attempt, no keep-alive for retries that will not come, the failure audited and the state kept.
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('archiveTranscript failed and cannot succeed on a retry (1 attempts): Cosmos DB rejected transcripts.upsertPage (413)');
    expect(deps.ops()).toEqual(['finalize', 'archiveTranscript', 'appendAudit']);
    expect(deps.calls.at(-1)).toMatchObject({ op: 'appendAudit', arg: { action: 'archive_failed', details: { step: 'archiveTranscript' } } });
    expect(status.customStatus).toMatchObject({ phase: 'gave-up' });
  });

  it('records a best-effort step that fails for good as a warning after one attempt, and retries one that may pass', async () => {
    // Prepare: the profile update is refused as invalid input; analytics meet a Redis outage twice.
    const deps = new RecordingDeps()
      .failNext('updateProfile', Infinity, () => new InvalidArchiveInputError('profiles.update', 'userId is not a salted id'))
      .failNext('recordAnalytics', 2, () => new RedisUnavailableError('HGETALL', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
    withLifecycleDeps(deps);
    const id = await start(callInput());
    // Act
    await host.durable.raiseEvent(id, CALL_DISCONNECTED_EVENT, { reason: 'caller-hung-up', at: new Date().toISOString() });
    const status = await host.durable.waitForCompletion(id);
    // Assess
    expect(status.runtimeStatus).toBe('Completed');
    expect(deps.ops()).toEqual(['finalize', 'archiveTranscript', 'updateProfile', 'recordAnalytics', 'recordAnalytics', 'recordAnalytics', 'appendAudit', 'cleanup']);
    expect(status.output).toMatchObject({
      profileUpdated: false,
      warnings: [expect.stringMatching(/^updateProfile: updateProfile failed and cannot succeed on a retry \(1 attempts\): Invalid input to profiles.update/)],
    });
  });

  it('fails fast on an input that is not a call', async () => {
    withLifecycleDeps(new RecordingDeps());
    const id = await host.durable.start('callLifecycle', { input: { callId: 'x' } });
    const status = await host.durable.waitForCompletion(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toContain('invalid callLifecycle input');
  });
});
