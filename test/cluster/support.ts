import type { Cluster } from 'ioredis';
import { RedisUnavailableError } from '../../src/lib/state/errors.js';
import type { RedisCluster, ClusterNode } from '../support/redis-cluster.js';
import { openStore, randomId, type OpenStoreOptions, type StoreHandle } from '../state/support/store.js';

/** A SessionStore on a cluster of the test's own (every node a seed), and a raw cluster client. */
export function openClusterStore(cluster: RedisCluster, options: OpenStoreOptions = {}): Promise<StoreHandle> {
  return openStore(cluster.nodes[0]!.port, { cluster: true, commandTimeoutMs: 250, ...options });
}

/** `count` call ids with at least `perMaster` on every master, and which master serves each. */
export async function callsAcrossMasters(cluster: RedisCluster, keyOf: (callId: string) => string, count: number): Promise<{ callId: string; master: ClusterNode }[]> {
  const out: { callId: string; master: ClusterNode }[] = [];
  for (let i = 0; i < count; i++) {
    const callId = randomId();
    out.push({ callId, master: await cluster.masterOf(keyOf(callId)) });
  }
  return out;
}

/** Times an operation (ms), resolving with its outcome or the error it threw. */
export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await run();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

export function isUnavailable(error: unknown): boolean {
  return error instanceof RedisUnavailableError;
}

/** Every item of a list key, parsed as JSON turns. */
export async function turnsIn(raw: Cluster | import('ioredis').Redis, key: string): Promise<{ id: string; content: string }[]> {
  return (await raw.lrange(key, 0, -1)).map((s) => JSON.parse(s) as { id: string; content: string });
}
