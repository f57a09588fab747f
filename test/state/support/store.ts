import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../src/lib/config/index.js';
import { RedisKeys } from '../../../src/lib/state/keys.js';
import { createRedis, type ManagedRedis } from '../../../src/lib/state/redis-client.js';
import { SessionStore, type SessionStoreOptions } from '../../../src/lib/state/session-store.js';
import { LatencyRegistry } from '../../../src/lib/telemetry/histograms.js';
import { baseEnv, uniquePrefix } from '../../support/env.js';

export interface StoreHandle {
  readonly store: SessionStore;
  readonly redis: ManagedRedis;
  readonly keys: RedisKeys;
  /** A plain client on the same Redis, for looking at what the store wrote. */
  readonly raw: Redis;
  close(): Promise<void>;
}

/** A SessionStore on a private key prefix of the Redis at `port`, plus a raw client to inspect it. */
export async function openStore(
  port: number,
  options: SessionStoreOptions & { prefix?: string; commandTimeoutMs?: number; rawPort?: number } = {},
): Promise<StoreHandle> {
  const config = loadConfig(
    baseEnv({
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(port),
      REDIS_COMMAND_TIMEOUT_MS: String(options.commandTimeoutMs ?? 250),
      REDIS_CONNECT_TIMEOUT_MS: '1000',
    }),
  );
  const keys = new RedisKeys(options.prefix ?? uniquePrefix(), 'test');
  const redis = await createRedis(config.redis);
  await redis.ready();
  const store = new SessionStore(redis.client, keys, { latency: new LatencyRegistry(), ...options });
  const raw = new Redis({ host: '127.0.0.1', port: options.rawPort ?? port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  raw.on('error', () => undefined);
  await raw.connect();
  return {
    store,
    redis,
    keys,
    raw,
    async close() {
      await store.close();
      await redis.close();
      raw.disconnect();
    },
  };
}

export function randomId(prefix = 'c'): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

/** Every key of a prefix with its TTL (seconds; -1 = none). */
export async function keysWithTtl(raw: Redis, keys: RedisKeys): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${keys.prefix}:${keys.env}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of batch) out.set(key, await raw.ttl(key));
  } while (cursor !== '0');
  return out;
}
