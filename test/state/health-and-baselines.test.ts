import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/lib/health/index.js';
import { createRedis } from '../../src/lib/state/redis-client.js';
import { evaluateBaselines, levelOf, parseInfo, sampleRedisInfo } from '../../src/lib/telemetry/baselines.js';
import { LatencyRegistry } from '../../src/lib/telemetry/histograms.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { baseEnv } from '../support/env.js';
import { RedisServer } from '../support/redis-server.js';
import { openStore, randomId } from './support/store.js';

describe('monitoring baselines', () => {
  it.each([
    ['redisLatencyP99', 4.9, 'ok'],
    ['redisLatencyP99', 5, 'warn'],
    ['redisLatencyP99', 10, 'warn'],
    ['redisLatencyP99', 10.01, 'alert'],
    ['persistenceP99', 9.99, 'ok'],
    ['persistenceP99', 50.5, 'alert'],
    ['redisMemory', 69, 'ok'],
    ['redisMemory', 75, 'warn'],
    ['redisMemory', 81, 'alert'],
    ['poolUtilisation', 79, 'ok'],
    ['poolUtilisation', 85, 'warn'],
    ['poolUtilisation', 91, 'alert'],
    ['poolUtilisation', undefined, 'unknown'],
  ] as const)('%s at %s is %s', (metric, value, level) => {
    expect(levelOf(metric, value)).toBe(level);
  });

  it('evaluates latency histograms and a Redis sample into the worst level', () => {
    // Prepare
    const latency = new LatencyRegistry();
    for (let i = 0; i < 1000; i++) latency.record('redis', 0.3);
    for (let i = 0; i < 1000; i++) latency.record('persistence', i < 980 ? 1 : 30); // p99 = 30 ms: warn
    // Act
    const report = evaluateBaselines({ latency, redis: { usedMemoryBytes: 850, maxMemoryBytes: 1000, connectedClients: 10, maxClients: 10_000 } });
    // Assess
    expect(report.status).toBe('alert');
    expect(Object.fromEntries(report.metrics.map((m) => [m.metric, m.level]))).toEqual({ redisLatencyP99: 'ok', persistenceP99: 'warn', redisMemory: 'alert', poolUtilisation: 'ok' });
    const value = (name: string) => report.metrics.find((m) => m.metric === name)?.value ?? Number.NaN;
    // HDR histograms keep 3 significant digits.
    expect(value('redisLatencyP99')).toBeCloseTo(0.3, 2);
    expect(value('persistenceP99')).toBeCloseTo(30, 0);
    expect(value('redisMemory')).toBe(85);
    expect(value('poolUtilisation')).toBe(0.1);
  });

  it('says what it could not measure instead of guessing', () => {
    const report = evaluateBaselines({ latency: new LatencyRegistry(), redis: { usedMemoryBytes: 5, maxMemoryBytes: 0, connectedClients: 1, maxClients: 100 } });
    expect(report.status).toBe('ok');
    expect(report.metrics.find((m) => m.metric === 'redisMemory')).toMatchObject({ level: 'unknown', note: 'maxmemory is not set' });
    expect(report.metrics.find((m) => m.metric === 'redisLatencyP99')).toMatchObject({ level: 'unknown' });
  });

  it('parses INFO text', () => {
    expect(parseInfo('# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\n')).toEqual({ used_memory: '1024', maxmemory: '0' });
  });
});

describe('GET /api/health with the session store and baselines', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('reports Redis memory against maxmemory and client usage from a live INFO', async () => {
    // Prepare
    const h = await openStore(server.port);
    try {
      const used = Number(parseInfo(await h.raw.info('memory')).used_memory);
      await h.raw.config('SET', 'maxmemory', String(Math.round(used / 0.75)));
      // Act
      const sample = await sampleRedisInfo(h.raw);
      // Assess
      expect(sample.connectedClients).toBeGreaterThanOrEqual(2);
      expect(sample.maxClients).toBeGreaterThan(0);
      expect(levelOf('redisMemory', (100 * sample.usedMemoryBytes) / sample.maxMemoryBytes)).not.toBe('ok');
    } finally {
      await h.raw.config('SET', 'maxmemory', '0');
      await h.close();
    }
  });

  it('includes the store state and turns degraded while the store journals, ok after recovery', async () => {
    // Prepare
    const h = await openStore(server.port, { breaker: { failureThreshold: 1, probeIntervalMs: 30 } });
    const managed = await createRedis(loadConfig(baseEnv({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(server.port) })).redis);
    const latency = new LatencyRegistry();
    try {
      await h.store.updateCallSession(randomId(), { a: 1 });
      // Act
      const healthy = await checkHealth(async () => managed, undefined, { store: h.store, latency });
      await server.stop();
      await h.store.updateCallSession(randomId(), { a: 2 });
      const during = await checkHealth(async () => managed, undefined, { store: h.store, latency });
      await server.restart();
      await expect.poll(() => h.store.health().status, { timeout: 10_000, interval: 25 }).toBe('ok');
      // Assess
      expect(healthy).toMatchObject({ status: 'ok', state: { status: 'ok', journalDepth: 0 }, monitoring: { status: expect.any(String) } });
      expect(healthy.monitoring?.metrics.map((m) => m.metric)).toEqual(['redisLatencyP99', 'persistenceP99', 'redisMemory', 'poolUtilisation']);
      expect(during).toMatchObject({ status: 'degraded', state: { status: 'degraded', journalDepth: 1, breaker: { state: 'open' } } });
    } finally {
      await managed.close();
      await h.close();
    }
  });
});
