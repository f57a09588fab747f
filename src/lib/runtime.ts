import type { CallAutomationClient } from '@azure/communication-call-automation';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { createChatAgent } from './agent/index.js';
import { archiveProfileLookup } from './agent/profile-lookup.js';
import type { ChatAgent } from './agent/types.js';
import { createScenarioResponder, loadAppAgents, type AgentCatalog, type ScenarioResponder, type ToolRunner } from './agents/index.js';
import { createCallAutomationClient } from './acs/client.js';
import { openArchive, type Archive } from './archive/index.js';
import { getConfig, type AppConfig } from './config/index.js';
import { createWebPubSubService, createWebPubSubServices } from './media/webpubsub-service.js';
import { RedisKeys } from './state/keys.js';
import { createRedis, type ManagedRedis } from './state/redis-client.js';
import { SessionStore } from './state/session-store.js';
import { sampleRedisInfo } from './telemetry/baselines.js';
import { consoleLogger, type Logger } from './telemetry/logger.js';
import { processLatency } from './telemetry/histograms.js';
import { registerStateSource } from './telemetry/metrics.js';

/**
 * The composition root: real clients built once per process from the validated config and
 * shared by every function invocation. Clients are created on first use, so importing a function
 * module stays cheap (cold start) and a bad setting fails the first invocation with every offending
 * variable named.
 */
export interface Runtime {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly keys: RedisKeys;
  redis(): Promise<ManagedRedis>;
  store(): Promise<SessionStore>;
  archive(): Promise<Archive>;
  acs(): Promise<CallAutomationClient>;
  agent(): Promise<ChatAgent>;
  /** The agent definitions of `AGENTS_DIR`, loaded once (undefined without the folder). */
  agents(): Promise<AgentCatalog | undefined>;
  /** The definitions with the shared tool runner (verification in Redis) and the responder that checks keyed PINs, for the relays. */
  agentTools(): Promise<{ readonly catalog: AgentCatalog; readonly tools: ToolRunner; readonly responder: ScenarioResponder } | undefined>;
  /** The Web PubSub service client of the media hub on shard 0 (the relays' control group, token minting). */
  webPubSub(): Promise<WebPubSubServiceClient>;
  /** One client per Web PubSub shard, in shard order (shard 0 is `webPubSub()`'s resource). */
  webPubSubShards(): Promise<WebPubSubServiceClient[]>;
  close(): Promise<void>;
}

/** A lazily created, shared value; a failed creation is forgotten so the next use tries again. */
function lazy<T>(create: () => Promise<T>): { get(): Promise<T>; peek(): Promise<T> | undefined; reset(): void } {
  let value: Promise<T> | undefined;
  return {
    get() {
      value ??= create().catch((err: unknown) => {
        value = undefined;
        throw err;
      });
      return value;
    },
    peek: () => value,
    reset: () => {
      value = undefined;
    },
  };
}

export interface RuntimeOverrides {
  /** Replaces the Cosmos-backed archive (the dev host passes one opened on the embedded server). */
  readonly archive?: () => Promise<Archive>;
  /** Settings agent definitions may name (`${SETTING}` in tool URLs, keys) besides the environment. */
  readonly agentSettings?: Readonly<Record<string, string | undefined>>;
}

