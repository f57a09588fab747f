import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, type AppConfig } from '../src/lib/config/index.js';
import { createApp, type App } from '../src/lib/app/index.js';
import { runWithApp } from '../src/lib/app/current.js';
import { consoleLogger, type Logger } from '../src/lib/telemetry/logger.js';
import { startAcsEmulator, type AcsEmulator, type AcsEmulatorOptions } from './acs/index.js';
import { startCosmosFaultProxy, startEmbeddedCosmos, type CosmosFaultProxy, type EmbeddedCosmos } from './cosmos/index.js';
import { startDevHost, webPubSubDispatcher, type DevHost } from './devhost/index.js';
import { startRealtimeEmulator, type RealtimeEmulator, type RealtimeEmulatorOptions } from './realtime/index.js';
import { RedisServer } from './redis/server.js';
import { startWebPubSubEmulator, type WebPubSubEmulator, type WebPubSubEmulatorOptions } from './webpubsub/index.js';
import { startRelay, type Relay, type RelayOptions } from '../src/lib/media/relay.js';
import { archiveProfileLookup } from '../src/lib/agent/profile-lookup.js';
import { acsHangUp, acsTransfer } from '../src/lib/media/call-actions.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../src/lib/agent/tts.js';
import { fetchTrusting } from './realtime/index.js';
import { createRedis } from '../src/lib/state/redis-client.js';
import { CallSessions, RelayLeases, SessionStore, TtsCache } from '../src/lib/state/index.js';
import { instrumentStore } from '../src/lib/telemetry/call-instrumentation.js';
import { currentTelemetry, startTelemetry } from '../src/lib/telemetry/otel.js';

/**
 * The whole product, offline: Redis (the configured one or a private redis-server), the embedded
 * Cosmos server, the ACS emulator, and the dev host serving the app's real function registrations.
 * Only endpoints differ from Azure; every SDK talks real HTTP.
 */
export interface OfflineStack {
  readonly config: AppConfig;
  /** The app the dev host's functions run with (each invocation in its scope). */
  readonly runtime: App;
  readonly acs: AcsEmulator;
  readonly cosmos: EmbeddedCosmos;
  /** Present with `cosmosFaults`: the fault proxy the app reaches Cosmos DB through. */
  readonly cosmosProxy?: CosmosFaultProxy;
  readonly host: DevHost;
  readonly redis: { readonly host: string; readonly port: number; readonly cluster?: boolean; readonly server?: RedisServer };
  /** The Event Grid webhook of the app (`/api/incomingCall?code=<function key>`). */
  readonly eventGridUrl: string;
  /** `POST /api/calls` with the function key. */
  readonly placeCallUrl: string;
  /** Present with `media`: the realtime path's emulators and relays. */
  readonly media?: OfflineMedia;
  close(): Promise<void>;
}

export interface OfflineMedia {
  /** Shard 0 (the relays' control group). */
  readonly webPubSub: WebPubSubEmulator;
  /** Every Web PubSub resource calls are sharded across, in shard order. */
  readonly webPubSubShards: readonly WebPubSubEmulator[];
  readonly realtime: RealtimeEmulator;
  /** The relays started, each with its own Redis connection (as separate processes would have). */
  readonly relays: Relay[];
  /** Starts one more relay (e.g. to replace one that was terminated). */
  startRelay(overrides?: Partial<RelayOptions>): Promise<Relay>;
}

export interface OfflineMediaOptions {
  /** @default 1 */
  readonly relays?: number;
  /** Web PubSub resources (one emulator each) calls are sharded across. @default 1 */
  readonly shards?: number;
  /** Options of every Web PubSub emulator (e.g. a message budget). */
  readonly webPubSub?: Omit<WebPubSubEmulatorOptions, 'hubs' | 'logger' | 'port' | 'accessKey'>;
  /** Heartbeat TTL of the relays (failover tests use the 5 s minimum). @default the policy's 30 s */
  readonly heartbeatTtlSeconds?: number;
  /** @default 10 (the policy's minimum), so an orphaned call is free again quickly */
  readonly affinityTtlSeconds?: number;
  readonly realtime?: RealtimeEmulatorOptions;
  /** Passed to every relay (e.g. `onTurn`). */
  readonly relay?: Partial<RelayOptions>;
}

