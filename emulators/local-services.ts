/**
 * The local stand-ins for Azure on fixed, well-known ports and keys, so that one
 * `local.settings.json` (the committed sample, unchanged) stays valid from one run to the next:
 * `npm run emulators` starts them for `func start`, `npm run dev` for the dev host. Every port can
 * be moved with a flag; the settings printed then follow.
 *
 * The keys below are not secrets: they open emulators on 127.0.0.1 and nothing else, like the
 * Storage and Cosmos emulators' published keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../src/lib/telemetry/logger.js';
import { startAcsEmulator, type AcsEmulator, type AcsEmulatorOptions } from './acs/index.js';
import { startEmbeddedCosmos, EMBEDDED_COSMOS_KEY, type EmbeddedCosmos } from './cosmos/index.js';
import { RedisServer } from './redis/server.js';
import { startWebPubSubEmulator, type WebPubSubEmulator } from './webpubsub/index.js';

export interface LocalPorts {
  readonly functions: number;
  readonly redis: number;
  readonly acs: number;
  readonly webPubSub: number;
  readonly cosmos: number;
  /** Azurite's blob, queue and table services (UseDevelopmentStorage=true means 10000–10002). */
  readonly blob: number;
  readonly queue: number;
  readonly table: number;
}

/** 6380, not 6379: a Redis of the machine's own stays untouched. 8081 is where the Cosmos emulator listens. */
export const DEFAULT_PORTS: LocalPorts = { functions: 7071, redis: 6380, acs: 7080, webPubSub: 7081, cosmos: 8081, blob: 10000, queue: 10001, table: 10002 };

export const SERVICE_NAMES: Readonly<Record<keyof LocalPorts, string>> = {
  functions: 'the Functions host (func start or the dev host)',
  redis: 'redis-server',
  acs: 'the ACS emulator',
  webPubSub: 'the Web PubSub emulator',
  cosmos: 'the embedded Cosmos server',
  blob: 'Azurite blob',
  queue: 'Azurite queue',
  table: 'Azurite table',
};

/** The flag that moves each port, e.g. `--acs-port 7090`. */
export const PORT_FLAGS: Readonly<Record<keyof LocalPorts, string>> = {
  functions: 'functions-port',
  redis: 'redis-port',
  acs: 'acs-port',
  webPubSub: 'webpubsub-port',
  cosmos: 'cosmos-port',
  blob: 'blob-port',
  queue: 'queue-port',
  table: 'table-port',
};

export const LOCAL_KEYS = {
  acsAccessKey: Buffer.from('rtvoice-local-acs-emulator-access-key').toString('base64'),
  /** `aud` of the ACS emulator's callback JWTs (ACS uses its resource's immutable id, a GUID). */
  acsAudience: '00000000-0000-4000-8000-00000000a5c5',
  webPubSubAccessKey: 'rtvoice-local-webpubsub-emulator-access-key',
  cosmosKey: EMBEDDED_COSMOS_KEY,
  /** Local only: Azure gets both from Key Vault, generated at deployment. */
  callbackSigningKey: 'local-only-callback-signing-key-not-a-secret',
  userIdSalt: 'local-only-user-id-salt-not-a-secret-0000',
  /** The dev host's function key (Core Tools does not check keys when it runs locally). */
  functionKey: 'local-only-function-key',
} as const;

/** The app settings that point the app at these services, as `local.settings.sample.json` holds them. */
export function localSettings(ports: LocalPorts = DEFAULT_PORTS): Record<string, string> {
  const acs = `http://127.0.0.1:${ports.acs}`;
  return {
    AzureWebJobsStorage: ports.blob === 10000 && ports.queue === 10001 && ports.table === 10002 ? 'UseDevelopmentStorage=true' : azuriteConnectionString(ports),
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(ports.redis),
    COSMOS_ENDPOINT: `http://127.0.0.1:${ports.cosmos}`,
    COSMOS_KEY: LOCAL_KEYS.cosmosKey,
    USER_ID_SALT: LOCAL_KEYS.userIdSalt,
    ACS_CONNECTION_STRING: `endpoint=${acs}/;accesskey=${LOCAL_KEYS.acsAccessKey}`,
    ACS_CALLBACK_BASE_URL: `http://127.0.0.1:${ports.functions}`,
    ACS_CALLBACK_SIGNING_KEY: LOCAL_KEYS.callbackSigningKey,
    ACS_JWT_ISSUER: acs,
    ACS_JWT_AUDIENCE: LOCAL_KEYS.acsAudience,
    ACS_JWKS_URL: `${acs}/calling/keys`,
    WEBPUBSUB_CONNECTION_STRING: `Endpoint=http://127.0.0.1;Port=${ports.webPubSub};AccessKey=${LOCAL_KEYS.webPubSubAccessKey};Version=1.0;`,
  };
}

