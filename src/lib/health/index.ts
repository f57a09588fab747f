import { redisOp, type ManagedRedis, type StoreHealth } from '../state/index.js';
import { evaluateBaselines, sampleRedisInfo, type MonitoringReport, type RedisInfoSample } from '../telemetry/baselines.js';
import type { LatencyRegistry } from '../telemetry/histograms.js';
import { APP_VERSION } from '../version.js';

export type DependencyStatus =
  | { readonly status: 'ok'; readonly latencyMs: number }
  | { readonly status: 'unreachable'; readonly error: string; readonly retryable: boolean };

export interface HealthReport {
  readonly status: 'ok' | 'degraded' | 'down';
  readonly version: string;
  readonly time: string;
  readonly dependencies: { readonly redis: DependencyStatus };
  /** The session store's tiering state (present when a store was given). */
  readonly state?: StoreHealth;
  /** The monitoring baselines (present when a latency registry was given). */
  readonly monitoring?: MonitoringReport;
}

export interface HealthOptions {
  /** The process's session store: its `ok | degraded | down`, breaker and journal depth join the report. */
  readonly store?: { health(): StoreHealth };
  /** Latency histograms to evaluate the monitoring baselines from (e.g. `processLatency`). */
  readonly latency?: LatencyRegistry;
}

/**
 * Pings Redis once; the report names the error class, never the error's text (it may hold hosts or
 * keys). With `options`, it adds the session store's state and the monitoring baselines (Redis
 * INFO memory/clients is sampled on the same connection).
 *
 * Status: `down` when the store says so (writes are being refused); `degraded` when Redis is
 * unreachable or the store serves from memory / holds journaled writes; otherwise `ok`. Baseline
 * warnings and alerts are reported in `monitoring` but do not change the status: they describe
 * the shared Redis, not this instance, and must not make a load balancer drop healthy instances.
 */
export async function checkHealth(
  getRedis: () => Promise<ManagedRedis>,
  now: () => Date = () => new Date(),
  options: HealthOptions = {},
): Promise<HealthReport> {
  const { status: redis, info } = await pingRedis(getRedis, options.latency !== undefined);
  const state = options.store?.health();
  let status: HealthReport['status'] = redis.status === 'ok' ? 'ok' : 'degraded';
  if (state?.status === 'degraded' && status === 'ok') status = 'degraded';
  if (state?.status === 'down') status = 'down';
  return {
    status,
    version: APP_VERSION,
    time: now().toISOString(),
    dependencies: { redis },
    ...(state ? { state } : {}),
    ...(options.latency ? { monitoring: evaluateBaselines({ latency: options.latency, ...(info ? { redis: info } : {}) }) } : {}),
  };
}

async function pingRedis(getRedis: () => Promise<ManagedRedis>, sampleInfo: boolean): Promise<{ status: DependencyStatus; info?: RedisInfoSample }> {
  const started = performance.now();
  let redis: ManagedRedis;
  try {
    redis = await getRedis();
    await redis.ready();
    await redisOp('ping', () => redis.client.ping());
  } catch (err) {
    const error = err instanceof Error ? err.name : 'Error';
    const retryable = (err as { retryable?: boolean }).retryable ?? false;
    return { status: { status: 'unreachable', error, retryable } };
  }
  const status: DependencyStatus = { status: 'ok', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  if (!sampleInfo) return { status };
  // INFO may be disabled (renamed) on a managed Redis: the baselines then say "not sampled".
  const info = await redisOp('info', () => sampleRedisInfo(redis.client)).catch(() => undefined);
  return info ? { status, info } : { status };
}
