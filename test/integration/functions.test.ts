import { readFileSync, readdirSync } from 'node:fs';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFunctionsCore, registeredFunctions, triggerOf } from '../../emulators/functions-host/registry.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { currentApp, runWithApp } from '../../src/lib/app/current.js';
import { APP_VERSION } from '../../src/lib/version.js';
import { baseEnv, testConfig, uniquePrefix } from '../support/env.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * The README's function table is the contract: every function file must register exactly the
 * trigger, route and methods listed there. The registrations are read the way the Functions host
 * reads them (through `@azure/functions-core`), so no host needs to be present.
 */
interface ReadmeRow {
  name: string;
  trigger: string;
  route: string;
  methods: string[];
}

function readmeFunctions(): ReadmeRow[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('<!-- functions:start -->')[1]?.split('<!-- functions:end -->')[0];
  if (!section) throw new Error('README.md has no functions table');
  return section
    .split('\n')
    .filter((line) => /^\|\s*`/.test(line))
    .map((line) => {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, ''));
      const [name = '', trigger = '', route = '', methods = ''] = cells;
      return { name, trigger, route, methods: methods === '—' ? [] : methods.split(',').map((m) => m.trim()).sort() };
    });
}

describe('function registrations', () => {
  beforeAll(async () => {
    installFunctionsCore();
    const dir = new URL('../../src/functions/', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) await import(new URL(file, dir).href);
  });

  it('match the README’s function table', () => {
    const registered = registeredFunctions().map((f) => {
      const trigger = triggerOf(f);
      return {
        name: f.metadata.name,
        trigger: trigger.type,
        route: trigger.route ?? '—',
        methods: (trigger.methods ?? []).map((m) => m.toUpperCase()).sort(),
      };
    });
    const rows = readmeFunctions();
    expect(rows.length).toBeGreaterThan(0);
    expect(registered.sort((a, b) => a.name.localeCompare(b.name))).toEqual(rows.sort((a, b) => a.name.localeCompare(b.name)));
  });

  it('registers one function per file, named after the file', () => {
    const files = readdirSync(new URL('../../src/functions/', import.meta.url)).filter((f) => f.endsWith('.ts'));
    const names = registeredFunctions().map((f) => f.metadata.name);
    for (const file of files) expect(names).toContain(file.replace(/\.ts$/, ''));
  });

  it('keeps the app version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; main: string };
    expect(APP_VERSION).toBe(pkg.version);
    expect(pkg.main).toBe('dist/src/functions/*.js');
  });
});

describe('GET /api/health', () => {
  let server: RedisServer;
  let app: App;
  beforeAll(async () => {
    server = await RedisServer.start();
    app = createApp(testConfig({ REDIS_PORT: String(server.port) }));
  });
  afterAll(async () => {
    await app?.close();
    await server?.dispose();
  });

  async function callHealth() {
    const { health } = await import('../../src/functions/health.js');
    const request = new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' });
    const response = await runWithApp(app, () => health(request, new InvocationContext({ functionName: 'health' })));
    return response as { status: number; jsonBody: Record<string, any> };
  }

  it('reports the version and a Redis ping', async () => {
    const response = await callHealth();
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ status: 'ok', version: APP_VERSION, dependencies: { redis: { status: 'ok' } } });
    expect(response.jsonBody.dependencies.redis.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('reports Redis unreachable with the error’s class, as 503', async () => {
    await server.stop();
    try {
      const response = await callHealth();
      expect(response.status).toBe(503);
      expect(response.jsonBody.dependencies.redis).toEqual({ status: 'unreachable', error: 'RedisUnavailableError', retryable: true });
    } finally {
      await server.restart();
    }
  });
});

describe('the process app (no host scope, as in Azure)', () => {
  let server: RedisServer;
  const saved = { ...process.env };
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await server?.dispose();
  });

  it('is built once from process.env on the first invocation and serves every later one', async () => {
    // Prepare: the settings live in the environment, as the Functions host provides them.
    Object.assign(process.env, { ...baseEnv({ REDIS_PORT: String(server.port), REDIS_KEY_PREFIX: uniquePrefix(), LOG_LEVEL: 'error' }) });
    const { health } = await import('../../src/functions/health.js');
    const call = () => health(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }), new InvocationContext({ functionName: 'health' }));
    // Act
    const [first, second] = [await call(), await call()];
    const [app, again] = await Promise.all([currentApp(), currentApp()]);
    try {
      // Assess
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(again).toBe(app);
      expect(app.config.redis.port).toBe(server.port);
    } finally {
      await app.close();
    }
  });
});
