/**
 * The media relay worker: one Web PubSub client connection per process bridging every call it owns
 * between ACS (groups `call.<id>.in` / `call.<id>.out`) and a realtime agent session.
 *
 * Assignment. The webPubSubTrigger function announces each ACS media connection on the relays' control
 * group (never to a relay of its own instance: relays run only in the relay role). Every relay races
 * for the call's affinity key (`SET NX EX`); the winner joins `call.<id>.in`, loads the conversation
 * from Redis and connects the agent; the others remember the call and its owner. No relay polls for new
 * calls, and no frame ever passes through a function.
 *
 * Liveness. Each relay heartbeats (`worker:{id}:heartbeat`) and renews the affinity of its calls on
 * every beat. When an owner is gone — its Web PubSub connection dropped (`relay-lost`), or its heartbeat
 * key expired (checked on each beat for the calls a relay remembers) — another relay takes the call over
 * with compare-and-delete + `SET NX`, rebuilds the conversation from Redis and carries on. A relay that
 * loses a call's key (renewal refused, or a `call-claimed` by another relay) lets the call go at once.
 * While Redis is unreachable an owner keeps its calls: turns go to the session store's journal.
 *
 * A graceful stop releases every call and announces it again, so another relay takes it at once. A
 * dropped agent socket is reopened by the call's bridge with the conversation so far.
 *
 * Recovery. Announcements reach only the relays running at the time, so the trigger also records each
 * live ACS media connection in a registry hash (`system:{media}:calls`). A relay reads it once on its
 * first beat: calls nobody holds, or whose holder's heartbeat is gone, are taken over as above; the
 * others are watched; entries whose call session is gone are pruned. So a relay that replaces the only
 * one (a recycled instance) picks up the calls in progress instead of leaving them silent.
 *
 * Shards. With several Web PubSub resources a relay holds one connection per shard (shard 0's also
 * carries the control group) and bridges each call on the shard its session names (`mediaShard`).
 *
 * Limits of this design: a relay whose own Web PubSub connection drops and reconnects (a network blip)
 * is reported as lost and hands its calls over (the caller hears a short gap).
 */

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient, WebPubSubJsonProtocol } from '@azure/web-pubsub-client';
import type { AppConfig } from '../config/index.js';
import type { SessionStore } from '../state/session-store.js';
import { ConversationManager } from '../state/conversation/conversation-manager.js';
import { RedisUnavailableError } from '../state/errors.js';
import { classify } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { countInboundMessages, relayCallTelemetry } from '../telemetry/relay-turns.js';
import { DEFAULT_VAD_SILENCE_MS } from '../agent/realtime/session-config.js';
import type { CompletedTurn, ToolCallRequest } from '../agent/realtime/index.js';
import type { JsonValue } from '../state/codec.js';
import { CallBridge, type BargeInRecord, type CallBridgeOptions, type CallBridgeStats } from './call-bridge.js';
import type { StoreHealth } from '../state/tiered-store.js';
import { realtimeAgentFactory, type AgentSessionFactory } from './agent-port.js';
import { inboundGroup, RELAY_CONTROL_GROUP, relayUserId } from './groups.js';
import { parseRelayControl, type RelayControlMessage } from './relay-control.js';
import { createWebPubSubServices } from './webpubsub-service.js';
import { profileToolOutput } from './call-actions.js';
import type { CallerProfile } from '../agent/types.js';
import type { FixedPrompts } from '../agent/tts.js';
import { RelayError } from './errors.js';
import type { DefinitionBinding } from '../agents/model-binding.js';
import { mediaAgentDefinition } from '../agents/media-binding.js';
import { StandbyRelay, type StandbyStats } from './standby.js';

export { RelayError } from './errors.js';


