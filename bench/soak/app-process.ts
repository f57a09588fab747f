/**
 * The app under soak, in a process of its own: the dev host serving the app's real function
 * registrations (callbacks, Event Grid, the lifecycle orchestration, the Web PubSub trigger) and, on
 * the media path, the relays, each with its own Redis connection as separate relay instances would
 * have. Emulators and simulated callers live in the parent, so this process's CPU and event loop are
 * the app's alone.
 *
 * Started by app-client.ts with `fork`; settings come as JSON in SOAK_APP_SETTINGS (the parent's
 * emulator endpoints), and it talks to the parent over the IPC channel:
 * - it sends `ready` (base URL, function key) once every registration is served;
 * - `utterance` messages carry what a caller said (the relay's TranscriptionData side channel) to the
 *   realtime emulator in the parent, since no speech recognition runs offline;
 * - it answers `stats`, `terminateRelay`, `startRelay`, `relays`, `statuses` and `close` requests.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/lib/config/index.js';
import { createApp, type App } from '../../src/lib/app/index.js';
import { runWithApp } from '../../src/lib/app/current.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { startDevHost, webPubSubDispatcher } from '../../emulators/devhost/index.js';
import { fetchTrusting } from '../../emulators/realtime/index.js';
import { startRelay, type Relay } from '../../src/lib/media/relay.js';
import { archiveProfileLookup } from '../../src/lib/agent/profile-lookup.js';
import { acsHangUp, acsTransfer } from '../../src/lib/media/call-actions.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../../src/lib/agent/tts.js';
import { createRedis } from '../../src/lib/state/redis-client.js';
import { CallSessions, RelayLeases, SessionStore, TtsCache } from '../../src/lib/state/index.js';
import type { AppRequest, AppMessage, AppStats } from './protocol.js';

interface Launch {
  readonly name: string;
  readonly settings: Record<string, string>;
  /** Present on the media path. */
  readonly media?: { readonly relays: number; readonly webPubSubAccessKey: string; readonly webPubSubEndpoint: string; readonly realtimeCa: string; readonly heartbeatTtlSeconds: number };
}

const launch = JSON.parse(process.env.SOAK_APP_SETTINGS ?? '{}') as Launch;
const logger = consoleLogger((launch.settings.LOG_LEVEL as 'error' | 'warn' | undefined) ?? 'error', { component: `soak-app-${launch.name}` });
const send = (message: AppMessage): void => void process.send?.(message);

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let cpuMark = process.cpuUsage();
let wallMark = performance.now();

// The host listens first: the app's callback URLs name its port.
const host = await startDevHost({
  functionsDir: fileURLToPath(new URL('../../src/functions/', import.meta.url)),
  logger,
  // The app starts (and validates its configuration) once it is built, below.
  deferAppStart: true,
  scope: (invoke) => runWithApp(runtime, invoke),
  ...(launch.media ? { dispatchers: [webPubSubDispatcher({ services: () => [{ endpoint: launch.media!.webPubSubEndpoint, accessKey: launch.media!.webPubSubAccessKey }] })] } : {}),
});
const config = loadConfig({ ...launch.settings, ACS_CALLBACK_BASE_URL: host.baseUrl });
const runtime: App = createApp(config, { logger });
await host.startApp();

const relays: Relay[] = [];
const relayCleanups = new Map<Relay, () => Promise<void>>();

