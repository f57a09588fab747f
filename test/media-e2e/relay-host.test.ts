/**
 * The relay started by the Functions app itself: with `RELAY_ENABLED=true` the `appStart` hook (run by
 * the dev host exactly as the worker runs it) starts a relay that connects to Web PubSub and heartbeats
 * in Redis; `appTerminate` stops it.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevHost } from '../../emulators/devhost/index.js';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { RELAY_CONTROL_GROUP, relayUserId } from '../../src/lib/media/groups.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { runWithApp } from '../../src/lib/app/current.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { testConfig } from '../support/env.js';
import { eventually } from '../emulators/webpubsub-support.js';

const functionsDir = fileURLToPath(new URL('../../src/functions/', import.meta.url));

describe('relay hosted by the Functions app', () => {
  let wps: WebPubSubEmulator;
  let runtime: App;
  const hostedRelay = () => runtime.relay.current();
  const startHost = () => startDevHost({ functionsDir, logger: consoleLogger('error'), scope: (invoke) => runWithApp(runtime, invoke) });

  beforeAll(async () => {
    wps = await startWebPubSubEmulator({ hubs: { media: {} } });
    const config = testConfig({
      MEDIA_MODE: 'realtime',
      RELAY_ENABLED: 'true',
      WEBPUBSUB_CONNECTION_STRING: wps.connectionString,
      AZURE_OPENAI_ENDPOINT: 'https://aoai.invalid',
      LOG_LEVEL: 'error',
    });
    runtime = createApp(config, { logger: consoleLogger('error', { component: 'relay-host-test' }) });
  });
  afterAll(async () => {
    await runtime?.close();
    await wps?.close();
  });

  it('starts with the host, heartbeats, listens on the control group, and stops with it', async () => {
    // Act
    const host = await startHost();
    const relay = await eventually('the relay connected', () => hostedRelay());

    // Assess
    const connection = wps.connections('media').find((c) => c.userId === relayUserId(relay!.workerId));
    expect(connection?.groups).toEqual([RELAY_CONTROL_GROUP]);
    const leases = await runtime.relayLeases();
    expect(await leases.getHeartbeat(relay!.workerId)).toMatchObject({ calls: 0 });

    // Act: the host stops.
    await host.close();
    // Assess
    expect(hostedRelay()).toBeUndefined();
    await eventually('the relay connection closed', () => (wps.connections('media').some((c) => c.userId === relayUserId(relay!.workerId)) ? undefined : true));
  });

  it('does not hold up the instance: the host is ready while Web PubSub is unreachable, and the relay joins once it is', { timeout: 30_000 }, async () => {
    // Prepare: the relay's Web PubSub is not listening yet.
    const port = wps.port;
    const accessKey = wps.accessKey;
    await wps.close();

    // Act
    const host = await startHost();

    // Assess: the host started (appStart returned) with no relay; the relay retries in the background.
    expect(hostedRelay()).toBeUndefined();
    wps = await startWebPubSubEmulator({ port, accessKey, hubs: { media: {} } });
    const relay = await eventually('the relay joined once Web PubSub answered', () => hostedRelay(), 15_000);
    expect(wps.connections('media').some((c) => c.userId === relayUserId(relay.workerId))).toBe(true);
    await host.close();
    expect(hostedRelay()).toBeUndefined();
  });
});