export type RelayOptions = {
  readonly config: AppConfig;
  readonly store: SessionStore;
  readonly logger: Logger;
  /** Unique per process. @default `<host>-<pid>-<random>` */
  readonly workerId?: string;
  /** One resource. @default a client per shard from `config.webPubSub` */
  readonly service?: WebPubSubServiceClient;
  /** Every shard's client, in shard order (the relay serves them all). @default from `config.webPubSub` */
  readonly services?: readonly WebPubSubServiceClient[];
  /** @default Azure OpenAI realtime from `config.agent` */
  readonly agent?: AgentSessionFactory;
  /** TLS options for the realtime socket (a local emulator's `ca`), used by the default agent. */
  readonly realtimeSocketOptions?: { readonly ca?: string };
  /** @default the worker_heartbeat policy (30 s); beats every third of it */
  readonly heartbeatTtlSeconds?: number;
  /** @default the worker_affinity policy (60 s) */
  readonly affinityTtlSeconds?: number;
  /** Tool implementations for the agent (end_call, transfer_to_human…). */
  readonly tools?: (callId: string) => ((call: ToolCallRequest) => unknown) | undefined;
  /**
   * The agent definitions, their tool runner and the responder that verifies keyed PINs: a call's
   * scenario then sets the session's instructions, tools and voice, and its handoffs switch them.
   */
  readonly agents?: () => Promise<DefinitionBinding | undefined>;
  /** Offline agents only: ACS's TranscriptionData text (see emulators/acs). */
  readonly onCallerTranscription?: (callId: string, text: string, utteranceId?: string) => void;
  readonly onTurn?: (callId: string, turn: CompletedTurn) => void;
  readonly onBargeIn?: (callId: string, bargeIn: BargeInRecord) => void;
  /** Ends a call through ACS; enables the agent's `end_call` tool (see {@link acsHangUp}). */
  readonly hangUp?: (callId: string) => Promise<void>;
  /** Transfers a call to the configured number (or the scenario's); enables `transfer_to_human` (see `acsTransfer`). */
  readonly transfer?: (callId: string, targetNumber?: string) => Promise<void>;
  /** How each call's agent audio is coalesced into AudioData messages (see outbound-audio.ts). @default 120-200 ms messages */
  readonly outboundAudio?: CallBridgeOptions['outboundAudio'];
  /** Fixed prompts from the TTS cache (the greeting, hold before a transfer, failure when the agent is unreachable). */
  readonly prompts?: FixedPrompts;
  /** Profiles by user id; enables `lookup_profile` for calls whose session has a `callerUserId`. */
  readonly lookupProfile?: (userId: string) => Promise<CallerProfile | undefined>;
  /**
   * Called with the time (ms) the relay spent on each caller frame, from the group message to the
   * agent hand-off returning (with a synchronous agent, the agent's answer frame sent too). For
   * latency histograms and benchmarks; not measured when absent.
   */
  readonly onFrameTiming?: (durationMs: number) => void;
  readonly signal?: AbortSignal;
};

export type RelayStats = {
  readonly calls: number;
  readonly watched: number;
  readonly claims: number;
  readonly takeovers: number;
  readonly released: number;
  /** Fire-and-forget frame or control sends the Web PubSub client refused (counted, not logged per frame). */
  readonly sendFailures: number;
  /** With RELAY_STANDBY: the calls this relay stands by for, and what it kept and replayed. */
  readonly standby?: StandbyStats;
};

export interface Relay {
  readonly workerId: string;
  /** Calls this relay owns. */
  calls(): string[];
  bridge(callId: string): CallBridge | undefined;
  stats(): RelayStats & { readonly perCall: ReadonlyMap<string, CallBridgeStats> };
  /** The relay's session store: `degraded` with a journal depth while Redis is away. */
  stateHealth(): StoreHealth;
  /**
   * A `connected` event for the call's ACS media connection: try to own the call. Resolves true when
   * this relay owns it. A connection already reported disconnected is refused (events may cross).
   */
  handleConnected(callId: string, connectionId?: string): Promise<boolean>;
  /**
   * The call's ACS media connection is gone: close its session, persist, release — unless ACS has
   * reconnected the call's media on a newer connection meanwhile.
   */
  handleDisconnected(callId: string, connectionId?: string): Promise<void>;
  /** Graceful stop (scale-in, deployment): every call is persisted, released and handed to the other relays. */
  close(): Promise<void>;
  /**
   * Stops at once, as a killed process would look to the others: the socket closes, heartbeats stop,
   * sessions end, nothing is flushed or released. For fatal errors (and failover tests).
   */
  terminate(): Promise<void>;
}