export interface OfflineStackOptions {
  /** Use this Redis instead of spawning one. */
  /** `cluster`: host:port is one node of a Redis Cluster (REDIS_CLUSTER=true). */
  readonly redis?: { readonly host: string; readonly port: number; readonly cluster?: boolean };
  /** Extra settings (e.g. `SILENCE_REPROMPTS`, `MAX_CALL_DURATION_SECONDS`). */
  readonly env?: Readonly<Record<string, string>>;
  readonly acs?: AcsEmulatorOptions;
  /** Put the Cosmos DB fault proxy between the app and the embedded server (outage tests). @default false */
  readonly cosmosFaults?: boolean;
  /** Port of the dev host. @default 0 (a free port) */
  readonly hostPort?: number;
  /** Function keys the dev host accepts. @default one random key */
  readonly functionKeys?: readonly string[];
  /** Port of the embedded Cosmos server. @default 0 (a free port) */
  readonly cosmosPort?: number;
  /** Durable time scale of the dev host (timers). @default 1 */
  readonly timeScale?: number;
  readonly logger?: Logger;
  /**
   * The realtime media path: a Web PubSub emulator (hub `media`, system events to the dev host's
   * webPubSubTrigger webhook), the Azure OpenAI realtime emulator, `MEDIA_MODE=realtime`, and relays
   * started in this process (the caller's words reach the realtime emulator through ACS's
   * TranscriptionData side channel). Without it the stack is the recognize/play path, unchanged.
   */
  readonly media?: boolean | OfflineMediaOptions;
}

export const DEMO_TRANSFER_NUMBER = '+15550100999';
export const DEMO_SOURCE_NUMBER = '+15550100000';

