import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startEmbeddedCosmos } from '../emulators/cosmos/index.js';
import { openArchive, type Transcript } from '../src/lib/archive/index.js';
import { loadConfig } from '../src/lib/config/index.js';
import { LatencyRecorder, printTable, round } from './lib.js';

/**
 * `npm run bench -- archive [--iterations 20] [--endpoint URL --key KEY]`
 *
 * Time to archive a whole call (pages + header, the work of the lifecycle's archive activity) for a
 * 100-turn and a 2,000-turn call, the idempotent re-archive of the same call, and reading it back.
 * Request charge is the sum of `x-ms-request-charge` over the operation's responses. By default it
 * runs against the embedded server (in-process, over HTTP on loopback), which charges a flat 1 RU per
 * request, so its "RU" is really a request count; pass --endpoint/--key (or --endpoint alone for
 * managed identity) to measure a real account.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: { iterations: { type: 'string', default: '20' }, endpoint: { type: 'string' }, key: { type: 'string' }, database: { type: 'string' } },
  });
  const iterations = Math.max(1, Number(values.iterations));
  const embedded = values.endpoint ? undefined : await startEmbeddedCosmos();
  const config = loadConfig({
    APP_ENV: 'test',
    COSMOS_ENDPOINT: values.endpoint ?? embedded?.endpoint,
    COSMOS_KEY: values.endpoint ? values.key : embedded?.key,
    COSMOS_DATABASE: values.database ?? `bench${randomUUID().slice(0, 8)}`,
    ACS_CONNECTION_STRING: 'endpoint=http://127.0.0.1:1/;accesskey=' + Buffer.from('k'.repeat(32)).toString('base64'),
    ACS_CALLBACK_BASE_URL: 'http://127.0.0.1:7071',
    ACS_CALLBACK_SIGNING_KEY: 'x'.repeat(40),
    ACS_JWT_AUDIENCE: '00000000-0000-0000-0000-000000000000',
  });
  const archive = await openArchive(config);
  try {
    const cases = [];
    for (const turns of [100, 2000]) {
      const archiveMs = new LatencyRecorder();
      const rearchiveMs = new LatencyRecorder();
      const readMs = new LatencyRecorder();
      let pages = 0;
      let requestCharge = 0;
      let rearchiveCharge = 0;
      for (let i = -3; i < iterations; i += 1) {
        const transcript = makeTranscript(turns);
        let t = performance.now();
        const written = await archive.transcripts.archive(transcript);
        const aMs = performance.now() - t;
        t = performance.now();
        const again = await archive.transcripts.archive(transcript);
        const rMs = performance.now() - t;
        t = performance.now();
        const back = await archive.transcripts.read(transcript.callId);
        const readElapsedMs = performance.now() - t;
        if (back?.turns.length !== turns || again.written) throw new Error('archive round trip failed');
        if (i < 0) continue; // warm-up: JIT, sockets, container caches
        archiveMs.recordMs(aMs);
        rearchiveMs.recordMs(rMs);
        readMs.recordMs(readElapsedMs);
        pages = written.pageCount;
        requestCharge = written.requestCharge;
        rearchiveCharge = again.requestCharge;
      }
      cases.push({ turns, pages, requestChargeRu: round(requestCharge, 2), rearchiveChargeRu: round(rearchiveCharge, 2), archive: archiveMs.summary(), rearchive: rearchiveMs.summary(), read: readMs.summary() });
    }
    printTable(
      cases.map((c) => ({
        turns: c.turns,
        pages: c.pages,
        'archive p50 ms': c.archive.p50Ms,
        'archive p99 ms': c.archive.p99Ms,
        'RU': c.requestChargeRu,
        're-archive p50 ms': c.rearchive.p50Ms,
        're-archive RU': c.rearchiveChargeRu,
        'read p50 ms': c.read.p50Ms,
      })),
    );
    return {
      server: embedded ? 'embedded @vercel/cosmosdb-server over loopback HTTP' : values.endpoint,
      requestChargeNote: embedded ? 'the embedded server reports 1 RU for every request, so RU here counts requests; measure a real account for RU' : 'sum of x-ms-request-charge',
      iterations,
      cases,
    };
  } finally {
    await archive.close();
    await embedded?.close();
  }
}

function makeTranscript(turnCount: number): Transcript {
  const startMs = Date.UTC(2026, 10, 25, 9);
  // Realistic turn sizes: a spoken sentence or two, some metadata on agent turns.
  const turns = Array.from({ length: turnCount }, (_, i) => ({
    id: `t${i}`,
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `Turn ${i}: ${'I would like to check the status of my order and change the delivery address. '.repeat(1 + (i % 3))}`,
    at: new Date(startMs + i * 3000).toISOString(),
    ...(i % 2 === 1 ? { meta: { ttftMs: 180 + (i % 50), interrupted: i % 17 === 0 } } : {}),
  }));
  return {
    callId: `bench-${randomUUID()}`,
    caller: 'u_0123456789abcdef0123456789abcdef',
    startedAt: new Date(startMs).toISOString(),
    endedAt: new Date(startMs + turnCount * 3000).toISOString(),
    outcome: 'completed',
    summary: 'Order status and delivery address change.',
    turns,
  };
}