/** Whether the call session says there is no call to bridge: gone (finalised or never created) or over. */
function callHasEnded(session: Record<string, JsonValue> | undefined): boolean {
  return session === undefined || session.state === 'disconnected' || session.state === 'answer_failed';
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const relay = new MediaRelay(options);
  await relay.start();
  return relay;
}

type Watched = { owner: string | null };

const MAX_WATCHED = 10_000;
const CLAIM_RETRY_FIRST_MS = 250;
/** Ended media connections remembered, so a `connected` that arrives after its `disconnected` is ignored. */
const MAX_ENDED_CONNECTIONS = 10_000;

class MediaRelay implements Relay {
  readonly workerId: string;
  private readonly bridges = new Map<string, CallBridge>();
  /** `call.<id>.in` → bridge: the hot path's one lookup. */
  private readonly byGroup = new Map<string, CallBridge>();
  private readonly claiming = new Map<string, Promise<boolean>>();
  private readonly watched = new Map<string, Watched>();
  private readonly claimRetries = new Map<string, NodeJS.Timeout>();
  private readonly claimAttempts = new Map<string, number>();
  /** The latest ACS media connection seen per call, and connections known to have ended. */
  private readonly mediaConnection = new Map<string, string>();
  private readonly endedConnections = new Set<string>();
  private readonly agent: AgentSessionFactory;
  private readonly logger: Logger;
  private readonly heartbeatTtlSeconds: number;
  private readonly affinityTtlSeconds: number;
  /** One Web PubSub connection per shard, in shard order. */
  private clients: WebPubSubClient[] = [];
  /** The shard of each call this relay owns (from the call session's `mediaShard`). */
  private readonly callShard = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The registry of live media calls has been read (see {@link recover}). */
  private recovered = false;
  private counters = { claims: 0, takeovers: 0, released: 0, sendFailures: 0 };
  /** RELAY_STANDBY: the calls this relay stands by for (see standby.ts). */
  private readonly standby: StandbyRelay | undefined;
  /** The shard of each call this relay stands by for. */
  private readonly standbyShard = new Map<string, number>();

