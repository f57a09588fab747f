/**
 * The product's metrics, over the OpenTelemetry API. Instruments are built against the meter provider
 * registered when they are first used after a start (the API's no-op meter before that would stay
 * no-op), so recording before or without a start costs one comparison.
 *
 * Latencies are the caller's: a callback turn runs from the ACS event's own `time` to ACS accepting
 * the play or recognize request; time to first audio runs from the end of the caller's speech to the
 * first agent audio frame sent. Stages (Redis, model, ACS, VAD…) are recorded beside them.
 */

import { metrics, type Attributes, type Counter, type Histogram, type Meter, type ObservableResult } from '@opentelemetry/api';
import { APP_VERSION } from '../version.js';
import { evaluateBaselines, type RedisInfoSample } from './baselines.js';
import { LATENCY, processLatency, type LatencyRegistry } from './histograms.js';
import { ATTR, TRACER_NAME } from './tracing.js';

export const METRIC = {
  turnLatency: 'rtvoice.turn.latency',
  firstAudio: 'rtvoice.turn.first_audio',
  stage: 'rtvoice.turn.stage.duration',
  bargeIns: 'rtvoice.barge_ins',
  webPubSubMessages: 'rtvoice.webpubsub.messages',
  cosmosRequestCharge: 'rtvoice.cosmos.request_charge',
  redisDuration: 'rtvoice.redis.duration',
  persistenceDuration: 'rtvoice.state.persistence.duration',
  redisLatencyP99: 'rtvoice.redis.latency.p99',
  persistenceP99: 'rtvoice.state.persistence.p99',
  redisMemory: 'rtvoice.redis.memory.utilization',
  poolUtilisation: 'rtvoice.redis.pool.utilization',
  journalDepth: 'rtvoice.state.journal.depth',
  breakerState: 'rtvoice.state.breaker.state',
  archiveGaveUp: 'rtvoice.lifecycle.archive_gave_up',
} as const;

/** Latency histogram names in {@link processLatency} (the console and `/api/health` read them there). */
export const STAGE_LATENCY = {
  turn: 'turn',
  firstAudio: 'first_audio',
  stage: (stage: string) => `stage.${stage}`,
} as const;

/** Breaker states as gauge values. */
export const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** Bucket bounds for call latencies (ms): voice latency matters between 100 ms and a few seconds. */
const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000];
const REDIS_BUCKETS_MS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000];

interface Instruments {
  readonly turnLatency: Histogram;
  readonly firstAudio: Histogram;
  readonly stage: Histogram;
  readonly bargeIns: Counter;
  readonly webPubSubMessages: Counter;
  readonly cosmosRequestCharge: Counter;
  readonly archiveGaveUp: Counter;
  readonly redisDuration: Histogram;
  readonly persistenceDuration: Histogram;
}

let built: { provider: unknown; instruments: Instruments } | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (built?.provider === provider) return built.instruments;
  const meter = provider.getMeter(TRACER_NAME, APP_VERSION);
  const latency = (name: string, description: string, boundaries = LATENCY_BUCKETS_MS) =>
    meter.createHistogram(name, { unit: 'ms', description, advice: { explicitBucketBoundaries: boundaries } });
  const instrumentSet: Instruments = {
    turnLatency: latency(METRIC.turnLatency, 'Callback turn as the caller waits: ACS event time to the play/recognize request accepted by ACS'),
    firstAudio: latency(METRIC.firstAudio, 'Relay turn as the caller waits: end of the caller\'s speech to the first agent audio frame sent'),
    stage: latency(METRIC.stage, 'Component time within a turn, by rtvoice.stage'),
    bargeIns: meter.createCounter(METRIC.bargeIns, { description: 'Caller speech over agent audio that stopped the audio' }),
    webPubSubMessages: meter.createCounter(METRIC.webPubSubMessages, { description: 'Web PubSub messages sent and received by this process, by rtvoice.direction' }),
    cosmosRequestCharge: meter.createCounter(METRIC.cosmosRequestCharge, { unit: 'RU', description: 'Cosmos DB request units, by rtvoice.operation' }),
    archiveGaveUp: meter.createCounter(METRIC.archiveGaveUp, { description: 'Calls not archived: the lifecycle gave up at its retry horizon, by rtvoice.operation (the step)' }),
    redisDuration: latency(METRIC.redisDuration, 'Redis round trip', REDIS_BUCKETS_MS),
    persistenceDuration: latency(METRIC.persistenceDuration, 'Memory-to-Redis persistence of a write', REDIS_BUCKETS_MS),
  };
  registerGauges(meter);
  built = { provider, instruments: instrumentSet };
  return instrumentSet;
}

