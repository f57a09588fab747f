import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { RedisCluster } from '../../emulators/redis/cluster.js';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { startRealtimeEmulator, type RealtimeEmulator } from '../../emulators/realtime/index.js';
import { DEMO_SOURCE_NUMBER, DEMO_TRANSFER_NUMBER } from '../../emulators/offline-stack.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { openArchive, type Archive } from '../../src/lib/archive/index.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { startAppProcess, type AppProcess } from './app-client.js';

/**
 * Everything the soak runs apart from the app: a local Redis Cluster (3 masters + 3 replicas,
 * redis-server processes), the embedded Cosmos server in a process of its own, and in this process
 * the ACS emulator with its scripted callers, plus the Web PubSub and realtime emulators for the
 * media path. The app runs in child processes (app-process.ts) pointed at all of them, as the
 * offline stack wires them in one process: one on the recognize/play path and, since MEDIA_MODE is a
 * setting of the whole app, one on the media path with its relays.
 */
export interface SoakEnvironment {
  readonly cluster: RedisCluster;
  readonly acs: AcsEmulator;
  readonly cosmos: { readonly endpoint: string; readonly key: string; readonly pid: number | undefined };
  readonly webPubSub?: WebPubSubEmulator;
  readonly realtime?: RealtimeEmulator;
  /** The app on the recognize/play path (MEDIA_MODE=off). */
  readonly app: AppProcess;
  /** The app on the media path (MEDIA_MODE=realtime, with its relays). */
  readonly mediaApp?: AppProcess;
  /** The archive as the checks read it. */
  readonly archive: Archive;
  readonly settings: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export interface SoakEnvironmentOptions {
  readonly media: boolean;
  readonly relays: number;
  /** RELAY_STANDBY for the media app's relays. */
  readonly relayStandby: boolean;
  /** Play speed of the ACS emulator (ms of audio per character of prompt text). */
  readonly speechMsPerChar: number;
  readonly speechMsPerWord: number;
  /** `cluster-node-timeout`: how long a silent master goes before its replica takes over. */
  readonly nodeTimeoutMs: number;
  /** Where the app processes' own log lines go. */
  readonly appLogFile: string;
}

export async function startSoakEnvironment(options: SoakEnvironmentOptions): Promise<SoakEnvironment> {
  const logger = consoleLogger('error', { component: 'soak' });
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error('soak: shutdown step failed:', error));
  };
  try {
    const cluster = await RedisCluster.start({ nodeTimeoutMs: options.nodeTimeoutMs });
    cleanups.push(() => cluster.dispose());
    const cosmos = await startCosmosProcess();
    cleanups.push(() => cosmos.stop());
    const acs = await startAcsEmulator({ logger, speechMsPerChar: options.speechMsPerChar });
    cleanups.push(() => acs.close());

    let webPubSub: WebPubSubEmulator | undefined;
    let realtime: RealtimeEmulator | undefined;
    let mediaSettings: Record<string, string> = {};
    if (options.media) {
      // Event handlers are set once the app process has a port.
      webPubSub = await startWebPubSubEmulator({ logger, hubs: { media: {} } });
      const wps = webPubSub;
      cleanups.push(() => wps.close());
      // Realistic: a relay that joins mid-utterance does not get its words (as a real model would not).
      realtime = await startRealtimeEmulator({ speechMsPerWord: options.speechMsPerWord, tailTranscription: 'unintelligible' });
      const rt = realtime;
      cleanups.push(() => rt.close());
      mediaSettings = {
        MEDIA_MODE: 'realtime',
        WEBPUBSUB_CONNECTION_STRING: webPubSub.connectionString,
        WEBPUBSUB_HUB: 'media',
        AZURE_OPENAI_ENDPOINT: realtime.endpoint,
        AZURE_OPENAI_API_KEY: realtime.apiKey,
        AZURE_OPENAI_REALTIME_DEPLOYMENT: realtime.deployment,
        RELAY_STANDBY: String(options.relayStandby),
      };
    }

    // The apps reach the cluster through a replica's address, so the seed is not the master the soak kills.
    const replica = (await cluster.topology()).find((v) => v.role === 'replica');
    if (!replica) throw new Error('the cluster has no replica');
    const seed = cluster.node(replica.port);
    const settings: Record<string, string> = {
      APP_ENV: 'dev',
      REDIS_HOST: seed.host,
      REDIS_PORT: String(seed.port),
      REDIS_CLUSTER: 'true',
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'rtvoice',
      ACS_CONNECTION_STRING: acs.connectionString,
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
      LOG_LEVEL: 'error',
    };
    // The archive's database and containers exist before two app processes race to create them.
    const archive = await openArchive(loadConfig({ ...settings, REDIS_KEY_PREFIX: 'soak', ACS_CALLBACK_BASE_URL: 'http://127.0.0.1:1' }));
    cleanups.push(() => archive.close());

    // MEDIA_MODE is a setting of the whole app, so each path has an app process of its own.
    const app = await startAppProcess({ name: 'recognize', settings: { ...settings, REDIS_KEY_PREFIX: `soakr${randomBytes(3).toString('hex')}`, MEDIA_MODE: 'off' }, logFile: options.appLogFile });
    cleanups.push(() => app.close());
    let mediaApp: AppProcess | undefined;
    if (webPubSub && realtime) {
      const utterances = realtime.utterances;
      mediaApp = await startAppProcess({
        name: 'media',
        settings: { ...settings, REDIS_KEY_PREFIX: `soakm${randomBytes(3).toString('hex')}`, ...mediaSettings },
        logFile: options.appLogFile,
        media: { relays: options.relays, webPubSubAccessKey: webPubSub.accessKey, webPubSubEndpoint: webPubSub.endpoint, realtimeCa: realtime.ca, heartbeatTtlSeconds: 5 },
        onUtterance: (callId, text, utteranceId) => utterances.say(text, callId, utteranceId),
      });
      const started = mediaApp;
      cleanups.push(() => started.close());
      webPubSub.setEventHandlers('media', [{ urlTemplate: mediaApp.webPubSubWebhookUrl, systemEvents: ['connected', 'disconnected'] }]);
    }
    for (const each of [app, mediaApp]) {
      if (!each) continue;
      const validation = await acs.eventGrid.validate(each.eventGridUrl);
      if (!validation.validated) throw new Error(`the Event Grid subscription handshake failed (HTTP ${validation.status})`);
    }
    return { cluster, acs, cosmos, archive, ...(webPubSub ? { webPubSub } : {}), ...(realtime ? { realtime } : {}), app, ...(mediaApp ? { mediaApp } : {}), settings, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The embedded Cosmos server (emulators/cosmos/serve.ts) as a process: its CPU is neither the app's nor the callers'. */
async function startCosmosProcess(): Promise<{ endpoint: string; key: string; pid: number | undefined; stop(): Promise<void> }> {
  const entry = fileURLToPath(new URL('../../emulators/cosmos/serve.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const lines = createInterface({ input: child.stdout! });
  const found: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the embedded Cosmos server did not start in time')), 30_000);
    lines.on('line', (line) => {
      const match = /^(COSMOS_ENDPOINT|COSMOS_KEY)=(.*)$/.exec(line);
      if (match) found[match[1] as string] = match[2] as string;
      if (found.COSMOS_ENDPOINT && found.COSMOS_KEY) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the embedded Cosmos server exited (${code})`)));
  });
  return {
    endpoint: found.COSMOS_ENDPOINT as string,
    key: found.COSMOS_KEY as string,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
