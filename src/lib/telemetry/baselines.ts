import { LATENCY, type LatencyRegistry } from './histograms.js';

export type BaselineLevel = 'ok' | 'warn' | 'alert' | 'unknown';

/**
 * The source document's monitoring baselines: below `target` is ok, above `alertAbove` is an alert,
 * in between a warning.
 */
export const MONITORING_BASELINES = {
  redisLatencyP99: { unit: 'ms', target: 5, alertAbove: 10, description: 'Redis round trip, p99' },
  persistenceP99: { unit: 'ms', target: 10, alertAbove: 50, description: 'memory-to-Redis persistence, p99' },
  redisMemory: { unit: '%', target: 70, alertAbove: 80, description: 'Redis used_memory / maxmemory' },
  poolUtilisation: { unit: '%', target: 80, alertAbove: 90, description: 'Redis connected_clients / maxclients' },
} as const;

export type BaselineName = keyof typeof MONITORING_BASELINES;

export interface BaselineResult {
  readonly metric: BaselineName;
  readonly level: BaselineLevel;
  /** Undefined when not measurable (no samples yet, maxmemory unset). */
  readonly value: number | undefined;
  readonly unit: 'ms' | '%';
  readonly target: number;
  readonly alertAbove: number;
  readonly note?: string;
}

export interface MonitoringReport {
  /** The worst level among the measurable metrics. */
  readonly status: 'ok' | 'warn' | 'alert';
  readonly metrics: readonly BaselineResult[];
}

/** What `INFO memory` and `INFO clients` say, reduced to the four numbers the baselines use. */
export interface RedisInfoSample {
  readonly usedMemoryBytes: number;
  /** 0 = no limit configured. */
  readonly maxMemoryBytes: number;
  readonly connectedClients: number;
  readonly maxClients: number;
}

/** The one method of a Redis client the sampler needs (ioredis' `info`). */
export interface InfoSource {
  info(section: string): Promise<string>;
}

/** Reads `INFO memory` and `INFO clients` (two small replies, sent together). */
export async function sampleRedisInfo(client: InfoSource): Promise<RedisInfoSample> {
  const [memory, clients] = await Promise.all([client.info('memory'), client.info('clients')]);
  const memoryFields = parseInfo(memory);
  const clientFields = parseInfo(clients);
  return {
    usedMemoryBytes: Number(memoryFields.used_memory ?? 0),
    maxMemoryBytes: Number(memoryFields.maxmemory ?? 0),
    connectedClients: Number(clientFields.connected_clients ?? 0),
    maxClients: Number(clientFields.maxclients ?? 0),
  };
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf(':');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

export function levelOf(name: BaselineName, value: number | undefined): BaselineLevel {
  if (value === undefined || !Number.isFinite(value)) return 'unknown';
  const b = MONITORING_BASELINES[name];
  if (value > b.alertAbove) return 'alert';
  if (value >= b.target) return 'warn';
  return 'ok';
}

/**
 * Evaluates the baselines from the latency histograms and a Redis INFO sample.
 *
 * @example
 * evaluateBaselines({ latency: processLatency, redis: await sampleRedisInfo(client) }).status; // 'ok'
 */
export function evaluateBaselines(input: { latency: LatencyRegistry; redis?: RedisInfoSample }): MonitoringReport {
  const metrics: BaselineResult[] = [];
  const add = (metric: BaselineName, value: number | undefined, note?: string) => {
    const b = MONITORING_BASELINES[metric];
    metrics.push({ metric, level: levelOf(metric, value), value: value === undefined ? undefined : Math.round(value * 100) / 100, unit: b.unit, target: b.target, alertAbove: b.alertAbove, ...(note ? { note } : {}) });
  };
  const redisP99 = input.latency.summary(LATENCY.redis)?.p99Ms;
  add('redisLatencyP99', redisP99, redisP99 === undefined ? 'no Redis operations recorded yet' : undefined);
  const persistP99 = input.latency.summary(LATENCY.persistence)?.p99Ms;
  add('persistenceP99', persistP99, persistP99 === undefined ? 'no writes persisted yet' : undefined);
  const r = input.redis;
  if (!r) {
    add('redisMemory', undefined, 'Redis not sampled');
    add('poolUtilisation', undefined, 'Redis not sampled');
  } else {
    add('redisMemory', r.maxMemoryBytes > 0 ? (100 * r.usedMemoryBytes) / r.maxMemoryBytes : undefined, r.maxMemoryBytes > 0 ? undefined : 'maxmemory is not set');
    add('poolUtilisation', r.maxClients > 0 ? (100 * r.connectedClients) / r.maxClients : undefined, r.maxClients > 0 ? undefined : 'maxclients not reported');
  }
  const rank = { ok: 0, unknown: 0, warn: 1, alert: 2 } as const;
  const worst = metrics.reduce((w, m) => (rank[m.level] > rank[w] ? (m.level as 'warn' | 'alert') : w), 'ok' as 'ok' | 'warn' | 'alert');
  return { status: worst, metrics };
}