export async function startOfflineStack(options: OfflineStackOptions = {}): Promise<OfflineStack> {
  const logger = options.logger ?? consoleLogger('warn', { component: 'offline-stack' });
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => logger.error('offline stack shutdown step failed', { error: err as Error }));
    }
  };
  try {
    // OpenTelemetry, when OTEL_EXPORTER_OTLP_ENDPOINT (or an App Insights connection string) says so.
    await startTelemetry();
    cleanups.push(async () => (await currentTelemetry())?.flush());
    let redis: OfflineStack['redis'];
    if (options.redis) {
      redis = options.redis;
    } else {
      const server = await RedisServer.start();
      cleanups.push(() => server.dispose());
      redis = { host: server.host, port: server.port, server };
    }
    const cosmos = await startEmbeddedCosmos(options.cosmosPort === undefined ? {} : { port: options.cosmosPort });
    cleanups.push(() => cosmos.close());
    const cosmosProxy = options.cosmosFaults ? await startCosmosFaultProxy(cosmos.endpoint) : undefined;
    if (cosmosProxy) cleanups.push(() => cosmosProxy.close());
    const acs = await startAcsEmulator({ logger, ...options.acs });
    cleanups.push(() => acs.close());

    const mediaOptions: OfflineMediaOptions | undefined = options.media === true ? {} : options.media || undefined;
    let wps: WebPubSubEmulator | undefined;
    const shards: WebPubSubEmulator[] = [];
    let realtime: RealtimeEmulator | undefined;
    // Cleanups run in reverse: the relays, the emulators (Web PubSub before the host, so the relays'
    // own disconnections at shutdown reach no function), the host (draining what is in flight), and
    // only then the app's runtime those invocations use. It is made last, so its cleanup is held here.
    const built: { app?: App } = {};
    cleanups.push(async () => built.app?.close());
    // The host listens first, on a port of its own choosing: a port found free and bound later can be
    // taken in between. Nothing reaches it before this function returns its URLs.
    const host = await startDevHost({
      functionsDir: fileURLToPath(new URL('../src/functions/', import.meta.url)),
      logger,
      // The app starts (and validates its configuration) once its runtime is in place, below.
      deferAppStart: true,
      // Every invocation and app hook runs with this stack's app, so stacks never share one.
      scope: (invoke) => {
        if (!built.app) throw new Error('the offline stack has no app yet');
        return runWithApp(built.app, invoke);
      },
      ...(options.hostPort === undefined ? {} : { port: options.hostPort }),
      ...(options.functionKeys === undefined ? {} : { functionKeys: options.functionKeys }),
      ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
      // The extension configured with each shard's connection string: its host and key are checked.
      ...(mediaOptions ? { dispatchers: [webPubSubDispatcher({ services: () => shards.map((shard) => ({ endpoint: shard.endpoint, accessKey: shard.accessKey })) })] } : {}),
    });
    cleanups.push(() => host.close());
    const port = host.port;

    let mediaEnv: Record<string, string> = {};
    if (mediaOptions) {
      for (let shard = 0; shard < (mediaOptions.shards ?? 1); shard++) {
        const started = await startWebPubSubEmulator({
          logger,
          ...mediaOptions.webPubSub,
          // With the webpubsub_extension system key, as infra/modules/app-wiring.bicep configures the hub.
          hubs: { media: { eventHandlers: [{ urlTemplate: host.webhookUrl('webpubsub'), systemEvents: ['connected', 'disconnected'] }] } },
        });
        shards.push(started);
        cleanups.push(() => started.close());
      }
      wps = shards[0]!;
      realtime = await startRealtimeEmulator(mediaOptions.realtime);
      const startedRealtime = realtime;
      cleanups.push(() => startedRealtime.close());
      mediaEnv = {
        MEDIA_MODE: 'realtime',
        WEBPUBSUB_CONNECTION_STRING: wps.connectionString,
        ...(shards.length > 1 ? { WEBPUBSUB_CONNECTION_STRINGS: shards.map((shard) => shard.connectionString).join(',') } : {}),
        WEBPUBSUB_HUB: 'media',
        AZURE_OPENAI_ENDPOINT: realtime.endpoint,
        AZURE_OPENAI_API_KEY: realtime.apiKey,
        AZURE_OPENAI_REALTIME_DEPLOYMENT: realtime.deployment,
      };
    }
    const config = loadConfig({
      APP_ENV: 'dev',
      REDIS_KEY_PREFIX: `rtv${randomBytes(3).toString('hex')}`,
      REDIS_HOST: redis.host,
      REDIS_PORT: String(redis.port),
      REDIS_CLUSTER: String(redis.cluster ?? false),
      COSMOS_ENDPOINT: cosmosProxy?.endpoint ?? cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'rtvoice',
      ACS_CONNECTION_STRING: acs.connectionString,
      ACS_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
      ACS_CALLBACK_AUTH: 'jwt+signature',
      ACS_CALLBACK_SIGNING_KEY: randomBytes(32).toString('base64url'),
      USER_ID_SALT: randomBytes(32).toString('base64url'),
      ACS_JWT_ISSUER: acs.jwt.issuer,
      ACS_JWT_AUDIENCE: acs.jwt.audience,
      ACS_JWKS_URL: acs.jwt.jwksUrl,
      ACS_SOURCE_NUMBER: DEMO_SOURCE_NUMBER,
      TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER,
      COGNITIVE_SERVICES_ENDPOINT: 'https://ai-services.invalid',
      AGENT_MODE: 'offline',
      LOG_LEVEL: 'warn',
      ...mediaEnv,
      ...options.env,
    });
    const runtime = createApp(config, { logger, ...(options.env ? { agentSettings: options.env } : {}) });
    built.app = runtime;
    await host.startApp();

    let media: OfflineMedia | undefined;
    if (mediaOptions && wps && realtime) {
      const relays: Relay[] = [];
      const emulator = realtime;
      const launch = async (overrides: Partial<RelayOptions> = {}): Promise<Relay> => {
        // Each relay has its own Redis connection and session store, as a separate process would.
        const redisClient = await createRedis(config.redis, { logger, connectionName: 'rtvoice-relay' });
        await redisClient.ready();
        // Traced and observed by the operations console, as the hosted relay's store is.
        const plainStore = new SessionStore(redisClient.client, runtime.keys, { logger });
        const store = instrumentStore(plainStore, runtime.console().observer);
        const leases = instrumentStore(new RelayLeases(plainStore, logger), runtime.console().observer);
        const transfer = acsTransfer(config, new CallSessions(store), () => runtime.acs(), logger);
        // Fixed prompts through the emulator's text-to-speech, cached in Redis like in Azure.
        const prompts = new FixedPrompts(new TtsCache(store, logger), await speechSynthesizerFromConfig(config, { fetch: await fetchTrusting(emulator.ca) }), { logger });
        const relay = await startRelay({
          config,
          store,
          leases,
          logger,
          realtimeSocketOptions: { ca: emulator.ca },
          onCallerTranscription: (callId, text, utteranceId) => emulator.utterances.say(text, callId, utteranceId),
          hangUp: acsHangUp(new CallSessions(store), () => runtime.acs(), logger),
          ...(transfer ? { transfer } : {}),
          lookupProfile: archiveProfileLookup(() => runtime.archive()),
          agents: () => runtime.agentTools(),
          prompts,
          affinityTtlSeconds: mediaOptions.affinityTtlSeconds ?? 10,
          ...(mediaOptions.heartbeatTtlSeconds === undefined ? {} : { heartbeatTtlSeconds: mediaOptions.heartbeatTtlSeconds }),
          ...mediaOptions.relay,
          ...overrides,
        });
        relays.push(relay);
        cleanups.push(async () => {
          await relay.close();
          await store.close();
          await redisClient.close();
        });
        return relay;
      };
      for (let i = 0; i < (mediaOptions.relays ?? 1); i++) await launch();
      media = { webPubSub: wps, webPubSubShards: shards, realtime, relays, startRelay: launch };
    }

    const eventGridUrl = `${host.baseUrl}/api/incomingCall?code=${host.keys.function}`;
    const validation = await acs.eventGrid.validate(eventGridUrl);
    if (!validation.validated) throw new Error(`the Event Grid subscription handshake failed (HTTP ${validation.status})`);

    return {
      config,
      runtime,
      acs,
      cosmos,
      ...(cosmosProxy ? { cosmosProxy } : {}),
      host,
      redis,
      eventGridUrl,
      placeCallUrl: `${host.baseUrl}/api/calls?code=${host.keys.function}`,
      ...(media ? { media } : {}),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
