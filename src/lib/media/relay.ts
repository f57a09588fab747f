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
 * The membership decisions (claims, heartbeats, takeovers, recovery, hand-over) are in
 * relay-membership.ts; this file is the Web PubSub side and the calls' bridges.
 *
 * Limits of this design: a relay whose own Web PubSub connection drops and reconnects (a network blip)
 * is reported as lost and hands its calls over (the caller hears a short gap).
 */

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient, WebPubSubJsonProtocol } from '@azure/web-pubsub-client';
import type { AppConfig } from '../config/index.js';
import { ConversationManager, type JsonValue, type RelayLeases, type RelayStore, type StoreHealth } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import { countInboundMessages, relayCallTelemetry } from '../telemetry/relay-turns.js';
import { DEFAULT_VAD_SILENCE_MS } from '../agent/realtime/session-config.js';
import type { CompletedTurn, ToolCallRequest } from '../agent/realtime/index.js';
import { CallBridge, type BargeInRecord, type CallBridgeOptions, type CallBridgeState, type CallBridgeStats } from './call-bridge.js';
import { realtimeAgentFactory, type AgentSessionFactory } from './agent-port.js';
import { inboundGroup, RELAY_CONTROL_GROUP, relayUserId } from './groups.js';
import { parseRelayControl, type RelayControlMessage } from './relay-control.js';
import { RelayMembership, type Clock, type Scheduler } from './relay-membership.js';
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
  readonly store: RelayStore;
  /** Call affinity, heartbeats and the live-media registry. */
  readonly leases: RelayLeases;
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
  /** The membership's clock and timers (heartbeats, claim retries). @default the process's */
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
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

/** One call's bridge counters and where the bridge is. */
export type CallStats = CallBridgeStats & { readonly state: CallBridgeState };

export interface Relay {
  readonly workerId: string;
  /** Calls this relay owns. */
  calls(): string[];
  bridge(callId: string): CallBridge | undefined;
  stats(): RelayStats & { readonly perCall: ReadonlyMap<string, CallStats> };
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


export async function startRelay(options: RelayOptions): Promise<Relay> {
  const relay = new MediaRelay(options);
  await relay.start();
  return relay;
}

class MediaRelay implements Relay {
  readonly workerId: string;
  private readonly bridges = new Map<string, CallBridge>();
  /** `call.<id>.in` → bridge: the hot path's one lookup. */
  private readonly byGroup = new Map<string, CallBridge>();
  /** Which calls this relay owns or watches, heartbeats, claims and takeovers. */
  private readonly membership: RelayMembership;
  private readonly agent: AgentSessionFactory;
  private readonly logger: Logger;
  /** One Web PubSub connection per shard, in shard order. */
  private clients: WebPubSubClient[] = [];
  /** The service clients, in shard order (set at start). */
  private services: readonly WebPubSubServiceClient[] = [];
  /** The shard of each call this relay owns (from the call session's `mediaShard`). */
  private readonly callShard = new Map<string, number>();
  private sendFailures = 0;
  /** RELAY_STANDBY: the calls this relay stands by for (see standby.ts). */
  private readonly standby: StandbyRelay | undefined;
  /** The shard of each call this relay stands by for. */
  private readonly standbyShard = new Map<string, number>();

