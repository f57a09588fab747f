import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { createChatAgent } from '../agent/index.js';
import { COGNITIVE_SERVICES_SCOPE } from '../agent/azure-openai.js';
import { archiveProfileLookup } from '../agent/profile-lookup.js';
import type { ChatAgent } from '../agent/types.js';
import { createScenarioResponder, openAppAgents, type AgentCatalog, type ScenarioResponder, type ToolRunner } from '../agents/index.js';
import { createCallbackAuthenticator, type CallbackAuthenticator } from '../acs/callback-auth.js';
import { AcsClient, createCallAutomationClient } from '../acs/client.js';
import { openArchive, type Archive } from '../archive/index.js';
import { lifecycleDeps } from '../calls/lifecycle-deps.js';
import type { AppConfig } from '../config/index.js';
import { createConsoleServices, type ConsoleServices } from '../console/index.js';
import type { LifecycleDeps } from '../lifecycle/index.js';
import { createHostedRelay, type HostedRelay } from '../media/relay-host.js';
import { createWebPubSubService, createWebPubSubServices } from '../media/webpubsub-service.js';
import { AuthStates, CallSessions, RedisKeys, RelayLeases, SessionStore, TtsCache, TurnFencing, createRedis, type ManagedRedis } from '../state/index.js';
import { sampleRedisInfo } from '../telemetry/baselines.js';
import { instrumentAcsClient, instrumentAgent, instrumentStore } from '../telemetry/call-instrumentation.js';
import { consoleLogger, type Logger } from '../telemetry/logger.js';
import { once } from '../once.js';
import { processLatency } from '../telemetry/histograms.js';
import { registerStateSource } from '../telemetry/metrics.js';
import { appCredential, bearerTokens, type CredentialSource } from './credential.js';

/**
 * The composition root: config → one credential → clients → store and archive → services. Every
 * function invocation of a process shares one app (see `current.ts`). Clients are created on first
 * use, so building the app costs nothing and a client that cannot be built fails the invocation that
 * needed it, not the others.
 */
export interface App {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly keys: RedisKeys;
  /** The app's Entra ID identity, shared by every client that is not given a key. */
  readonly credential: CredentialSource;
  /** Azure OpenAI bearer tokens of {@link credential} (chat, realtime, text-to-speech). */
  readonly cognitiveServicesToken: () => Promise<string>;
  redis(): Promise<ManagedRedis>;
  store(): Promise<SessionStore>;
  /** The call sessions over {@link store} (not traced; call control's are, see `calls/wiring.ts`). */
  callSessions(): Promise<CallSessions>;
  /** Event claims, turn leases and the closed mark of the calls (not traced; call control's are). */
  turnFencing(): Promise<TurnFencing>;
  /** The store, repositories, ACS client and agent of call control, traced and observed by the operations console. */
  callControlState(): Promise<CallControlState>;
  /** Call affinity, relay heartbeats and the live-media registry (not traced; the relay's are). */
  relayLeases(): Promise<RelayLeases>;
  /** Synthesised prompt audio, in Redis and memory. */
  ttsCache(): Promise<TtsCache>;
  archive(): Promise<Archive>;
  /** The Call Automation client with its per-call handles (not traced; call control's is). */
  acs(): Promise<AcsClient>;
  agent(): Promise<ChatAgent>;
  /** The agent definitions from `AGENTS_SOURCE` (undefined without an `AGENTS_DIR` folder); a Cosmos source answers from its newest good version. */
  agents(): Promise<AgentCatalog | undefined>;
  /** The definitions with the shared tool runner (verification in Redis) and the responder that checks keyed PINs, for the relays. */
  agentTools(): Promise<{ readonly catalog: AgentCatalog; readonly tools: ToolRunner; readonly responder: ScenarioResponder } | undefined>;
  /** The Web PubSub service client of the media hub on shard 0 (the relays' control group, token minting). */
  webPubSub(): Promise<WebPubSubServiceClient>;
  /** One client per Web PubSub shard, in shard order (shard 0 is `webPubSub()`'s resource). */
  webPubSubShards(): Promise<WebPubSubServiceClient[]>;
  /** The ACS callback authenticator (its JWKS cache lives as long as the app). */
  callbackAuthenticator(): CallbackAuthenticator;
  /** The operations console: live-call registry, feed observer, snapshot. */
  console(): ConsoleServices;
  /** What the Durable Functions activities of the call lifecycle act on. */
  lifecycle(): LifecycleDeps;
  /** The media relay of this instance (started only in the relay role). */
  readonly relay: HostedRelay;
  /** Stops the relay and closes every client that was opened. */
  close(): Promise<void>;
}