  constructor(private readonly options: RelayOptions) {
    this.workerId = options.workerId ?? `${hostname().replace(/[^A-Za-z0-9-]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.logger = options.logger;
    this.heartbeatTtlSeconds = options.store.keys.ttl('worker', 'heartbeat', options.heartbeatTtlSeconds);
    this.affinityTtlSeconds = options.store.keys.ttl('worker', 'affinity', options.affinityTtlSeconds);
    this.agent = options.agent ?? realtimeAgentFactory(options.config, { logger: options.logger, ...(options.realtimeSocketOptions ? { socketOptions: options.realtimeSocketOptions } : {}) });
    this.standby = options.config.webPubSub.relayStandby ? this.createStandby() : undefined;
  }

  private createStandby(): StandbyRelay {
    return new StandbyRelay({
      workerId: this.workerId,
      store: this.options.store,
      logger: this.logger,
      ttlSeconds: this.affinityTtlSeconds,
      vadSilenceMs: DEFAULT_VAD_SILENCE_MS,
      // Not `claiming`: a relay that just lost the claim offers to stand by from inside it.
      owns: (callId) => this.bridges.has(callId),
      joinGroup: async (callId, group) => {
        const session = await this.options.store.getCallSession(callId);
        const shard = typeof session?.mediaShard === 'number' ? session.mediaShard : 0;
        this.standbyShard.set(callId, shard);
        await this.clients[shard]?.joinGroup(group);
      },
      leaveGroup: async (callId, group) => {
        const shard = this.standbyShard.get(callId) ?? 0;
        this.standbyShard.delete(callId);
        await this.clients[shard]?.leaveGroup(group);
      },
    });
  }

  async start(): Promise<void> {
    const services = this.options.services ?? (this.options.service ? [this.options.service] : await createWebPubSubServices(this.options.config));
    // One connection per shard; shard 0's also hears the control group.
    this.clients = services.map((service, shard) => this.connect(service, shard));
    try {
      await Promise.all(this.clients.map((client) => client.start()));
    } catch (error) {
      for (const client of this.clients) client.stop(); // no half-started client keeps reconnecting behind a relay that never started
      throw new RelayError('the relay could not connect to Web PubSub', true, { cause: error });
    }
    await this.beat();
    this.schedule();
    this.options.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.logger.info('media relay started', { workerId: this.workerId });
  }

  private connect(service: WebPubSubServiceClient, shard: number): WebPubSubClient {
    const groups = shard === 0 ? [RELAY_CONTROL_GROUP] : [];
    const client = new WebPubSubClient(
      {
        getClientAccessUrl: async () => (await service.getClientAccessToken({ userId: relayUserId(this.workerId), roles: ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'], groups })).url,
      },
      { protocol: WebPubSubJsonProtocol(), autoReconnect: true, autoRejoinGroups: true },
    );
    client.on('group-message', ({ message }) => {
      const bridge = this.byGroup.get(message.group);
      if (bridge) {
        if (typeof message.data !== 'string') return;
        countInboundMessages(1);
        const timing = this.options.onFrameTiming;
        if (timing === undefined) {
          bridge.onInboundFrame(message.data);
        } else {
          const startedAt = performance.now();
          bridge.onInboundFrame(message.data);
          timing(performance.now() - startedAt);
        }
        return;
      }
      if (this.standby?.onGroupMessage(message.group, message.data)) return;
      if (shard === 0 && message.group === RELAY_CONTROL_GROUP) this.onControl(parseRelayControl(message.data));
    });
    return client;
  }

  /** The connection to the shard a call's media goes through (shard 0 when unknown). */
  private clientOf(callId: string): WebPubSubClient | undefined {
    return this.clients[this.callShard.get(callId) ?? 0];
  }

  calls(): string[] {
    return [...this.bridges.keys()];
  }

  bridge(callId: string): CallBridge | undefined {
    return this.bridges.get(callId);
  }

  stats(): RelayStats & { perCall: Map<string, CallBridgeStats> } {
    return {
      calls: this.bridges.size,
      watched: this.watched.size,
      ...this.counters,
      ...(this.standby ? { standby: this.standby.stats() } : {}),
      perCall: new Map([...this.bridges].map(([id, b]) => [id, { ...b.stats }])),
    };
  }

  stateHealth(): StoreHealth {
    return this.options.store.health();
  }

  handleConnected(callId: string, connectionId?: string): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (connectionId !== undefined && !this.noteConnection(callId, connectionId)) return Promise.resolve(false);
    if (this.bridges.has(callId)) return Promise.resolve(true);
    let pending = this.claiming.get(callId);
    if (!pending) {
      pending = this.claim(callId).finally(() => this.claiming.delete(callId));
      this.claiming.set(callId, pending);
    }
    return pending;
  }

  /** Remembers the call's latest media connection; false when that connection has already ended. */
  private noteConnection(callId: string, connectionId: string): boolean {
    if (this.endedConnections.has(connectionId)) return false;
    this.mediaConnection.delete(callId);
    this.mediaConnection.set(callId, connectionId);
    if (this.mediaConnection.size > MAX_WATCHED) this.mediaConnection.delete(this.mediaConnection.keys().next().value as string);
    return true;
  }

  async handleDisconnected(callId: string, connectionId?: string): Promise<void> {
    if (connectionId !== undefined) {
      this.endedConnections.add(connectionId);
      if (this.endedConnections.size > MAX_ENDED_CONNECTIONS) this.endedConnections.delete(this.endedConnections.values().next().value as string);
      const latest = this.mediaConnection.get(callId);
      // ACS reconnected the call's media on a newer connection: the call goes on.
      if (latest !== undefined && latest !== connectionId && !this.endedConnections.has(latest)) return;
    }
    this.mediaConnection.delete(callId);
    this.watched.delete(callId);
    await this.standby?.drop(callId);
    // A claim still in flight finishes first, so a call that ends while being claimed is not kept.
    await this.claiming.get(callId)?.catch(() => false);
    const bridge = this.bridges.get(callId);
    if (!bridge) return;
    const client = this.clientOf(callId);
    this.forget(callId, bridge);
    await client?.leaveGroup(inboundGroup(callId)).catch(this.warnOnFailure('leave the call group', callId));
    await bridge.close();
    await this.options.store.releaseAffinity(callId, this.workerId).catch((error: unknown) => this.logger.warn('affinity release failed; it will expire', { callId, error: error as Error }));
    this.counters.released += 1;
  }

  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancelClaimRetries();
    await this.beating;
    // The calls go on at ACS: persist and release each, then announce it again so another relay takes it now.
    const handOver = [...this.bridges.keys()].map((callId) => ({ callId, connectionId: this.mediaConnection.get(callId) }));
    for (const { callId } of handOver) await this.handleDisconnected(callId);
    for (const { callId, connectionId } of handOver) this.announce(connectionId === undefined ? { type: 'call-connected', callId } : { type: 'call-connected', callId, connectionId });
    await this.standby?.close();
    for (const client of this.clients) client.stop();
  }

  async terminate(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancelClaimRetries();
    this.standby?.terminate();
    for (const client of this.clients) client.stop();
    const bridges = [...this.bridges.values()];
    this.bridges.clear();
    this.byGroup.clear();
    await Promise.all(bridges.map((b) => b.abandon()));
  }

  // ── claims ─────────────────────────────────────────────────────────────────────────────────

  private async claim(callId: string): Promise<boolean> {
    const store = this.options.store;
    let claim;
    let session: Record<string, JsonValue> | undefined;
    try {
      session = await store.getCallSession(callId);
      // An ended call (its session gone, or says so) is not claimed: no agent session, no keys.
      if (callHasEnded(session)) {
        this.watched.delete(callId);
        return false;
      }
      claim = await store.claimAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
    } catch (error) {
      if (classify(error) !== 'retry') {
        // Not an outage (e.g. InvalidIdentifierError): no later beat can claim it either.
        this.logger.error('cannot claim a call', { callId, error: error as Error });
        return false;
      }
      // Without Redis no relay can arbitrate; the call is remembered and claimed once Redis answers.
      this.watch(callId, null);
      this.logger.warn('cannot claim a call for now (Redis unavailable or busy); retrying shortly', { callId, error: error as Error });
      this.retryClaimSoon(callId);
      return false;
    }
    if (!claim.claimed) {
      this.watch(callId, claim.owner);
      return false;
    }
    this.counters.claims += 1;
    this.watched.delete(callId);
    try {
      await this.own(callId, session);
      return true;
    } catch (error) {
      this.logger.error('could not take a call; releasing it', { callId, error: error as Error });
      const bridge = this.bridges.get(callId);
      const client = this.clientOf(callId);
      if (bridge) {
        this.forget(callId, bridge);
        await bridge.abandon();
      }
      await client?.leaveGroup(inboundGroup(callId)).catch(this.warnOnFailure('leave the call group', callId));
      await store.releaseAffinity(callId, this.workerId).catch(this.warnOnFailure('release the affinity key', callId));
      this.watch(callId, null);
      return false;
    }
  }

  /** Loads the conversation, joins `.in` (frames wait in the bridge while the agent connects), starts the agent. */
  private async own(callId: string, session: Record<string, JsonValue> | undefined): Promise<void> {
    const store = this.options.store;
    const shard = typeof session?.mediaShard === 'number' ? session.mediaShard : 0;
    const client = this.clients[shard];
    if (!client) throw new RelayError(`the call's Web PubSub shard ${shard} is not one this relay serves (${this.clients.length})`, false);
    this.callShard.set(callId, shard);
    const conversation = await ConversationManager.fromRedis(callId, store, { writerId: `r${randomBytes(3).toString('hex')}` });
    const context: Record<string, JsonValue> = {};
    if (typeof session?.callerName === 'string') context.callerName = session.callerName;
    const tools = this.options.tools?.(callId);
    // The profile looked up is the caller's (the call session's user id), never one the model names.
    const callerUserId = typeof session?.callerUserId === 'string' ? session.callerUserId : undefined;
    const lookup = this.options.lookupProfile;
    const lookupProfile = lookup && callerUserId ? async () => profileToolOutput(await lookup(callerUserId)) : undefined;
    // Time to first audio, barge-ins and messages sent, observed at the bridge's two seams.
    const telemetry = relayCallTelemetry(callId, this.workerId, { vadSilenceMs: DEFAULT_VAD_SILENCE_MS });
    const agents = await this.options.agents?.();
    // The active agent is the conversation's (`_activeAgent`): a relay taking the call over resumes with it.
    const definition =
      agents && typeof session?.scenario === 'string'
        ? mediaAgentDefinition(agents, { callId, scenario: session.scenario, activeAgent: conversation.activeAgent, userId: callerUserId })
        : undefined;
    // A new call of a scenario is greeted in its agent's words, by name for a caller it knows.
    const callerProfile = definition && lookup && callerUserId && conversation.getHistory().length === 0 ? await this.profileOf(callId, callerUserId, lookup) : undefined;
    // A standby taking the call over: the caller audio the conversation does not hold yet goes to the
    // new session first. From here to the group handed to the bridge nothing awaits, so no frame is missed.
    const replay = this.standby?.handOver(callId, conversation.getHistory()) ?? [];
    const bridge = new CallBridge({
      callId,
      conversation,
      send: telemetry.send((group, frame) => this.send(client, group, frame)),
      acsSampleRateHz: this.options.config.webPubSub.audioFormat === 'pcm16KMono' ? 16000 : 24000,
      limits: { callerTextChars: this.options.config.limits.recognizedTextChars, agentTextChars: this.options.config.limits.modelOutputChars },
      agent: telemetry.agent(this.agent),
      logger: this.logger,
      context,
      ...(tools ? { tools } : {}),
      ...(definition ? { definition } : {}),
      ...(callerProfile ? { callerProfile } : {}),
      ...(this.options.onCallerTranscription ? { onCallerTranscription: this.options.onCallerTranscription } : {}),
      ...(this.options.onTurn ? { onTurn: this.options.onTurn } : {}),
      ...(this.options.onBargeIn ? { onBargeIn: this.options.onBargeIn } : {}),
      ...(this.options.hangUp ? { hangUp: this.options.hangUp } : {}),
      ...(this.options.transfer ? { transfer: this.options.transfer } : {}),
      ...(lookupProfile ? { lookupProfile } : {}),
      ...(this.options.prompts ? { prompts: this.options.prompts } : {}),
      ...(this.options.outboundAudio ? { outboundAudio: this.options.outboundAudio } : {}),
      ...(replay.length > 0 ? { maxPendingFrames: replay.length + 250 } : {}),
    });
    this.bridges.set(callId, bridge);
    this.byGroup.set(inboundGroup(callId), bridge);
    for (const frame of replay) bridge.onInboundFrame(frame);
    await client.joinGroup(inboundGroup(callId));
    await bridge.start();
  }

