import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArchiveInputError, TranscriptIntegrityError, headerId, pageId } from '../../src/lib/archive/index.js';
import { makeTranscript, makeTurns, startArchiveHarness, type ArchiveHarness } from './support/harness.js';

let h: ArchiveHarness;

beforeAll(async () => {
  h = await startArchiveHarness();
});
afterAll(async () => {
  await h?.close();
});

async function itemIdsOfCall(callId: string): Promise<string[]> {
  const { resources } = await h.archive.containers.transcripts.items
    .query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.callId = @c', parameters: [{ name: '@c', value: callId }] }, { partitionKey: callId })
    .fetchAll();
  return resources.map((r) => r.id).sort();
}

describe('transcripts over the wire (embedded Cosmos server behind the proxy)', () => {
  it('archives and reads back a 5,000-turn transcript across several pages, in order', async () => {
    // Prepare
    const transcript = makeTranscript(5000);

    // Act
    const result = await h.archive.transcripts.archive(transcript);
    const back = await h.archive.transcripts.read(transcript.callId);

    // Assess
    expect(result).toMatchObject({ written: true, turnCount: 5000 });
    expect(result.pageCount).toBeGreaterThan(1);
    expect(back?.header).toMatchObject({ callId: transcript.callId, turnCount: 5000, pageCount: result.pageCount, outcome: 'completed', caller: transcript.caller });
    expect(back?.header.durationMs).toBe(Date.parse(transcript.endedAt) - Date.parse(transcript.startedAt));
    expect(back?.turns).toEqual(transcript.turns);
    const ids = await itemIdsOfCall(transcript.callId);
    expect(ids).toEqual([headerId(transcript.callId), ...Array.from({ length: result.pageCount }, (_, i) => pageId(transcript.callId, i))].sort());
  });

  it('keeps every page far below the 2 MB item limit for a long call with long turns', async () => {
    // Prepare: about two hours of talk, 2,400 turns of 1 KB each
    const transcript = makeTranscript(0, { turns: makeTurns(2400, { contentBytes: 1024 }) });

    // Act
    const result = await h.archive.transcripts.archive(transcript);

    // Assess
    const { resources: pages } = await h.archive.containers.transcripts.items
      .query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.callId = @c AND c.type = "transcript-page"', parameters: [{ name: '@c', value: transcript.callId }] }, { partitionKey: transcript.callId })
      .fetchAll();
    expect(pages).toHaveLength(result.pageCount);
    for (let i = 0; i < result.pageCount; i += 1) {
      const { resource } = await h.archive.containers.transcripts.item(pageId(transcript.callId, i), transcript.callId).read();
      expect(Buffer.byteLength(JSON.stringify(resource))).toBeLessThan(1024 * 1024);
    }
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toHaveLength(2400);
  });

  it('archiving the same call twice leaves one copy and writes nothing the second time', async () => {
    // Prepare
    const transcript = makeTranscript(1200);
    await h.archive.transcripts.archive(transcript);
    const idsAfterFirst = await itemIdsOfCall(transcript.callId);
    h.proxy.requests.reset();

    // Act
    const second = await h.archive.transcripts.archive(transcript);

    // Assess
    expect(second.written).toBe(false);
    expect(h.proxy.requests.count({ operation: 'upsert' })).toBe(0);
    expect(await itemIdsOfCall(transcript.callId)).toEqual(idsAfterFirst);
    expect((await h.archive.transcripts.read(transcript.callId))?.turns).toHaveLength(1200);
  });

  it('re-archiving a call with changed content replaces it and removes pages past the new end', async () => {
    // Prepare
    const long = makeTranscript(1600);
    await h.archive.transcripts.archive(long);
    const shorter = { ...long, turns: long.turns.slice(0, 300), outcome: 'transferred' };

    // Act
    const result = await h.archive.transcripts.archive(shorter);

    // Assess
    const back = await h.archive.transcripts.read(long.callId);
    expect(result).toMatchObject({ written: true, pageCount: 1, turnCount: 300 });
    expect(back?.header.outcome).toBe('transferred');
    expect(back?.turns).toEqual(shorter.turns);
    expect(await itemIdsOfCall(long.callId)).toEqual([headerId(long.callId), pageId(long.callId, 0)].sort());
  });

  it('reports a page that belongs to another version as an integrity error, retryable', async () => {
    // Prepare: a complete archive whose page 1 is then overwritten by a different version's page
    const transcript = makeTranscript(1100);
    await h.archive.transcripts.archive(transcript);
    const page = (await h.archive.containers.transcripts.item(pageId(transcript.callId, 1), transcript.callId).read()).resource;
    await h.archive.containers.transcripts.items.upsert({ ...page, contentHash: 'other-version' });

    // Act
    const reading = h.archive.transcripts.read(transcript.callId);

    // Assess
    await expect(reading).rejects.toBeInstanceOf(TranscriptIntegrityError);
    await expect(reading).rejects.toMatchObject({ retryable: true });
  });

  it('returns undefined for a call that was never archived', async () => {
    await expect(h.archive.transcripts.read('never-archived')).resolves.toBeUndefined();
  });

  it('archives a call with no turns', async () => {
    const transcript = makeTranscript(0, { turns: [], startedAt: '2026-11-25T09:00:00.000Z', endedAt: '2026-11-25T09:00:05.000Z' });
    await h.archive.transcripts.archive(transcript);
    const back = await h.archive.transcripts.read(transcript.callId);
    expect(back?.header).toMatchObject({ turnCount: 0, pageCount: 1, durationMs: 5000 });
    expect(back?.turns).toEqual([]);
  });

  it('refuses a raw phone number as caller and ids Cosmos DB cannot hold, before any request', async () => {
    // Prepare
    h.proxy.requests.reset();

    // Act
    const rawCaller = h.archive.transcripts.archive(makeTranscript(3, { caller: '+1 555 010 0123' }));
    const badId = h.archive.transcripts.archive(makeTranscript(3, { callId: 'a/b' }));

    // Assess
    await expect(rawCaller).rejects.toBeInstanceOf(InvalidArchiveInputError);
    await expect(rawCaller).rejects.not.toThrow(/555/);
    await expect(badId).rejects.toMatchObject({ name: 'InvalidArchiveInputError', retryable: false });
    expect(h.proxy.requests.total).toBe(0);
  });

  it('removes a transcript: it reads as absent and no item of the call is left', async () => {
    // Prepare
    const transcript = makeTranscript(700);
    await h.archive.transcripts.archive(transcript);

    // Act
    const removed = await h.archive.transcripts.remove(transcript.callId);

    // Assess
    expect(removed.deleted).toBe(true);
    await expect(h.archive.transcripts.read(transcript.callId)).resolves.toBeUndefined();
    expect(await itemIdsOfCall(transcript.callId)).toEqual([]);
  });

  it('creates the transcripts container with /callId and an index that leaves the turns out', async () => {
    const { resource } = await h.archive.containers.transcripts.read();
    expect(resource?.partitionKey?.paths).toEqual(['/callId']);
    expect(resource?.indexingPolicy?.excludedPaths).toEqual([{ path: '/*' }]);
    const included = resource?.indexingPolicy?.includedPaths?.map((p) => p.path) ?? [];
    expect(included).toContain('/callId/?');
    expect(included.some((p) => p.startsWith('/turns') || p.startsWith('/summary'))).toBe(false);
  });

  // Not tested here because the embedded server does not do it: indexing itself (it scans every item,
  // so an index policy has no effect on it), the 2 MB item limit (it stores items of any size) and
  // atomic transactional batch (the archive does not use batches: pages first, header last).
});
