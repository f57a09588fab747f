import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { createCosmosClient } from '../../src/lib/archive/client.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { createWebPubSubService } from '../../src/lib/media/webpubsub-service.js';
import { createLogger } from '../../src/lib/telemetry/logger.js';
import {
  checkCosmos,
  checkEventGridSubscription,
  checkFunctionKeys,
  checkHealth,
  checkRedis,
  checkWebPubSub,
  type Arm,
  type ArmResponse,
} from '../../tools/verify-azure/checks.js';
import { report, verifyEnvironment } from '../../tools/verify-azure/run.js';
import { baseEnv } from '../support/env.js';
import { startE2eStack } from '../e2e/support.js';

/**
 * `npm run verify:azure` cannot reach Azure from here, so its checks run against what can: the dev host
 * serving the app, the run's private Redis and a one-node Redis Cluster (no Entra ID here: Azure Managed
 * Redis is the only place that accepts its tokens), the embedded Cosmos server and the Web PubSub emulator — with
 * both answers to the undocumented question of which token Web PubSub validates when ACS presents its own
 * JWT next to ours. The two management-plane checks have no emulator: they are fed Resource Manager
 * answers shaped as the REST specs' examples (EventGrid.json 2025-02-15 EventSubscriptions_Get, WebApps.json
 * 2024-04-01 ListHostKeys / ListFunctionKeys).
 */

const quiet = createLogger(() => undefined, 'error');

describe('verify:azure checks against the emulators', () => {
  let stack: OfflineStack;
  let cosmos: EmbeddedCosmos;

  beforeAll(async () => {
    stack = await startE2eStack();
    cosmos = await startEmbeddedCosmos();
  });
  afterAll(async () => {
    await stack?.close();
    await cosmos?.close();
  });

  it('health: passes on a healthy app and says why it fails on an unreachable one', async () => {
    expect(await checkHealth(stack.host.baseUrl)).toMatchObject({ ok: true, reason: 'GET /api/health answered 200, status ok' });
    const down = await checkHealth('http://127.0.0.1:1');
    expect(down.ok).toBe(false);
    expect(down.reason).toMatch(/GET \/api\/health failed/);
  });

  it('Redis: a probe key round-trips; an unreachable Redis is reported with the mode', async () => {
    const config = loadConfig(baseEnv({ REDIS_HOST: inject('redisHost'), REDIS_PORT: String(inject('redisPort')) }));
    expect(await checkRedis(config.redis, { logger: quiet })).toMatchObject({ ok: true, facts: { mode: 'none auth, single mode, plain' } });
    // (Entra ID in cluster mode needs Azure Managed Redis: that is what the live run checks.)
    const unreachable = await checkRedis({ ...config.redis, port: 1, connectTimeoutMs: 200 }, { logger: quiet });
    expect(unreachable.ok).toBe(false);
    expect(unreachable.reason).toMatch(/\(none auth, single mode, plain\)$/);
  });

  it('Cosmos DB: writes and reads a probe document; a missing database fails with the reason', async () => {
    const client = await createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, database: 'verify', auditTtlDays: 1 });
    await client.databases.createIfNotExists({ id: 'verify' });
    await client.database('verify').containers.createIfNotExists({ id: 'audit', partitionKey: { paths: ['/callId'] } });
    expect(await checkCosmos(client, 'verify')).toMatchObject({ ok: true });
    const missing = await checkCosmos(client, 'no-such-database');
    expect(missing.ok).toBe(false);
    expect(missing.reason.length).toBeGreaterThan(0);
  });
});