/** Azurite's well-known development account (published with Azurite; not a secret). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(ports: Pick<LocalPorts, 'blob' | 'queue' | 'table'>): string {
  const base = 'http://127.0.0.1';
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${base}:${ports.blob}/${AZURITE_ACCOUNT};QueueEndpoint=${base}:${ports.queue}/${AZURITE_ACCOUNT};TableEndpoint=${base}:${ports.table}/${AZURITE_ACCOUNT};`
  );
}

/** The ACS emulator options that match `localSettings` (fixed key and audience; the issuer is its own URL). */
export function acsOptionsFor(ports: LocalPorts): Pick<AcsEmulatorOptions, 'port' | 'accessKey' | 'audience'> {
  return { port: ports.acs, accessKey: LOCAL_KEYS.acsAccessKey, audience: LOCAL_KEYS.acsAudience };
}

/** A port that is already taken, named with the flag that moves it. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(readonly service: keyof LocalPorts, readonly port: number) {
    super(`port ${port} (${SERVICE_NAMES[service]}) is already in use: stop what holds it (another \`npm run emulators\` or \`npm run dev\`?) or pass --${PORT_FLAGS[service]} <port>`);
  }
}

/** Runs `start`, turning EADDRINUSE into a PortInUseError that says which flag moves the port. */
export async function onPort<T>(service: keyof LocalPorts, port: number, start: () => Promise<T>): Promise<T> {
  if (port !== 0 && (await portAnswers(port))) throw new PortInUseError(service, port);
  try {
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(service, port);
    throw error;
  }
}

/** Something accepts connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

export interface LocalServicesOptions {
  readonly ports?: Partial<LocalPorts>;
  /** Start a private redis-server on `ports.redis`. @default true */
  readonly redis?: boolean;
  /** @default true */
  readonly cosmos?: boolean;
  /** Start Azurite for AzureWebJobsStorage (what Durable Functions needs under func start). @default true */
  readonly azurite?: boolean;
  readonly logger: Logger;
}

export interface LocalServices {
  readonly ports: LocalPorts;
  readonly settings: Record<string, string>;
  readonly acs: AcsEmulator;
  readonly webPubSub: WebPubSubEmulator;
  readonly cosmos?: EmbeddedCosmos;
  readonly redis?: RedisServer;
  readonly azurite?: Azurite;
  close(): Promise<void>;
}

/** Starts what `npm run emulators` serves; on a failure, what was started is stopped again. */
export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const ports: LocalPorts = { ...DEFAULT_PORTS, ...options.ports };
  const { logger } = options;
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => logger.error('stopping a local service failed', { error: error as Error }));
  };
  try {
    const redis = options.redis === false ? undefined : await onPort('redis', ports.redis, () => RedisServer.start(ports.redis === 0 ? {} : { port: ports.redis }));
    if (redis) cleanups.push(() => redis.dispose());
    const acs = await onPort('acs', ports.acs, () => startAcsEmulator({ ...acsOptionsFor(ports), logger, controlApi: true }));
    cleanups.push(() => acs.close());
    const webPubSub = await onPort('webPubSub', ports.webPubSub, () =>
      startWebPubSubEmulator({
        port: ports.webPubSub,
        accessKey: LOCAL_KEYS.webPubSubAccessKey,
        logger,
        hubs: { media: { eventHandlers: [{ urlTemplate: `http://127.0.0.1:${ports.functions}/runtime/webhooks/webpubsub`, systemEvents: ['connected', 'disconnected'] }] } },
      }),
    );
    cleanups.push(() => webPubSub.close());
    const cosmos = options.cosmos === false ? undefined : await onPort('cosmos', ports.cosmos, () => startEmbeddedCosmos({ port: ports.cosmos }));
    if (cosmos) cleanups.push(() => cosmos.close());
    let azurite: Azurite | undefined;
    if (options.azurite !== false) {
      for (const service of ['blob', 'queue', 'table'] as const) if (await portAnswers(ports[service])) throw new PortInUseError(service, ports[service]);
      azurite = await startAzurite(ports);
      const started = azurite;
      cleanups.push(() => started.close());
    }
    return { ports, settings: localSettings(ports), acs, webPubSub, ...(cosmos ? { cosmos } : {}), ...(redis ? { redis } : {}), ...(azurite ? { azurite } : {}), close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Azurite {
  readonly pid: number | undefined;
  close(): Promise<void>;
}

/**
 * Azurite (the `azurite` package, Microsoft's Storage emulator) in a child process, in memory, on
 * the three ports. Ready when all three accept connections.
 */
export async function startAzurite(ports: Pick<LocalPorts, 'blob' | 'queue' | 'table'>): Promise<Azurite> {
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  const location = mkdtempSync(join(tmpdir(), 'rtvoice-azurite-'));
  const args = [entry, '--silent', '--inMemoryPersistence', '--skipApiVersionCheck',
    '--blobHost', '127.0.0.1', '--blobPort', String(ports.blob), '--queueHost', '127.0.0.1', '--queuePort', String(ports.queue), '--tableHost', '127.0.0.1', '--tablePort', String(ports.table)];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: location, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(location, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`Azurite exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    const up = await Promise.all([ports.blob, ports.queue, ports.table].map(portAnswers));
    if (up.every(Boolean)) return { pid: child.pid, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`Azurite did not listen on ${ports.blob}/${ports.queue}/${ports.table} within 20 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