export interface CallControlState {
  readonly store: SessionStore;
  readonly sessions: CallSessions;
  readonly fencing: TurnFencing;
  /** The ACS client with spans around its requests and handles of its own; created on first use. */
  readonly acs: () => Promise<AcsClient>;
  readonly agent: ChatAgent;
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

export interface AppOverrides {
  readonly logger?: Logger;
  /** Replaces the app's `DefaultAzureCredential` (tools signed in as someone else). */
  readonly credential?: CredentialSource;
  /** Replaces the Cosmos-backed archive (the dev host passes one opened on the embedded server). */
  readonly archive?: () => Promise<Archive>;
  /** Settings agent definitions may name (`${SETTING}` in tool URLs, keys) besides the environment. */
  readonly agentSettings?: Readonly<Record<string, string | undefined>>;
  /** Replaces the lifecycle activities' dependencies (orchestration tests record them). */
  readonly lifecycle?: (app: App) => LifecycleDeps;
}

/**
 * @example
 * const app = createApp(loadConfig(process.env));
 * const store = await app.store();
 */
export function createApp(config: AppConfig, overrides: AppOverrides = {}): App {
  const logger = overrides.logger ?? consoleLogger(config.logLevel);
  const keys = new RedisKeys(config.keyPrefix, config.env);
  const credential = overrides.credential ?? appCredential(config.managedIdentityClientId);
  const cognitiveServicesToken = bearerTokens(credential, COGNITIVE_SERVICES_SCOPE);
  const redis = lazy(() => createRedis(config.redis, { logger, connectionName: 'rtvoice-functions', credential }));
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
  const callSessions = lazy(async () => new CallSessions(await store.get()));
  const ttsCache = lazy(async () => new TtsCache(await store.get(), logger));
  const authStates = lazy(async () => new AuthStates(await store.get()));
  const turnFencing = lazy(async () => new TurnFencing(await store.get(), logger));
  const relayLeases = lazy(async () => new RelayLeases(await store.get(), logger));
  // Traced (spans, the turn's stage times) and observed by the console; the sessions write through the
  // traced store, whose createCallSession / updateCallSession the console feed listens to.
  const callControlState = lazy(async (): Promise<CallControlState> => {
    const [plain, fencing, plainAgent] = await Promise.all([store.get(), turnFencing.get(), agent.get()]);
    const observer = app.console().observer;
    const observed = instrumentStore(plain, observer);
    return {
      store: observed,
      sessions: new CallSessions(observed),
      fencing: instrumentStore(fencing, observer),
      acs: tracedAcs.get,
      agent: instrumentAgent(plainAgent),
    };
  });
  const archive = lazy(
    overrides.archive ??
      (async () => {
        const managed = await redis.get();
        return openArchive(config, { redis: managed.client, logger, clientOptions: { credential } });
      }),
  );
  const acs = lazy(async () => new AcsClient(await createCallAutomationClient(config.acs, { credential })));
  // The traced client keeps handles of its own: a handle built on the plain client would make untraced requests.
  const tracedAcs = lazy(async () => new AcsClient(instrumentAcsClient((await acs.get()).client)));
  const webPubSub = lazy(() => createWebPubSubService(config, 0, { credential }));
  const webPubSubShards = lazy(() => createWebPubSubServices(config, { credential }));
  // The transfer number comes from validated config; anything else a definition names, from the environment.
  const agentSettings = { ...process.env, ...overrides.agentSettings, TRANSFER_TARGET_NUMBER: config.acs.transferTargetNumber };
  const agents = lazy(() => openAppAgents(config, logger, agentSettings, { credential }));
  // The definitions with their tools and verification, shared by the chat agent and the relays.
  const definitions = lazy(async () => {
    const catalog = await agents.get();
    if (!catalog) return undefined;
    const bound = createScenarioResponder({
      catalog,
      store: await authStates.get(),
      audit: async (entry) => {
        await (await archive.get()).audit.append(entry);
      },
      lookupProfile: archiveProfileLookup(archive.get),
      pinHashFor: async (userId) => (await (await archive.get()).profiles.get(userId))?.pinHash,
      settings: agentSettings,
      tokenFor: managedIdentityToken(credential),
      logger,
    });
    return { catalog, ...bound };
  });
  // With a key the agent needs no token; without one, Entra ID tokens of the app's credential.
  const agentAuth = config.agent.apiKey ? {} : { tokenProvider: cognitiveServicesToken };
  const agent = lazy(async () => {
    const bound = await definitions.get();
    const lookupProfile = archiveProfileLookup(archive.get);
    if (!bound) return createChatAgent(config, { lookupProfile, ...agentAuth });
    // Offline the definitions drive the deterministic responder; with a model, its prompt and tools.
    if (config.agent.mode === 'offline') return bound.responder;
    return createChatAgent(config, { lookupProfile, ...agentAuth, definitions: { catalog: bound.catalog, tools: bound.tools, responder: bound.responder } });
  });

  const app: App = {
    config,
    logger,
    keys,
    credential,
    cognitiveServicesToken,
    redis: redis.get,
    store: store.get,
    callSessions: callSessions.get,
    ttsCache: ttsCache.get,
    turnFencing: turnFencing.get,
    relayLeases: relayLeases.get,
    callControlState: callControlState.get,
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
    callbackAuthenticator: once(() => createCallbackAuthenticator(config.acs)),
    console: once(() => createConsoleServices(app)),
    lifecycle: once(() => (overrides.lifecycle ?? lifecycleDeps)(app)),
    get relay() {
      return relay();
    },
    async close() {
      await relay().stop();
      const pendingStore = store.peek();
      const pendingArchive = archive.peek();
      const pendingRedis = redis.peek();
      store.reset();
      callSessions.reset();
      ttsCache.reset();
      authStates.reset();
      turnFencing.reset();
      relayLeases.reset();
      callControlState.reset();
      archive.reset();
      redis.reset();
      if (pendingStore) await (await pendingStore.catch(() => undefined))?.close();
      if (pendingArchive) await (await pendingArchive.catch(() => undefined))?.close();
      if (pendingRedis) await (await pendingRedis.catch(() => undefined))?.close();
    },
  };
  const relay = once(() => createHostedRelay(app));
  return app;
}

/** Bearer tokens of the app's identity for HTTP tools with `auth: managedIdentity`. */
function managedIdentityToken(credential: CredentialSource): (scope: string) => Promise<string> {
  return async (scope) => {
    const token = await (await credential()).getToken(scope);
    if (!token) throw new Error(`no token for ${scope}`);
    return token.token;
  };
}
