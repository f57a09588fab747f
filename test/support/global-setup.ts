import type { TestProject } from 'vitest/node';
import { RedisServer, RedisServerMissingError } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisHost: string;
    redisPort: number;
  }
}

/** One private Redis for the whole run; files that need to kill Redis start their own with RedisServer. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startRedisOrExit();
  project.provide('redisHost', server.host);
  project.provide('redisPort', server.port);
  return async () => {
    await server.dispose();
  };
}

/**
 * Without redis-server no suite can run: say so in one line and stop, rather than let vitest report a
 * stack trace and then "No test files found".
 */
async function startRedisOrExit(): Promise<RedisServer> {
  try {
    return await RedisServer.start();
  } catch (error) {
    if (!(error instanceof RedisServerMissingError)) throw error;
    process.stderr.write(`\nThe tests need redis-server: ${error.message}.\n`);
    process.exit(1);
  }
}
