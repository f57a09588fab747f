import { inject } from 'vitest';

/**
 * The suites that touch Redis run on two topologies, as two vitest projects: `single` (one
 * redis-server) and `cluster` (a local 3-master + 3-replica Redis Cluster, REDIS_CLUSTER=true).
 * `npm test` runs both; `REDIS_TOPOLOGY=cluster` (or `single`) runs one.
 */
export type RedisTopology = 'single' | 'cluster';

export function topologyOf(projectName: string): RedisTopology {
  return projectName === 'cluster' ? 'cluster' : 'single';
}

/** True inside a test file of the `cluster` project. */
export function onCluster(): boolean {
  return inject('redisTopology') === 'cluster';
}

/** The run's shared Redis as the app's settings name it. */
export function sharedRedisEnv(): Record<string, string> {
  return { REDIS_HOST: inject('redisHost'), REDIS_PORT: String(inject('redisPort')), REDIS_CLUSTER: String(onCluster()) };
}
