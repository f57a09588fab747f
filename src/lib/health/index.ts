import type { ManagedRedis } from '../state/redis-client.js';
import { redisOp } from '../state/redis-client.js';
import { APP_VERSION } from '../version.js';

export type DependencyStatus =
  | { readonly status: 'ok'; readonly latencyMs: number }
  | { readonly status: 'unreachable'; readonly error: string; readonly retryable: boolean };

export interface HealthReport {
  readonly status: 'ok' | 'degraded' | 'down';
  readonly version: string;
  readonly time: string;
  readonly dependencies: { readonly redis: DependencyStatus };
}

/** Pings Redis once; the report names the error class, never the error's text (it may hold hosts or keys). */
export async function checkHealth(getRedis: () => Promise<ManagedRedis>, now: () => Date = () => new Date()): Promise<HealthReport> {
  const redis = await pingRedis(getRedis);
  return {
    status: redis.status === 'ok' ? 'ok' : 'degraded',
    version: APP_VERSION,
    time: now().toISOString(),
    dependencies: { redis },
  };
}

async function pingRedis(getRedis: () => Promise<ManagedRedis>): Promise<DependencyStatus> {
  const started = performance.now();
  try {
    const redis = await getRedis();
    await redis.ready();
    await redisOp('ping', () => redis.client.ping());
    return { status: 'ok', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (err) {
    const error = err instanceof Error ? err.name : 'Error';
    const retryable = (err as { retryable?: boolean }).retryable ?? false;
    return { status: 'unreachable', error, retryable };
  }
}
