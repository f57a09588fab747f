import { spawnSync } from 'node:child_process';
import { RedisServerMissingError, redisServerBinary } from '../../emulators/redis/server.js';

/**
 * Every Redis topology the suites run on is made of the machine's redis-server. Without it no suite
 * can run: say so in one line, with the install command, and stop, rather than let vitest print a
 * spawn ENOENT stack and then "No test files found".
 */
export function requireRedisServer(): void {
  const probe = spawnSync(redisServerBinary(), ['--version'], { stdio: 'ignore' });
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') return;
  process.stderr.write(`\nThe tests need redis-server: ${new RedisServerMissingError(redisServerBinary()).message}.\n`);
  process.exit(1);
}
