import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/lib/config/index.js';
import { RedisUnavailableError, RedisCommandError } from '../../src/lib/state/errors.js';
import { createRedis, redisOp, tokenObjectId } from '../../src/lib/state/redis-client.js';
import { baseEnv } from '../support/env.js';
import { createServer } from 'node:net';
import { RedisServer, RedisServerExited } from '../support/redis-server.js';

function redisConfig(port: number, extra: Record<string, string> = {}) {
  return loadConfig(baseEnv({ REDIS_PORT: String(port), ...extra })).redis;
}

describe('createRedis against the run’s private Redis', () => {
  it('connects and runs commands', async () => {
    const redis = await createRedis(redisConfig(inject('redisPort')));
    try {
      await redis.ready();
      expect(await redis.client.ping()).toBe('PONG');
      expect(redis.client.options.enableOfflineQueue).toBe(false);
    } finally {
      await redis.close();
    }
    expect(redis.client.status).toBe('end');
  });

  it('sorts a command Redis rejects into a non-retryable typed error', async () => {
    const redis = await createRedis(redisConfig(inject('redisPort')));
    try {
      await redis.ready();
      const key = `t-wrongtype-${Date.now()}`;
      await redis.client.set(key, 'x', 'EX', 10);
      const failure = redisOp('lpush', () => redis.client.lpush(key, 'y'));
      await expect(failure).rejects.toBeInstanceOf(RedisCommandError);
      await expect(failure).rejects.toMatchObject({ retryable: false, operation: 'lpush' });
    } finally {
      await redis.close();
    }
  });
});

describe('createRedis with a Redis it can stop', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ password: 's3cret-for-tests' });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('authenticates with the access key when Redis requires one', async () => {
    const redis = await createRedis(redisConfig(server.port, { REDIS_AUTH: 'key', REDIS_PASSWORD: 's3cret-for-tests' }));
    try {
      await redis.ready();
      expect(await redis.client.ping()).toBe('PONG');
    } finally {
      await redis.close();
    }
  });

  it('is refused without the key', async () => {
    const redis = await createRedis(redisConfig(server.port));
    try {
      await redis.ready().catch(() => undefined);
      await expect(redisOp('ping', () => redis.client.ping())).rejects.toBeInstanceOf(Error);
    } finally {
      await redis.close();
    }
  });

  it('fails a command against a stopped Redis in well under a second, with a typed error', async () => {
    const redis = await createRedis(redisConfig(server.port, { REDIS_AUTH: 'key', REDIS_PASSWORD: 's3cret-for-tests' }));
    try {
      await redis.ready();
      await server.stop();
      const started = performance.now();
      const failure = redisOp('get', () => redis.client.get('anything'));
      await expect(failure).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(failure).rejects.toMatchObject({ retryable: true });
      const elapsedMs = performance.now() - started;
      expect(elapsedMs).toBeLessThan(1000);

      // And it comes back by itself once Redis does.
      await server.restart();
      await expect.poll(() => redisOp('ping', () => redis.client.ping()).catch(() => 'down'), { timeout: 5000, interval: 50 }).toBe('PONG');
    } finally {
      await redis.close();
    }
  });

  it('reports a Redis that never answers as unavailable after the connect timeout', async () => {
    await server.stop();
    try {
      const redis = await createRedis(redisConfig(server.port, { REDIS_CONNECT_TIMEOUT_MS: '200' }));
      await expect(redis.ready()).rejects.toBeInstanceOf(RedisUnavailableError);
      await redis.close();
    } finally {
      await server.restart();
    }
  });
});

describe('private redis-server', () => {
  it('fails to start with a typed error when its port is taken, and a free-port start still works', async () => {
    // Prepare: another listener holds the port, as one can between finding a port free and binding it.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    try {
      // Act
      const onTaken = await RedisServer.start({ port: taken }).catch((error: unknown) => error);
      const server = await RedisServer.start();
      // Assess
      expect(onTaken).toBeInstanceOf(RedisServerExited);
      expect(server.running).toBe(true);
      await server.dispose();
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});

describe('tokenObjectId', () => {
  it('reads the oid claim Azure Redis expects as the user name', () => {
    const payload = Buffer.from(JSON.stringify({ oid: '11111111-2222-3333-4444-555555555555' })).toString('base64url');
    expect(tokenObjectId(`e30.${payload}.sig`)).toBe('11111111-2222-3333-4444-555555555555');
    expect(() => tokenObjectId('not-a-jwt')).toThrow();
  });
});