export function createRuntime(config: AppConfig, logger: Logger = consoleLogger(config.logLevel), overrides: RuntimeOverrides = {}): Runtime {
  const keys = new RedisKeys(config.keyPrefix, config.env);
  const redis = lazy(() => createRedis(config.redis, { logger, connectionName: 'rtvoice-functions' }));
  const store = lazy(async () => {
    const managed = await redis.get();
    // Connect eagerly but do not fail on it: the store degrades to memory + journal while Redis is away.
    await managed.ready().catch((err: unknown) => logger.warn('redis not ready at start-up; degrading', { error: err as Error }));
    // The process histograms get every Redis round trip too (the Redis p99 baseline reads them).
    const sessionStore = new SessionStore(managed.client, keys, { logger, latency: processLatency });
    // Journal depth, breaker state and the Redis memory and pool baselines as metrics (when telemetry runs).
    registerStateSource('functions', { health: () => sessionStore.health(), redisInfo: () => sampleRedisInfo(managed.client) });
    return sessionStore;
  });
  const archive = lazy(
    overrides.archive ??
      (async () => {
        const managed = await redis.get();
        return openArchive(config, { redis: managed.client, logger });
      }),
  );
  const acs = lazy(() => createCallAutomationClient(config.acs, { managedIdentityClientId: config.managedIdentityClientId }));
  const webPubSub = lazy(() => createWebPubSubService(config));
  const webPubSubShards = lazy(() => createWebPubSubServices(config));
  // The transfer number comes from validated config; anything else a definition names, from the environment.
  const agentSettings = { ...process.env, ...overrides.agentSettings, TRANSFER_TARGET_NUMBER: config.acs.transferTargetNumber };
  const agents = lazy(() => loadAppAgents(config.agents.definitionsDir, logger, agentSettings));
  // The definitions with their tools and verification, shared by the chat agent and the relays.
  const definitions = lazy(async () => {
    const catalog = await agents.get();
    if (!catalog) return undefined;
    const bound = createScenarioResponder({
      catalog,
      store: await store.get(),
      audit: async (entry) => {
        await (await archive.get()).audit.append(entry);
      },
      lookupProfile: archiveProfileLookup(archive.get),
      pinHashFor: async (userId) => (await (await archive.get()).profiles.get(userId))?.pinHash,
      settings: agentSettings,
      tokenFor: managedIdentityToken(config.managedIdentityClientId),
      logger,
    });
    return { catalog, ...bound };
  });
  const agent = lazy(async () => {
    const bound = await definitions.get();
    const lookupProfile = archiveProfileLookup(archive.get);
    if (!bound) return createChatAgent(config, { lookupProfile });
    // Offline the definitions drive the deterministic responder; with a model, its prompt and tools.
    if (config.agent.mode === 'offline') return bound.responder;
    return createChatAgent(config, { lookupProfile, definitions: { catalog: bound.catalog, tools: bound.tools, responder: bound.responder } });
  });

  return {
    config,
    logger,
    keys,
    redis: redis.get,
    store: store.get,
    archive: archive.get,
    acs: acs.get,
    agent: agent.get,
    agents: agents.get,
    agentTools: async () => {
      const bound = await definitions.get();
      return bound ? { catalog: bound.catalog, tools: bound.tools, responder: bound.responder } : undefined;
    },
    webPubSub: webPubSub.get,
    webPubSubShards: webPubSubShards.get,
    async close() {
      const pendingStore = store.peek();
      const pendingArchive = archive.peek();
      const pendingRedis = redis.peek();
      store.reset();
      archive.reset();
      redis.reset();
      if (pendingStore) await (await pendingStore.catch(() => undefined))?.close();
      if (pendingArchive) await (await pendingArchive.catch(() => undefined))?.close();
      if (pendingRedis) await (await pendingRedis.catch(() => undefined))?.close();
    },
  };
}

/** Bearer tokens of the app's managed identity for HTTP tools with `auth: managedIdentity`; MSAL is loaded on first use. */
function managedIdentityToken(clientId: string | undefined): (scope: string) => Promise<string> {
  let credential: Promise<import('@azure/identity').TokenCredential> | undefined;
  return async (scope) => {
    credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}));
    const token = await (await credential).getToken(scope);
    if (!token) throw new Error(`no token for ${scope}`);
    return token.token;
  };
}

let current: Runtime | undefined;

export function runtime(): Runtime {
  current ??= createRuntime(getConfig());
  return current;
}

/** Replaces the process runtime (dev host and tests); returns the previous one so it can be closed. */
export function setRuntime(next: Runtime | undefined): Runtime | undefined {
  const previous = current;
  current = next;
  return previous;
}