async function launchRelay(): Promise<Relay> {
  const media = launch.media!;
  const redis = await createRedis(config.redis, { logger, connectionName: 'rtvoice-relay' });
  await redis.ready();
  const store = new SessionStore(redis.client, runtime.keys, { logger });
  const transfer = acsTransfer(config, new CallSessions(store), () => runtime.acs(), logger);
  const prompts = new FixedPrompts(new TtsCache(store, logger), await speechSynthesizerFromConfig(config, { fetch: await fetchTrusting(media.realtimeCa) }), { logger });
  const relay = await startRelay({
    config,
    store,
    leases: new RelayLeases(store, logger),
    logger,
    realtimeSocketOptions: { ca: media.realtimeCa },
    onCallerTranscription: (callId, text, utteranceId) => send({ type: 'utterance', callId, text, ...(utteranceId === undefined ? {} : { utteranceId }) }),
    hangUp: acsHangUp(new CallSessions(store), () => runtime.acs(), logger),
    ...(transfer ? { transfer } : {}),
    lookupProfile: archiveProfileLookup(() => runtime.archive()),
    prompts,
    affinityTtlSeconds: 10,
    heartbeatTtlSeconds: media.heartbeatTtlSeconds,
  });
  relays.push(relay);
  relayCleanups.set(relay, async () => {
    await store.close();
    await redis.close();
  });
  return relay;
}

for (let i = 0; i < (launch.media?.relays ?? 0); i++) await launchRelay();

function stats(reset: boolean): AppStats {
  const cpu = process.cpuUsage(cpuMark);
  const wallMs = performance.now() - wallMark;
  const result: AppStats = {
    pid: process.pid,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    wallMs: Math.round(wallMs),
    cpuShare: wallMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000 : 0,
    loopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
    loopDelayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
    rssMb: Math.round(process.memoryUsage().rss / 1048576),
    relays: relays.map((r) => ({ workerId: r.workerId, calls: r.calls().length, takeovers: r.stats().takeovers, terminated: !relayCleanups.has(r), ...(r.stats().standby ? { standby: r.stats().standby } : {}) })),
  };
  if (reset) {
    cpuMark = process.cpuUsage();
    wallMark = performance.now();
    loopDelay.reset();
  }
  return result;
}

async function answer(request: AppRequest): Promise<unknown> {
  switch (request.op) {
    case 'stats':
      return stats(request.reset ?? false);
    case 'terminateRelay': {
      // The relay owning the most calls dies as a killed process looks to the others: socket closed,
      // heartbeats stopped, nothing flushed or released.
      const live = relays.filter((r) => relayCleanups.has(r)).sort((a, b) => b.calls().length - a.calls().length);
      const victim = live[0];
      if (!victim) throw new Error('no live relay to terminate');
      const calls = victim.calls().length;
      await victim.terminate();
      await relayCleanups.get(victim)?.();
      relayCleanups.delete(victim);
      return { workerId: victim.workerId, calls };
    }
    case 'startRelay':
      return { workerId: (await launchRelay()).workerId };
    case 'statuses': {
      const out: Record<string, string> = {};
      for (const id of request.instanceIds) out[id] = (await host.durable.status(id))?.runtimeStatus ?? 'unknown';
      return out;
    }
    case 'close':
      await shutdown();
      return { closed: true };
  }
}

let closing: Promise<void> | undefined;
function shutdown(): Promise<void> {
  closing ??= (async () => {
    for (const relay of relays) {
      const cleanup = relayCleanups.get(relay);
      if (!cleanup) continue;
      await relay.close().catch((error: unknown) => logger.error('relay close failed', { error: error as Error }));
      await cleanup();
    }
    await host.close();
    await runtime.close();
  })();
  return closing;
}

process.on('message', (raw: unknown) => {
  const request = raw as AppRequest & { id: number };
  answer(request).then(
    (value) => send({ type: 'reply', id: request.id, ok: true, value }),
    (error: unknown) => send({ type: 'reply', id: request.id, ok: false, error: (error as Error).message }),
  );
});
// The parent gone means nobody will ever ask this process to stop.
process.on('disconnect', () => {
  setTimeout(() => process.exit(1), 10_000).unref();
  void shutdown().finally(() => process.exit(0));
});

send({ type: 'ready', baseUrl: host.baseUrl, webPubSubWebhookUrl: host.webhookUrl('webpubsub'), functionKey: host.keys.function, keyPrefix: config.keyPrefix });
