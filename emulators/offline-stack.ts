import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig, type AppConfig } from '../src/lib/config/index.js';
import { createRuntime, setRuntime, type Runtime } from '../src/lib/runtime.js';
import { consoleLogger, type Logger } from '../src/lib/telemetry/logger.js';
import { startAcsEmulator, type AcsEmulator, type AcsEmulatorOptions } from './acs/index.js';
import { startEmbeddedCosmos, type EmbeddedCosmos } from './cosmos/index.js';
import { startDevHost, type DevHost } from './devhost/index.js';
import { freePort, RedisServer } from './redis/server.js';

/**
 * The whole product, offline: Redis (the configured one or a private redis-server), the embedded
 * Cosmos server, the ACS emulator, and the dev host serving the app's real function registrations.
 * Only endpoints differ from Azure; every SDK talks real HTTP.
 */
export interface OfflineStack {
  readonly config: AppConfig;
  readonly runtime: Runtime;
  readonly acs: AcsEmulator;
  readonly cosmos: EmbeddedCosmos;
  readonly host: DevHost;
  readonly redis: { readonly host: string; readonly port: number; readonly server?: RedisServer };
  /** The Event Grid webhook of the app (`/api/incomingCall?code=<function key>`). */
  readonly eventGridUrl: string;
  /** `POST /api/calls` with the function key. */
  readonly placeCallUrl: string;
  close(): Promise<void>;
}

export interface OfflineStackOptions {
  /** Use this Redis instead of spawning one. */
  readonly redis?: { readonly host: string; readonly port: number };
  /** Extra settings (e.g. `SILENCE_REPROMPTS`, `MAX_CALL_DURATION_SECONDS`). */
  readonly env?: Readonly<Record<string, string>>;
  readonly acs?: AcsEmulatorOptions;
  /** Durable time scale of the dev host (timers). @default 1 */
  readonly timeScale?: number;
  readonly logger?: Logger;
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
    let redis: OfflineStack['redis'];
    if (options.redis) {
      redis = options.redis;
    } else {
      const server = await RedisServer.start();
      cleanups.push(() => server.dispose());
      redis = { host: server.host, port: server.port, server };
    }
    const cosmos = await startEmbeddedCosmos();
    cleanups.push(() => cosmos.close());
    const acs = await startAcsEmulator({ logger, ...options.acs });
    cleanups.push(() => acs.close());

    const port = await freePort();
    const config = loadConfig({
      APP_ENV: 'dev',
      REDIS_KEY_PREFIX: `rtv${randomBytes(3).toString('hex')}`,
      REDIS_HOST: redis.host,
      REDIS_PORT: String(redis.port),
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'rtvoice',
      ACS_CONNECTION_STRING: acs.connectionString,
      ACS_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
      ACS_CALLBACK_AUTH: 'jwt+signature',
      ACS_CALLBACK_SIGNING_KEY: randomBytes(32).toString('base64url'),
      ACS_JWT_ISSUER: acs.jwt.issuer,
      ACS_JWT_AUDIENCE: acs.jwt.audience,
      ACS_JWKS_URL: acs.jwt.jwksUrl,
      ACS_SOURCE_NUMBER: DEMO_SOURCE_NUMBER,
      TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER,
      COGNITIVE_SERVICES_ENDPOINT: 'https://ai-services.invalid',
      AGENT_MODE: 'offline',
      LOG_LEVEL: 'warn',
      ...options.env,
    });
    const runtime = createRuntime(config, logger);
    const previous = setRuntime(runtime);
    cleanups.push(async () => {
      setRuntime(previous);
      await runtime.close();
    });

    const host = await startDevHost({
      port,
      functionsDir: fileURLToPath(new URL('../src/functions/', import.meta.url)),
      logger,
      ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
    });
    cleanups.push(() => host.close());

    const eventGridUrl = `${host.baseUrl}/api/incomingCall?code=${host.keys.function}`;
    const validation = await acs.eventGrid.validate(eventGridUrl);
    if (!validation.validated) throw new Error(`the Event Grid subscription handshake failed (HTTP ${validation.status})`);

    return { config, runtime, acs, cosmos, host, redis, eventGridUrl, placeCallUrl: `${host.baseUrl}/api/calls?code=${host.keys.function}`, close };
  } catch (err) {
    await close();
    throw err;
  }
}