  /** The caller's profile for the greeting; a lookup that fails leaves the greeting anonymous, and is logged. */
  private async profileOf(callId: string, userId: string, lookup: (userId: string) => Promise<CallerProfile | undefined>): Promise<CallerProfile | undefined> {
    try {
      return await lookup(userId);
    } catch (error) {
      this.logger.warn('caller profile unavailable; greeting without it', { callId, error: error as Error });
      return undefined;
    }
  }

  private forget(callId: string, bridge: CallBridge): void {
    if (this.bridges.get(callId) === bridge) {
      this.bridges.delete(callId);
      this.callShard.delete(callId);
    }
    if (this.byGroup.get(inboundGroup(callId)) === bridge) this.byGroup.delete(inboundGroup(callId));
  }

  /** Another relay owns the call now: stop bridging it without writing anything. */
  private async letGo(callId: string, reason: string): Promise<void> {
    const bridge = this.bridges.get(callId);
    if (!bridge) return;
    this.logger.warn('lost a call to another relay', { callId, reason });
    const client = this.clientOf(callId);
    this.forget(callId, bridge);
    await client?.leaveGroup(inboundGroup(callId)).catch(this.warnOnFailure('leave the call group', callId));
    await bridge.abandon();
  }

  private async takeOver(callId: string, deadOwner: string, connectionId?: string): Promise<void> {
    const store = this.options.store;
    await this.standby?.headStart(callId);
    // Compare-and-delete: only the dead owner's key goes, so two relays cannot both take the call.
    await store.releaseAffinity(callId, deadOwner).catch(() => false);
    if (await this.handleConnected(callId, connectionId)) {
      this.counters.takeovers += 1;
      this.logger.warn('took over a call from a lost relay', { callId, from: deadOwner });
      this.announce({ type: 'call-claimed', callId, workerId: this.workerId });
    }
  }