/** A one-node Redis Cluster (all 16384 slots on one redis-server), so the check runs in cluster mode as in Azure. */
async function startOneNodeCluster(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'rtvoice-cluster-'));
  const server: ChildProcess = spawn(
    process.env.REDIS_SERVER_BIN ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  // Retries every 50 ms until the server listens; errors before that are expected and not reported.
  const admin = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 50 });
  admin.on('error', () => undefined);
  await new Promise((resolve) => admin.once('ready', resolve));
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  while (!String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) await new Promise((r) => setTimeout(r, 50));
  await admin.quit();
  return {
    port,
    async stop() {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('verify:azure Redis in cluster mode', () => {
  let cluster: Awaited<ReturnType<typeof startOneNodeCluster>>;
  beforeAll(async () => {
    cluster = await startOneNodeCluster();
  });
  afterAll(async () => cluster?.stop());

  it('round-trips the probe key through the cluster client the app uses', async () => {
    const config = loadConfig(baseEnv({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(cluster.port), REDIS_CLUSTER: 'true' }));
    const result = await checkRedis(config.redis, { logger: quiet });
    expect(result.reason).toBe('SET/GET/DEL of a probe key (none auth, cluster mode, plain)');
    expect(result).toMatchObject({ ok: true, facts: { mode: 'none auth, cluster mode, plain' } });
  });
});

describe('verify:azure Web PubSub media path, both ways the service could validate tokens', () => {
  const emulators: WebPubSubEmulator[] = [];
  afterAll(async () => {
    for (const e of emulators) await e.close();
  });

  async function serviceFor(tokenPrecedence: 'query' | 'header') {
    const wps = await startWebPubSubEmulator({ hubs: { media: {} }, tokenPrecedence, logger: quiet });
    emulators.push(wps);
    return createWebPubSubService({ webPubSub: { connectionString: wps.connectionString, endpoint: undefined, hub: 'media', mediaMode: 'realtime', audioFormat: 'pcm24KMono', relayEnabled: false, relayStandby: false, shards: [{ connectionString: wps.connectionString }] } });
  }

  it('passes when the query token wins, and reports it', async () => {
    const result = await checkWebPubSub(await serviceFor('query'));
    expect(result).toMatchObject({ ok: true, facts: { 'token-validated': 'query' } });
    expect(result.reason).toMatch(/reached a relay-like subscriber/);
  });

  it('fails when the Authorization header wins, saying that ACS media connections would be refused', async () => {
    const result = await checkWebPubSub(await serviceFor('header'));
    expect(result).toMatchObject({ ok: false, facts: { 'token-validated': 'header' } });
    expect(result.reason).toMatch(/validates the header, so every ACS media connection would be refused/);
  });
});

describe('verify:azure management-plane checks', () => {
  const ids = {
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    resourceGroup: 'rg-dev',
    functionAppName: 'func-abc',
    systemTopicName: 'evgt-acs-abc',
    appBaseUrl: 'https://func-abc.azurewebsites.net',
  };
  function arm(answers: Record<string, ArmResponse>): Arm & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      async request(method, path, apiVersion) {
        calls.push(`${method} ${path}?api-version=${apiVersion}`);
        return answers[`${method} ${path}`] ?? { status: 404, json: { error: { code: 'ResourceNotFound' } } };
      },
    };
  }
  const subPath = `GET /subscriptions/${ids.subscriptionId}/resourceGroups/rg-dev/providers/Microsoft.EventGrid/systemTopics/evgt-acs-abc/eventSubscriptions/incoming-call`;
  const subscription = (state: string, endpointBaseUrl = 'https://func-abc.azurewebsites.net/api/incomingCall'): ArmResponse => ({
    status: 200,
    json: {
      id: subPath.slice(4),
      name: 'incoming-call',
      type: 'Microsoft.EventGrid/eventSubscriptions',
      properties: {
        topic: '/subscriptions/…/Microsoft.Communication/CommunicationServices/acs-abc',
        provisioningState: state,
        destination: { endpointType: 'WebHook', properties: { endpointBaseUrl, maxEventsPerBatch: 1, preferredBatchSizeInKilobytes: 64 } },
        filter: { includedEventTypes: ['Microsoft.Communication.IncomingCall'], advancedFilters: [] },
        eventDeliverySchema: 'EventGridSchema',
        retryPolicy: { maxDeliveryAttempts: 3, eventTimeToLiveInMinutes: 1 },
      },
    },
  });

  it('Event Grid: passes on a provisioned subscription to the app, fails with the reason otherwise', async () => {
    const ok = arm({ [subPath]: subscription('Succeeded') });
    expect(await checkEventGridSubscription(ok, ids)).toMatchObject({ ok: true });
    expect(ok.calls[0]).toMatch(/\?api-version=2025-02-15$/);
    expect((await checkEventGridSubscription(arm({ [subPath]: subscription('AwaitingManualAction') }), ids)).reason).toMatch(/handshake was not answered/);
    expect((await checkEventGridSubscription(arm({ [subPath]: subscription('Succeeded', 'https://elsewhere.example/api/x') }), ids)).reason).toMatch(/delivers to https:\/\/elsewhere/);
    expect((await checkEventGridSubscription(arm({}), ids)).reason).toMatch(/second provisioning phase/);
  });

  it('function keys: needs the webpubsub_extension system key and an incomingCall key, and never prints them', async () => {
    const site = `/subscriptions/${ids.subscriptionId}/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-abc`;
    const hostKeys = (system: Record<string, string>): ArmResponse => ({ status: 200, json: { masterKey: 'secret-master', functionKeys: { default: 'secret-f' }, systemKeys: system } });
    const fnKeys: ArmResponse = { status: 200, json: { default: 'secret-incoming' } };
    const good = await checkFunctionKeys(arm({ [`POST ${site}/host/default/listKeys`]: hostKeys({ webpubsub_extension: 'secret-wps', durabletask_extension: 'x' }), [`POST ${site}/functions/incomingCall/listKeys`]: fnKeys }), ids);
    expect(good).toMatchObject({ ok: true });
    expect(JSON.stringify(good)).not.toMatch(/secret-/);
    const noExtension = await checkFunctionKeys(arm({ [`POST ${site}/host/default/listKeys`]: hostKeys({}), [`POST ${site}/functions/incomingCall/listKeys`]: fnKeys }), ids);
    expect(noExtension.reason).toMatch(/webpubsub_extension system key/);
    expect((await checkFunctionKeys(arm({ [`POST ${site}/host/default/listKeys`]: hostKeys({ webpubsub_extension: 's' }) }), ids)).reason).toMatch(/incomingCall keys \(HTTP 404/);
  });

  it('refuses an environment that lacks outputs, naming them, and reports one line per check', async () => {
    const results = await verifyEnvironment({ AZURE_ENV_NAME: 'x', SERVICE_API_URI: 'https://a' }, { getToken: async () => null });
    expect(results).toEqual([{ name: 'environment', ok: false, reason: expect.stringMatching(/lacks AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP/) }]);
    expect(report([{ name: 'n', ok: true, reason: 'r', facts: { 'token-validated': 'query', detail: 'd' } }, { name: 'm', ok: false, reason: 'why' }])).toBe(
      'PASS  n — r [token-validated=query]\nFAIL  m — why',
    );
  });
});
