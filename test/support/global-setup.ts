import type { TestProject } from 'vitest/node';
import { RedisServer } from './redis-server.js';
import { requireRedisServer } from './redis-preflight.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisHost: string;
    redisPort: number;
  }
}

/** One private Redis for the whole run; files that need to kill Redis start their own with RedisServer. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  requireRedisServer();
  const server = await RedisServer.start();
  project.provide('redisHost', server.host);
  project.provide('redisPort', server.port);
  return async () => {
    await server.dispose();
  };
}