  /**
   * A caller is waiting in silence for a call nobody could claim: try again after 250 ms, doubling up
   * to the heartbeat interval, rather than only on the next beat (10 s with the default TTL).
   */
  private retryClaimSoon(callId: string): void {
    if (this.stopped || this.claimRetries.has(callId)) return;
    const attempt = this.claimAttempts.get(callId) ?? 0;
    this.claimAttempts.set(callId, attempt + 1);
    const delayMs = Math.min(CLAIM_RETRY_FIRST_MS * 2 ** attempt, (this.heartbeatTtlSeconds * 1000) / 3);
    const timer = setTimeout(() => {
      this.claimRetries.delete(callId);
      if (this.stopped || this.bridges.has(callId) || this.watched.get(callId)?.owner !== null) {
        this.claimAttempts.delete(callId);
        return;
      }
      void this.handleConnected(callId).then((owned) => {
        if (owned) this.claimAttempts.delete(callId);
      });
    }, delayMs);
    timer.unref();
    this.claimRetries.set(callId, timer);
  }

  private cancelClaimRetries(): void {
    for (const timer of this.claimRetries.values()) clearTimeout(timer);
    this.claimRetries.clear();
    this.claimAttempts.clear();
  }

  private watch(callId: string, owner: string | null): void {
    this.watched.delete(callId);
    this.watched.set(callId, { owner });
    if (owner !== null && owner !== this.workerId) void this.standby?.offer(callId);
    if (this.watched.size > MAX_WATCHED) {
      const oldest = this.watched.keys().next().value;
      if (oldest !== undefined) this.watched.delete(oldest);
    }
  }