  constructor(private readonly options: RelayOptions) {
    this.workerId = options.workerId ?? `${hostname().replace(/[^A-Za-z0-9-]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.logger = options.logger;
    const affinityTtlSeconds = options.store.keys.ttl('worker', 'affinity', options.affinityTtlSeconds);
    this.standby = options.config.webPubSub.relayStandby ? this.createStandby(affinityTtlSeconds) : undefined;
    this.membership = new RelayMembership({
      workerId: this.workerId,
      sessions: options.store,
      leases: options.leases,
      logger: options.logger,
      heartbeatTtlSeconds: options.store.keys.ttl('worker', 'heartbeat', options.heartbeatTtlSeconds),
      affinityTtlSeconds,
      ...(this.standby ? { standby: this.standby } : {}),
      // Relays connect to every shard; shard 0's connection is the one that also hears the control group.
      presence: { isConnected: async (workerId) => (this.services[0] ? this.services[0].userExists(relayUserId(workerId)) : false) },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      host: {
        owns: (callId) => this.bridges.has(callId),
        ownedCalls: () => [...this.bridges.keys()],
        own: (callId, session) => this.own(callId, session),
        abandon: (callId) => this.abandon(callId),
        letGo: (callId, reason) => this.letGo(callId, reason),
        end: (callId) => this.end(callId),
        announce: (message) => this.announce(message),
      },
    });
    this.agent = options.agent ?? realtimeAgentFactory(options.config, { logger: options.logger, ...(options.realtimeSocketOptions ? { socketOptions: options.realtimeSocketOptions } : {}) });
  }

  private createStandby(ttlSeconds: number): StandbyRelay {
    return new StandbyRelay({
      workerId: this.workerId,
      store: this.options.leases,
      logger: this.options.logger,
      ttlSeconds,
      vadSilenceMs: DEFAULT_VAD_SILENCE_MS,
      // Not a claim in flight: a relay that just lost the claim offers to stand by from inside it.
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
    this.services = services;
    this.clients = services.map((service, shard) => this.connect(service, shard));
    try {
      await Promise.all(this.clients.map((client) => client.start()));
    } catch (error) {
      for (const client of this.clients) client.stop(); // no half-started client keeps reconnecting behind a relay that never started
      throw new RelayError('the relay could not connect to Web PubSub', true, { cause: error });
    }
    await this.membership.start();
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
      if (shard === 0 && message.group === RELAY_CONTROL_GROUP) this.membership.onControl(parseRelayControl(message.data));
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

  stats(): RelayStats & { perCall: Map<string, CallStats> } {
    return {
      calls: this.bridges.size,
      watched: this.membership.watchedCount,
      ...this.membership.stats(),
      sendFailures: this.sendFailures,
      ...(this.standby ? { standby: this.standby.stats() } : {}),
      perCall: new Map([...this.bridges].map(([id, b]) => [id, { ...b.stats, state: b.state }])),
    };
  }

  stateHealth(): StoreHealth {
    return this.options.store.health();
  }

  handleConnected(callId: string, connectionId?: string): Promise<boolean> {
    return this.membership.connected(callId, connectionId);
  }

  handleDisconnected(callId: string, connectionId?: string): Promise<void> {
    return this.membership.disconnected(callId, connectionId);
  }

  async close(): Promise<void> {
    if (this.membership.stopped) return;
    await this.membership.close();
    await this.standby?.close();
    for (const client of this.clients) client.stop();
  }

  async terminate(): Promise<void> {
    this.membership.stop();
    this.standby?.terminate();
    for (const client of this.clients) client.stop();
    const bridges = [...this.bridges.values()];
    this.bridges.clear();
    this.byGroup.clear();
    await Promise.all(bridges.map((b) => b.abandon()));
  }

  // ── owning a call (the membership decides when) ─────────────────────────────────────────────

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

  /** Its call's bridge closes (persisting what is staged) and it leaves the call's group. */
  private async end(callId: string): Promise<boolean> {
    const bridge = this.bridges.get(callId);
    if (!bridge) return false;
    const client = this.clientOf(callId);
    this.forget(callId, bridge);
    await client?.leaveGroup(inboundGroup(callId)).catch(this.warnOnFailure('leave the call group', callId));
    await bridge.close();
    return true;
  }

  /** A claimed call could not be owned: whatever was set up goes, without writing anything. */
  private async abandon(callId: string): Promise<void> {
    const bridge = this.bridges.get(callId);
    const client = this.clientOf(callId);
    if (bridge) {
      this.forget(callId, bridge);
      await bridge.abandon();
    }
    await client?.leaveGroup(inboundGroup(callId)).catch(this.warnOnFailure('leave the call group', callId));
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
    this.sendFailures += 1;
  };

  private send(client: WebPubSubClient, group: string, frame: string): void {
    // Fire-and-forget: no ack round trip per message; a lost message is a click, a blocked one a gap.
    client.sendToGroup(group, frame, 'text', { fireAndForget: true, noEcho: true }).catch(this.countSendFailure);
  }
}
