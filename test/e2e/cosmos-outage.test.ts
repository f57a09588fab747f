import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * Cosmos DB is down for ten minutes when a call ends. Durable time runs a hundred times faster than
 * the wall clock here (the dev host's time scale), so ten minutes of the lifecycle's time, timers and
 * retry horizon included, pass in 6 s; the outage is held for that long on the same clock. (Activities
 * run in real time, so each attempt also counts a hundred times its length: a faster scale would let
 * a few slow attempts span the outage on their own.) The call must be archived once the outage is
 * over, exactly once, and every failed attempt must be logged.
 */

const TIME_SCALE = 0.01;
const OUTAGE_DURABLE_MS = 10 * 60_000;
const transcriptRequests = { path: '/colls/transcripts/' };

const warnings: string[] = [];
const captured: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
  error: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
};

let stack: OfflineStack;

beforeAll(async () => {
  // The call lasts about a second of real time, some 2 minutes of durable time: the max duration stays far off.
  stack = await startE2eStack({ cosmosFaults: true, timeScale: TIME_SCALE, logger: captured, env: { LOG_LEVEL: 'warn', MAX_CALL_DURATION_SECONDS: '14400' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('a Cosmos DB outage of ten minutes when a call ends', () => {
  it('is survived: the call is archived exactly once after it, with every failed attempt logged', { timeout: 40_000 }, async () => {
    // Prepare: every transcript request fails with 503 from the first one on.
    const proxy = stack.cosmosProxy!;
    proxy.failNext(1_000_000, '503', { match: transcriptRequests });

    // Act: the call ends; the outage lasts ten durable minutes from the first refused archive write.
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8401), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'What are your opening hours?' }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await vi.waitFor(() => expect(proxy.requests.entries.some((r) => r.fault === '503')).toBe(true), { timeout: 10_000, interval: 5 });
    await sleep(OUTAGE_DURABLE_MS * TIME_SCALE);
    proxy.clearFaults();
    const { status, output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: archived once, audited once, Redis cleaned; the outage really outlasted the old 30 s of retries.
    const refused = proxy.requests.entries.filter((r) => r.fault === '503').length;
    expect(refused).toBeGreaterThan(5);
    expect(output).toMatchObject({ turnsArchived: 3, warnings: [] });
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    expect((await archive.transcripts.read(callId))?.turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant']);
    expect((await archive.audit.list(callId)).map((a) => a.action)).toEqual(['answered', 'ended']);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
    const durableMs = Date.parse(status.lastUpdatedTime) - Date.parse(status.createdTime);
    expect(durableMs).toBeGreaterThan(OUTAGE_DURABLE_MS);
    const retried = warnings.filter((w) => w.includes('lifecycle step failed; retrying') && w.includes('archiveTranscript'));
    // More than the five attempts of the former activity retry policy, each logged with its attempt.
    expect(retried.length).toBeGreaterThan(5);
    expect(retried.map((w) => Number(/attempt: (\d+)/.exec(w)?.[1]))).toEqual(retried.map((_, i) => i + 1));
    expect(retried[0]).toMatch(/cause: 'ArchiveUnavailableError/);
    // Before every wait the call's Redis TTLs were slid back, so its state outlives the outage.
    const kept = stack.host.durable.history(call.callConnectionId!).filter((e) => e.EventType === 4 && (e as { Name?: string }).Name === 'keepCallState');
    expect(kept.length).toBe(retried.length);
  });
});