/** Builds the instruments and registers the gauges against the provider now registered (after a start). */
export function activateMetrics(): void {
  instruments();
}

/** Per-stage counts in the histograms' own buckets, for this process's console (exact, not estimated). */
const distributions = new Map<string, number[]>();

function count(name: string, durationMs: number): void {
  let counts = distributions.get(name);
  if (!counts) distributions.set(name, (counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0)));
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && durationMs > LATENCY_BUCKETS_MS[i]!) i += 1;
  counts[i]! += 1;
}

export interface LatencyDistribution {
  /** Upper bounds (ms) of every bucket but the last, which is open. */
  readonly boundsMs: readonly number[];
  /** Counts by histogram name (`turn`, `first_audio`, `stage.<stage>`). */
  readonly counts: Readonly<Record<string, readonly number[]>>;
}

export function latencyDistribution(): LatencyDistribution {
  return { boundsMs: LATENCY_BUCKETS_MS, counts: Object.fromEntries([...distributions].map(([name, counts]) => [name, [...counts]])) };
}

/** The four durations and counts of a turn, recorded in OpenTelemetry and the process histograms. */
export function recordTurnLatency(durationMs: number, attributes: Attributes): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) return;
  instruments().turnLatency.record(durationMs, attributes);
  processLatency.record(STAGE_LATENCY.turn, durationMs);
  count(STAGE_LATENCY.turn, durationMs);
}

export function recordFirstAudio(durationMs: number, attributes: Attributes): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) return;
  instruments().firstAudio.record(durationMs, attributes);
  processLatency.record(STAGE_LATENCY.firstAudio, durationMs);
  count(STAGE_LATENCY.firstAudio, durationMs);
}

export function recordStage(stage: string, durationMs: number, attributes: Attributes = {}): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) return;
  instruments().stage.record(durationMs, { ...attributes, [ATTR.stage]: stage });
  processLatency.record(STAGE_LATENCY.stage(stage), durationMs);
  count(STAGE_LATENCY.stage(stage), durationMs);
}

export function countBargeIn(attributes: Attributes = {}): void {
  instruments().bargeIns.add(1, attributes);
}

export function countWebPubSubMessages(direction: 'in' | 'out', count = 1, attributes: Attributes = {}): void {
  instruments().webPubSubMessages.add(count, { ...attributes, [ATTR.direction]: direction });
}

/** A call whose lifecycle gave up archiving it at the retry horizon (`step`: finalize or archive). */
export function countArchiveGaveUp(step: string): void {
  instruments().archiveGaveUp.add(1, { [ATTR.operation]: step });
}

export function recordCosmosCharge(requestUnits: number, operation: string): void {
  if (!Number.isFinite(requestUnits) || requestUnits <= 0) return;
  instruments().cosmosRequestCharge.add(requestUnits, { [ATTR.operation]: operation });
}

/** What a session store exposes for the gauges (`SessionStore.health()` fits). */
export interface StateSource {
  health(): {
    readonly journalDepth: number;
    readonly breaker: { readonly state: string };
    /** Per-shard breakers, where the store keeps them. */
    readonly shards?: ReadonlyArray<{ readonly shard: string; readonly breaker: { readonly state: string }; readonly journalDepth?: number }>;
  };
  /** Redis INFO memory/clients for the memory and pool baselines; undefined when it cannot be had. */
  redisInfo?(): Promise<RedisInfoSample | undefined>;
}