  // ── control group ──────────────────────────────────────────────────────────────────────────

  private onControl(message: RelayControlMessage | undefined): void {
    if (!message || this.stopped) return;
    switch (message.type) {
      case 'call-connected':
        void this.handleConnected(message.callId, message.connectionId);
        return;
      case 'call-disconnected':
        void this.handleDisconnected(message.callId, message.connectionId);
        return;
      case 'call-claimed':
        if (message.workerId !== this.workerId) {
          const watched = this.watched.get(message.callId);
          if (watched) {
            watched.owner = message.workerId;
            void this.standby?.offer(message.callId);
          }
          if (this.bridges.has(message.callId)) void this.letGo(message.callId, 'claimed by another relay');
        }
        return;
      case 'relay-lost':
        if (message.workerId === this.workerId) return;
        for (const [callId, watched] of this.watched) if (watched.owner === message.workerId) void this.takeOver(callId, message.workerId);
        return;
    }
  }

  private announce(message: RelayControlMessage): void {
    void this.clients[0]?.sendToGroup(RELAY_CONTROL_GROUP, message, 'json', { fireAndForget: true, noEcho: true }).catch(this.warnOnFailure(`announce ${message.type}`));
  }

  /** A catch handler for best-effort steps: the failure is logged with its context, and the step yields undefined. */
  private warnOnFailure(step: string, callId?: string): (error: unknown) => undefined {
    return (error) => {
      this.logger.warn(`relay could not ${step}`, { ...(callId ? { callId } : {}), error: error as Error });
      return undefined;
    };
  }

  /** Per-frame failures are counted (see stats) rather than logged 50 times a second per call. */
  private readonly countSendFailure = (): void => {
    this.counters.sendFailures += 1;
  };

  private send(client: WebPubSubClient, group: string, frame: string): void {
    // Fire-and-forget: no ack round trip per message; a lost message is a click, a blocked one a gap.
    client.sendToGroup(group, frame, 'text', { fireAndForget: true, noEcho: true }).catch(this.countSendFailure);
  }

  // ── heartbeat ──────────────────────────────────────────────────────────────────────────────

