import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { loadConfig } from '../../../src/lib/config/index.js';
import { RedisKeys } from '../../../src/lib/state/keys.js';
import { createRedis, type ManagedRedis } from '../../../src/lib/state/redis-client.js';
import { SessionStore, type SessionStoreOptions } from '../../../src/lib/state/session-store.js';
import { RelayLeases } from '../../../src/lib/state/relay-leases.js';
import { TurnFencing } from '../../../src/lib/state/turn-fencing.js';
import { LatencyRegistry } from '../../../src/lib/telemetry/histograms.js';
import { baseEnv, uniquePrefix } from '../../support/env.js';
import { onCluster } from '../../support/topology.js';

export interface StoreHandle {
  readonly store: SessionStore;
  /** Event claims and turn leases over {@link store}. */
  readonly fencing: TurnFencing;
  /** Call affinity, heartbeats and the live-media registry over {@link store}. */
  readonly leases: RelayLeases;
  readonly redis: ManagedRedis;
  readonly keys: RedisKeys;
  /** A plain client on the same Redis (cluster-aware on a cluster), for looking at what the store wrote. */
  readonly raw: Redis | Cluster;
  close(): Promise<void>;
}

export type OpenStoreOptions = SessionStoreOptions & { prefix?: string; commandTimeoutMs?: number; rawPort?: number; cluster?: boolean };

/** {@link openStore} on the run's shared Redis, a single node or a cluster depending on the project. */
export function openSharedStore(options: OpenStoreOptions = {}): Promise<StoreHandle> {
  return openStore(inject('redisPort'), { cluster: onCluster(), ...options });
}

/** A SessionStore on a private key prefix of the Redis at `port`, plus a raw client to inspect it. */
export async function openStore(port: number, options: OpenStoreOptions = {}): Promise<StoreHandle> {
  const config = loadConfig(
    baseEnv({
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(port),
      REDIS_CLUSTER: String(options.cluster ?? false),
      REDIS_COMMAND_TIMEOUT_MS: String(options.commandTimeoutMs ?? 250),
      REDIS_CONNECT_TIMEOUT_MS: '1000',
    }),
  );
  const keys = new RedisKeys(options.prefix ?? uniquePrefix(), 'test');
  const redis = await createRedis(config.redis);
  await redis.ready();
  const store = new SessionStore(redis.client, keys, { latency: new LatencyRegistry(), ...options });
  const raw = options.cluster
    ? new Cluster([{ host: '127.0.0.1', port: options.rawPort ?? port }], { lazyConnect: true, clusterRetryStrategy: () => 100 })
    : new Redis({ host: '127.0.0.1', port: options.rawPort ?? port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  raw.on('error', () => undefined);
  await raw.connect();
  return {
    store,
    fencing: new TurnFencing(store, options.logger),
    leases: new RelayLeases(store, options.logger),
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

/** Every key of a prefix with its TTL (seconds; -1 = none); on a cluster, SCAN runs on every master. */
export async function keysWithTtl(raw: Redis | Cluster, keys: RedisKeys): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const key of await scanAll(raw, `${keys.prefix}:${keys.env}:*`)) out.set(key, await raw.ttl(key));
  return out;
}

/** SCAN MATCH over the whole keyspace: one node's on a single Redis, every master's on a cluster. */
export async function scanAll(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found;
}