const stateSources = new Map<string, StateSource>();

/**
 * Adds a store to the journal-depth and breaker gauges (and, with `redisInfo`, the memory and pool
 * baselines) under `name` (`functions`, `relay`…). Returns the removal.
 */
export function registerStateSource(name: string, source: StateSource): () => void {
  stateSources.set(name, source);
  return () => {
    if (stateSources.get(name) === source) stateSources.delete(name);
  };
}

function registerGauges(meter: Meter): void {
  const latency: LatencyRegistry = processLatency;
  meter.createObservableGauge(METRIC.redisLatencyP99, { unit: 'ms', description: 'Redis round trip p99 since start (baseline < 5 ms, alert > 10 ms)' }).addCallback((result) => {
    const p99 = latency.summary(LATENCY.redis)?.p99Ms;
    if (p99 !== undefined) result.observe(p99);
  });
  meter.createObservableGauge(METRIC.persistenceP99, { unit: 'ms', description: 'Memory-to-Redis persistence p99 since start (baseline < 10 ms, alert > 50 ms)' }).addCallback((result) => {
    const p99 = latency.summary(LATENCY.persistence)?.p99Ms;
    if (p99 !== undefined) result.observe(p99);
  });
  const memory = meter.createObservableGauge(METRIC.redisMemory, { unit: '%', description: 'Redis used_memory / maxmemory (baseline < 70 %, alert > 80 %)' });
  const pool = meter.createObservableGauge(METRIC.poolUtilisation, { unit: '%', description: 'Redis connected_clients / maxclients (baseline < 80 %, alert > 90 %)' });
  meter.addBatchObservableCallback(
    async (result) => {
      const source = [...stateSources.values()].find((s) => s.redisInfo);
      const info = await source?.redisInfo?.().catch(() => undefined);
      if (!info) return;
      for (const metric of evaluateBaselines({ latency, redis: info }).metrics) {
        if (metric.value === undefined) continue;
        if (metric.metric === 'redisMemory') result.observe(memory, metric.value);
        if (metric.metric === 'poolUtilisation') result.observe(pool, metric.value);
      }
    },
    [memory, pool],
  );
  meter.createObservableGauge(METRIC.journalDepth, { description: 'Writes journaled while Redis is unavailable, by store' }).addCallback((result) => observeStores(result, 'journal'));
  meter.createObservableGauge(METRIC.breakerState, { description: 'Redis circuit breaker per shard: 0 closed, 1 half-open, 2 open' }).addCallback((result) => observeStores(result, 'breaker'));
}

function observeStores(result: ObservableResult, what: 'journal' | 'breaker'): void {
  for (const [store, source] of stateSources) {
    let health;
    try {
      health = source.health();
    } catch {
      continue;
    }
    // One breaker for the whole store until the store keeps one per shard.
    const shards = health.shards ?? [{ shard: 'all', breaker: health.breaker, journalDepth: health.journalDepth }];
    for (const shard of shards) {
      const attributes = { 'rtvoice.store': store, [ATTR.shard]: shard.shard };
      if (what === 'journal') result.observe(shard.journalDepth ?? health.journalDepth, attributes);
      else result.observe(BREAKER_VALUE[shard.breaker.state as keyof typeof BREAKER_VALUE] ?? -1, attributes);
    }
  }
}

/** Forwards the state layer's Redis and persistence timings (the process histograms) to OpenTelemetry. */
export function bridgeProcessLatency(registry: LatencyRegistry = processLatency): () => void {
  registry.observe((name, durationMs) => {
    if (name === LATENCY.redis) instruments().redisDuration.record(durationMs);
    else if (name === LATENCY.persistence) instruments().persistenceDuration.record(durationMs);
  });
  return () => registry.observe(undefined);
}
