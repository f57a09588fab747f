import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, localSettings, PORT_FLAGS, type LocalPorts } from '../../emulators/local-services.js';
import { fileURLToPath } from 'node:url';
import { CosmosClient } from '@azure/cosmos';
import { startDevHost } from '../../emulators/devhost/index.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { createApp } from '../../src/lib/app/index.js';
import { runWithApp } from '../../src/lib/app/current.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { freePort } from '../support/redis-server.js';
import { Child } from './child.js';

const sample = (JSON.parse(readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8')) as { Values: Record<string, string> }).Values;
const children: Child[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.signal('SIGINT');
    await child.exited;
  }
});

describe('local.settings.sample.json', () => {
  it('holds exactly what npm run emulators serves on its default ports', () => {
    for (const [name, value] of Object.entries(localSettings(DEFAULT_PORTS))) expect({ name, value: sample[name] }).toEqual({ name, value });
    expect(sample.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
  });

  it('is a valid configuration as it is', () => {
    const config = loadConfig(sample);
    expect(config.redis.port).toBe(DEFAULT_PORTS.redis);
    expect(config.cosmos.endpoint).toBe(`http://127.0.0.1:${DEFAULT_PORTS.cosmos}`);
    expect(config.acs.jwksUrl).toBe(`http://127.0.0.1:${DEFAULT_PORTS.acs}/calling/keys`);
  });
});

describe('npm run emulators', () => {
  it('serves Redis, Azurite, Cosmos, ACS and Web PubSub on the ports it is given, with the settings that name them', async () => {
    const ports = {} as Record<keyof LocalPorts, number>;
    for (const service of Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]) ports[service] = await freePort();
    const args = (Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]).flatMap((service) => [`--${PORT_FLAGS[service]}`, String(ports[service])]);
    const emulators = new Child('npm', ['run', '--silent', 'emulators', '--', ...args, '--json']);
    children.push(emulators);
    const line = await emulators.waitFor(/^\{.*\}$/m, 60_000);
    const { settings } = JSON.parse(line[0]) as { settings: Record<string, string> };
    expect(settings).toEqual(localSettings(ports));

    const redis = new Redis({ host: '127.0.0.1', port: ports.redis, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
    // Azurite answers as Azure Storage does to an unsigned request.
    for (const port of [ports.blob, ports.queue, ports.table]) {
      const response = await fetch(`http://127.0.0.1:${port}/devstoreaccount1?comp=list`);
      expect(response.headers.get('server') ?? '').toMatch(/^Azurite-(Blob|Queue|Table)\//);
    }
    const jwks = (await (await fetch(settings.ACS_JWKS_URL ?? '')).json()) as { keys: unknown[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect((await fetch(`${settings.COSMOS_ENDPOINT}/`, { headers: { 'x-ms-version': '2020-07-15' } })).status).toBeLessThan(500);
    expect(loadConfig({ ...sample, ...settings }).redis.port).toBe(ports.redis);
  }, 90_000);

  it('runs a call end to end for an app host that reads the sample settings, as the README walks through with func start', async () => {
    // Core Tools cannot run here: the dev host stands in for `func start`, reading the same settings
    // (the sample plus the ports this run moved) and serving the same function registrations.
    const ports = {} as Record<keyof LocalPorts, number>;
    for (const service of Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]) ports[service] = await freePort();
    const args = (Object.keys(PORT_FLAGS) as (keyof LocalPorts)[]).flatMap((service) => [`--${PORT_FLAGS[service]}`, String(ports[service])]);
    const emulators = new Child('npm', ['run', '--silent', 'emulators', '--', ...args, '--json']);
    children.push(emulators);
    const { settings } = JSON.parse((await emulators.waitFor(/^\{.*\}$/m, 60_000))[0]) as { settings: Record<string, string> };

    const config = loadConfig({ ...sample, ...settings, LOG_LEVEL: 'warn' });
    const logger = consoleLogger('warn', { component: 'walk-through' });
    const app = createApp(config, { logger });
    const host = await startDevHost({ port: ports.functions, functionsDir: fileURLToPath(new URL('../../src/functions/', import.meta.url)), logger, scope: (invoke) => runWithApp(app, invoke) });
    try {
      const acs = `http://127.0.0.1:${ports.acs}`;
      const post = (path: string, body: unknown) => fetch(`${acs}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const eventGridUrl = `http://127.0.0.1:${ports.functions}/api/incomingCall?code=${host.keys.function}`;
      expect(((await (await post('/emulator/eventgrid/validate', { endpointUrl: eventGridUrl })).json()) as { validated: boolean }).validated).toBe(true);
      const { runId } = (await (await post('/emulator/calls', { eventGridUrl, from: '+15550100123', to: '+15550100000', steps: [{ waitFor: 'greeting' }, { say: 'What are your opening hours?' }, { say: 'Thanks, goodbye!' }] })).json()) as { runId: string };
      let run: { done: boolean; recording?: { callConnectionId: string; endedBy: string; serverCallId: string } } = { done: false };
      for (let i = 0; i < 300 && !run.done; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        run = (await (await fetch(`${acs}/emulator/runs/${runId}`)).json()) as typeof run;
      }
      expect(run.recording?.endedBy).toBe('app');
      const status = await host.durable.waitForCompletion(run.recording!.callConnectionId, { timeoutMs: 30_000 });
      expect(status.runtimeStatus).toBe('Completed');
      // Archived in the emulators' Cosmos, where the sample points.
      const cosmos = new CosmosClient({ endpoint: settings.COSMOS_ENDPOINT!, key: settings.COSMOS_KEY!, connectionPolicy: { enableEndpointDiscovery: false } });
      const { resources } = await cosmos.database('rtvoice').container('transcripts').items.query<{ turns?: { role: string; content: string }[] }>('SELECT * FROM c').fetchAll();
      expect(resources.flatMap((d) => d.turns ?? []).filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['What are your opening hours?', 'Thanks, goodbye!']);
    } finally {
      await host.close();
      await app.close();
    }
  }, 120_000);

  it('names the flag that moves a port already taken', async () => {
    const taken = await freePort();
    const holder = new Child('npm', ['run', '--silent', 'emulators', '--', '--redis-port', String(taken), '--no-azurite', '--no-cosmos', '--acs-port', '0', '--webpubsub-port', '0', '--json']);
    children.push(holder);
    await holder.waitFor(/^\{.*\}$/m, 60_000);
    const second = new Child('npm', ['run', '--silent', 'emulators', '--', '--redis-port', String(taken), '--no-azurite', '--no-cosmos', '--acs-port', '0', '--webpubsub-port', '0']);
    children.push(second);
    await second.exited;
    expect(second.stderr.trim()).toBe(`emulators: port ${taken} (redis-server) is already in use: stop what holds it (another \`npm run emulators\` or \`npm run dev\`?) or pass --redis-port <port>`);
  }, 90_000);
});
