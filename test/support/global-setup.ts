import type { TestProject } from 'vitest/node';
import { RedisCluster } from './redis-cluster.js';
import { requireRedisServer } from './redis-preflight.js';
import { RedisServer } from './redis-server.js';
import { topologyOf, type RedisTopology } from './topology.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisHost: string;
    redisPort: number;
    /** `cluster`: redisHost:redisPort is one node of a local 3-master Redis Cluster (REDIS_CLUSTER=true). */
    redisTopology: RedisTopology;
  }
}

/**
 * One private Redis for the whole project run: a single redis-server, or a local Redis Cluster for the
 * `cluster` project. Files that need to kill Redis start their own with RedisServer or RedisCluster.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  requireRedisServer();
  const topology = topologyOf(project.name);
  if (topology === 'cluster') {
    const cluster = await RedisCluster.start();
    const seed = cluster.nodes[0]!;
    project.provide('redisHost', seed.host);
    project.provide('redisPort', seed.port);
    project.provide('redisTopology', 'cluster');
    return () => cluster.dispose();
  }
  const server = await RedisServer.start();
  project.provide('redisHost', server.host);
  project.provide('redisPort', server.port);
  project.provide('redisTopology', 'single');
  return () => server.dispose();
}
