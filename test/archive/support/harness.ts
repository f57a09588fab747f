import { randomUUID } from 'node:crypto';
import { startCosmosFaultProxy, startEmbeddedCosmos, type CosmosFaultProxy, type EmbeddedCosmos } from '../../../emulators/cosmos/index.js';
import { openArchive, type Archive, type ArchiveRetryPolicy, type OpenArchiveOptions, type Transcript, type TranscriptTurn } from '../../../src/lib/archive/index.js';
import type { AppConfig } from '../../../src/lib/config/index.js';
import { createRedis, type ManagedRedis } from '../../../src/lib/state/redis-client.js';
import { testConfig } from '../../support/env.js';

/** Short back-offs so fault tests stay fast; the shape of the policy is the production one. */
export const FAST_RETRY: ArchiveRetryPolicy = { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 };

export interface ArchiveHarness {
  readonly cosmos: EmbeddedCosmos;
  /** Every request of the archive passes through here. */
  readonly proxy: CosmosFaultProxy;
  readonly config: AppConfig;
  readonly archive: Archive;
  readonly redis: ManagedRedis | undefined;
  close(): Promise<void>;
}

/**
 * Embedded Cosmos server ← fault proxy ← archive (real @azure/cosmos client), plus the run's private
 * Redis for the profile cache when asked. One per test file; every file gets its own server.
 */
export async function startArchiveHarness(options: { redis?: boolean; archive?: OpenArchiveOptions } = {}): Promise<ArchiveHarness> {
  const cosmos = await startEmbeddedCosmos();
  const proxy = await startCosmosFaultProxy(cosmos.endpoint);
  const config = testConfig({ COSMOS_ENDPOINT: proxy.endpoint, COSMOS_KEY: cosmos.key, COSMOS_DATABASE: `db${randomUUID().slice(0, 8)}`, AUDIT_TTL_DAYS: '30' });
  const redis = options.redis ? await createRedis(config.redis) : undefined;
  await redis?.ready();
  const archive = await openArchive(config, { retry: FAST_RETRY, ...(redis ? { redis: redis.client } : {}), ...options.archive });
  return {
    cosmos,
    proxy,
    config,
    archive,
    redis,
    async close() {
      await archive.close();
      await redis?.close();
      await proxy.close();
      await cosmos.close();
    },
  };
}

let callCounter = 0;

export function newCallId(): string {
  callCounter += 1;
  return `call-${randomUUID().slice(0, 8)}-${callCounter}`;
}

export function makeTurns(count: number, options: { contentBytes?: number; startMs?: number } = {}): TranscriptTurn[] {
  const startMs = options.startMs ?? Date.UTC(2026, 10, 25, 9, 0, 0);
  const filler = 'x'.repeat(Math.max(0, (options.contentBytes ?? 40) - 20));
  return Array.from({ length: count }, (_, i) => ({
    id: `t${i}`,
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `turn ${i} ${filler}`,
    at: new Date(startMs + i * 1500).toISOString(),
    ...(i % 10 === 0 ? { meta: { latencyMs: i % 300, interrupted: i % 20 === 0 } } : {}),
  }));
}

export function makeTranscript(turnCount: number, overrides: Partial<Transcript> = {}): Transcript {
  const turns = overrides.turns ?? makeTurns(turnCount);
  const startedAt = turns[0]?.at ?? new Date(Date.UTC(2026, 10, 25, 9)).toISOString();
  return {
    callId: newCallId(),
    caller: 'u_0123456789abcdef0123456789abcdef',
    startedAt,
    endedAt: new Date(Date.parse(turns.at(-1)?.at ?? startedAt) + 2000).toISOString(),
    outcome: 'completed',
    summary: 'Caller asked about their order; resolved.',
    turns,
    ...overrides,
  };
}