  private schedule(): void {
    if (this.stopped) return;
    const intervalMs = (this.heartbeatTtlSeconds * 1000) / 3;
    this.timer = setTimeout(() => {
      this.beating = this.beat().finally(() => this.schedule());
    }, intervalMs);
  }

  private async beat(): Promise<void> {
    const store = this.options.store;
    try {
      await store.heartbeat(this.workerId, { calls: this.bridges.size }, { ttlSeconds: this.heartbeatTtlSeconds });
    } catch (error) {
      this.logger.warn('relay heartbeat failed', { workerId: this.workerId, error: error as Error });
      return; // Redis is away: keep every call (the store journals turns), retry next beat
    }
    for (const callId of [...this.bridges.keys()]) {
      try {
        const renewed = await store.renewAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
        if (!renewed && !this.stopped) {
          // The key may simply have expired while Redis was away: take it back unless another relay holds it.
          const claim = await store.claimAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
          if (!claim.claimed) await this.letGo(callId, `affinity held by ${claim.owner ?? 'nobody'}`);
        }
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) this.logger.warn('affinity renewal failed', { callId, error: error as Error });
      }
    }
    await this.standby?.renew();
    if (!this.recovered) await this.recover();
    await this.sweep();
  }

  /**
   * Reads the registry of live media calls (once; again on later beats while Redis is unreachable) and
   * treats each call as if it had just been announced, knowing its owner: several relays starting at
   * once are arbitrated by the affinity key's `SET NX`, as for an announcement.
   */
  private async recover(): Promise<void> {
    const store = this.options.store;
    let registered: Map<string, string>;
    try {
      registered = await store.mediaCalls();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) this.logger.warn('relay could not read the live media calls', { error: error as Error });
      return;
    }
    this.recovered = true;
    const alive = new Map<string, boolean>();
    const claims: Promise<unknown>[] = [];
    for (const [callId, connectionId] of registered) {
      if (this.stopped) break;
      if (this.bridges.has(callId) || this.claiming.has(callId) || this.watched.has(callId)) continue;
      try {
        const session = await store.getCallSession(callId);
        // Finalisation deleted the call, or it ended: prune it. (A call whose media merely dropped keeps
        // its entry only while a newer connection registered it, and that connection is live.)
        if (callHasEnded(session)) {
          await store.unregisterMediaCall(callId, connectionId);
          continue;
        }
        const owner = await store.getAffinity(callId);
        if (owner === null) {
          claims.push(this.handleConnected(callId, connectionId));
          continue;
        }
        if (owner === this.workerId) continue;
        if (await this.isAlive(owner, alive)) {
          if (this.noteConnection(callId, connectionId)) this.watch(callId, owner);
        } else {
          claims.push(this.takeOver(callId, owner, connectionId));
        }
      } catch (error) {
        this.logger.warn('relay could not recover a call', { callId, error: error as Error });
      }
    }
    await Promise.allSettled(claims);
    if (registered.size > 0) this.logger.info('media relay read the live media calls', { registered: registered.size, owned: this.bridges.size, watched: this.watched.size });
  }

  /** Whether a relay's heartbeat is live; one read per relay per pass, memoised in `seen`. */
  private async isAlive(workerId: string, seen: Map<string, boolean>): Promise<boolean> {
    let alive = seen.get(workerId);
    if (alive === undefined) {
      alive = (await this.options.store.getHeartbeat(workerId)) !== undefined;
      seen.set(workerId, alive);
    }
    return alive;
  }

  /** Calls this relay knows of but does not own: claim those whose owner is gone. */
  private async sweep(): Promise<void> {
    const store = this.options.store;
    const alive = new Map<string, boolean>();
    for (const [callId, watched] of [...this.watched]) {
      if (this.stopped || this.bridges.has(callId)) continue;
      try {
        const owner = await store.getAffinity(callId);
        watched.owner = owner;
        if (owner === null) {
          await this.handleConnected(callId);
          continue;
        }
        if (owner === this.workerId) continue;
        if (!(await this.isAlive(owner, alive))) await this.takeOver(callId, owner);
        else await this.standby?.offer(callId);
      } catch (error) {
        if (error instanceof RedisUnavailableError) return;
        this.logger.warn('relay sweep failed for a call', { callId, error: error as Error });
      }
    }
  }
}

