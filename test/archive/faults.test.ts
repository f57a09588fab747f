import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveAbortedError, ArchiveError, ArchiveRejectedError, ArchiveUnavailableError, TranscriptRepository, headerId, openArchive } from '../../src/lib/archive/index.js';
import { FAST_RETRY, makeTranscript, startArchiveHarness, type ArchiveHarness } from './support/harness.js';

/**
 * Retry paths over the wire: the fault proxy answers 429 (with x-ms-retry-after-ms), 503 or drops the
 * connection in place of the embedded server, and the real @azure/cosmos client plus our own retry
 * have to get the archive through (or fail with a typed error).
 */
let h: ArchiveHarness;

beforeAll(async () => {
  h = await startArchiveHarness({ redis: true });
});
afterEach(() => {
  h.proxy.clearFaults();
  h.proxy.requests.reset();
});
afterAll(async () => {
  await h?.close();
});

const transcriptWrites = { method: 'POST', path: '/colls/transcripts/docs', operation: 'upsert' } as const;

describe('fault injection through the proxy', () => {
  it('survives a run of 429s: the SDK waits x-ms-retry-after-ms and retries', async () => {
    // Prepare
    const transcript = makeTranscript(1500);
    h.proxy.failNext(6, '429', { match: transcriptWrites, retryAfterMs: 5 });

    // Act
    const result = await h.archive.transcripts.archive(transcript);

    // Assess
    expect(h.proxy.requests.entries.filter((e) => e.fault === '429')).toHaveLength(6);
    expect(h.proxy.pendingFaults).toBe(0);
    expect(result.written).toBe(true);
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toEqual(transcript.turns);
  });

  it('survives a 503 on a write (the SDK does not retry writes on 503; our retry does)', async () => {
    // Prepare
    const transcript = makeTranscript(800);
    h.proxy.failNext(1, '503', { match: transcriptWrites });

    // Act
    await h.archive.transcripts.archive(transcript);

    // Assess
    expect(h.proxy.requests.count({ ...transcriptWrites })).toBe(2 + 1 + 1); // 2 pages + header + the faulted attempt
    expect(h.proxy.requests.entries.filter((e) => e.fault === '503')).toHaveLength(1);
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toHaveLength(800);
  });

  it('survives dropped connections on writes and reads', async () => {
    // Prepare
    const transcript = makeTranscript(1200);
    h.proxy.failNext(2, 'drop', { match: transcriptWrites });
    h.proxy.failNext(1, 'drop', { match: { method: 'GET', path: headerId(transcript.callId) }, skip: 1 });

    // Act
    await h.archive.transcripts.archive(transcript);
    const back = await h.archive.transcripts.read(transcript.callId);

    // Assess
    expect(h.proxy.requests.entries.filter((e) => e.fault === 'drop')).toHaveLength(3);
    expect(back?.turns).toHaveLength(1200);
  });

  it('survives a write that times out (no answer within the request timeout)', async () => {
    // Prepare: a client with a short request timeout over the same server
    const archive = await openArchive(h.config, { retry: FAST_RETRY, clientOptions: { requestTimeoutMs: 200 } });
    const transcript = makeTranscript(600);
    h.proxy.failNext(1, 'stall', { match: transcriptWrites });

    try {
      // Act
      await archive.transcripts.archive(transcript);

      // Assess
      expect(h.proxy.requests.entries.filter((e) => e.fault === 'stall')).toHaveLength(1);
      expect((await archive.transcripts.read(transcript.callId))?.turns).toHaveLength(600);
    } finally {
      await archive.close();
    }
  });

  it('stops retrying when the caller aborts, with a typed, non-retryable error', async () => {
    // Prepare: throttled for longer than the caller is willing to wait
    const transcript = makeTranscript(100);
    h.proxy.failNext(10_000, '429', { match: transcriptWrites, retryAfterMs: 20 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 100);

    // Act
    const failure = await h.archive.transcripts.archive(transcript, { signal: controller.signal }).catch((err: unknown) => err);

    // Assess
    expect(failure).toBeInstanceOf(ArchiveAbortedError);
    expect(failure).toMatchObject({ retryable: false });
    await expect(h.archive.transcripts.read(transcript.callId)).resolves.toBeUndefined();
  });

  it('survives 429s and a 503 on audit, analytics and profile writes', async () => {
    // Prepare
    const callId = makeTranscript(0).callId;
    h.proxy.failNext(3, '429', { match: { method: 'POST' } });
    h.proxy.failNext(1, '503', { match: { method: 'POST' } });

    // Act
    await h.archive.audit.append({ callId, actor: 'system:lifecycle', action: 'ended', at: '2026-11-25T09:00:00.000Z' }, { idempotencyKey: 'k1' });
    await h.archive.analytics.record({ callId, startedAt: '2026-11-25T09:00:00.000Z', endedAt: '2026-11-25T09:01:00.000Z', durationMs: 60_000, turns: 2, bargeIns: 0, outcome: 'completed', latency: {} });
    await h.archive.profiles.upsert({ userId: 'u_faults', displayName: 'F' });

    // Assess
    expect(h.proxy.pendingFaults).toBe(0);
    expect(await h.archive.audit.list(callId)).toHaveLength(1);
    expect(await h.archive.analytics.get(callId, '2026-11-25')).toMatchObject({ turns: 2 });
    expect(await h.archive.profiles.get('u_faults')).toMatchObject({ displayName: 'F' });
  });

  it('a write whose response is lost is retried without duplicating anything', async () => {
    // Prepare: the server applies the request, the proxy then closes the connection before the answer
    const callId = makeTranscript(0).callId;
    const transcript = makeTranscript(1100);
    h.proxy.failNext(1, 'lost-response', { match: { method: 'POST', path: '/colls/audit/docs' } });
    h.proxy.failNext(2, 'lost-response', { match: transcriptWrites });

    // Act
    const appended = await h.archive.audit.append({ callId, actor: 'system:lifecycle', action: 'answered', at: '2026-11-25T09:00:00.000Z' });
    await h.archive.transcripts.archive(transcript);

    // Assess: the audit retry met its own first write (409) instead of adding a second event
    expect(h.proxy.requests.entries.filter((e) => e.fault === 'lost-response')).toHaveLength(3);
    expect(appended.created).toBe(false);
    expect(await h.archive.audit.list(callId)).toHaveLength(1);
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toEqual(transcript.turns);
  });

  it('a permanent outage surfaces as a typed, retryable error, leaves no header, and a retry repairs it', async () => {
    // Prepare: three pages; two page writes get through, then every write fails with 503
    const transcript = makeTranscript(1400);
    h.proxy.failNext(1000, '503', { match: transcriptWrites, skip: 2 });

    // Act
    const failure = await h.archive.transcripts.archive(transcript).catch((err: unknown) => err);

    // Assess: typed and retryable, with the Cosmos error as cause
    expect(failure).toBeInstanceOf(ArchiveUnavailableError);
    expect(failure).toBeInstanceOf(ArchiveError);
    expect(failure).toMatchObject({ retryable: true, statusCode: 503, operation: expect.stringMatching(/^transcripts\.upsert/) });
    expect((failure as Error).cause).toMatchObject({ code: 503 });
    // partial state: some pages exist, the header does not, so readers see "not archived"
    h.proxy.clearFaults();
    const { resources: items } = await h.archive.containers.transcripts.items
      .query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.callId = @c', parameters: [{ name: '@c', value: transcript.callId }] }, { partitionKey: transcript.callId })
      .fetchAll();
    expect(items.length).toBeGreaterThan(0);
    expect(items.map((i) => i.id)).not.toContain(headerId(transcript.callId));
    await expect(h.archive.transcripts.read(transcript.callId)).resolves.toBeUndefined();

    // Act again: the outage is over, the activity retries
    const repaired = await h.archive.transcripts.archive(transcript);

    // Assess
    expect(repaired.written).toBe(true);
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toEqual(transcript.turns);
  });

  it('a request Cosmos DB rejects is not retried and is typed as not retryable', async () => {
    // Prepare: a repository over a container that was never created (404 on the first request)
    const container = h.archive.client.database(h.config.cosmos.database).container('missing');
    const repo = new TranscriptRepository(container, { retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 } });

    // Act
    const failure = await repo.archive(makeTranscript(3)).catch((err: unknown) => err);

    // Assess
    expect(failure).toBeInstanceOf(ArchiveRejectedError);
    expect(failure).toMatchObject({ retryable: false, statusCode: 404, operation: expect.stringMatching(/^transcripts\./) });
    // nothing was retried: every request to the missing container was sent once
    const routes = Object.entries(h.proxy.requests.byRoute()).filter(([route]) => route.includes('/colls/missing/docs'));
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.every(([, count]) => count === 1)).toBe(true);
  });
});
