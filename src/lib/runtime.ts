import { getConfig, type AppConfig } from './config/index.js';
import { createRedis, type ManagedRedis } from './state/redis-client.js';
import { consoleLogger, type Logger } from './telemetry/logger.js';

/**
 * The composition root: real clients built once per process from the validated config and
 * shared by every function invocation. Clients are created on first use, so importing a function
 * module stays cheap (cold start) and a bad setting fails the first invocation with every offending
 * variable named.
 */
export interface Runtime {
  readonly config: AppConfig;
  readonly logger: Logger;
  redis(): Promise<ManagedRedis>;
  close(): Promise<void>;
}

export function createRuntime(config: AppConfig, logger: Logger = consoleLogger(config.logLevel)): Runtime {
  let redis: Promise<ManagedRedis> | undefined;
  return {
    config,
    logger,
    redis() {
      redis ??= createRedis(config.redis, { logger, connectionName: 'rtvoice-functions' }).catch((err: unknown) => {
        redis = undefined;
        throw err;
      });
      return redis;
    },
    async close() {
      const pending = redis;
      redis = undefined;
      if (pending) await (await pending).close();
    },
  };
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  current ??= createRuntime(getConfig());
  return current;
}

/** Replaces the process runtime (dev host and tests); returns the previous one so it can be closed. */
export function setRuntime(next: Runtime | undefined): Runtime | undefined {
  const previous = current;
  current = next;
  return previous;
}
