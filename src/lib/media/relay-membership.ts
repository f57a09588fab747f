/**
 * Which calls a relay owns and which it watches: the membership half of the media relay (see relay.ts
 * for the design), apart from its Web PubSub side so it can be driven by a test clock and scheduler.
 *
 * It decides when to claim a call (affinity `SET NX`), retries a claim Redis could not arbitrate,
 * heartbeats and renews the affinity of the calls owned, lets a call go whose key another relay holds,
 * takes over the calls of a relay that is gone (compare-and-delete + `SET NX`), reads the registry of
 * live media calls on the first beat, and hands every call over on a graceful stop. What owning a call
 * means (joining its group, running its bridge) is the relay's, behind {@link MembershipHost}.
 */

import { RedisUnavailableError, type AffinityClaim, type JsonValue } from '../state/index.js';
import { classify } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { RelayControlMessage } from './relay-control.js';

/** The call session reads membership needs (to know whether a call has ended, and for the relay that owns it). */
export interface CallSessionReader {
  getCallSession(callId: string): Promise<Record<string, JsonValue> | undefined>;
}

/** The relay-lease operations membership needs; production passes the state layer's RelayLeases. */
export interface RelayLeaseStore {
  claimAffinity(callId: string, workerId: string, options: { readonly ttlSeconds: number }): Promise<AffinityClaim>;
  /** Extends the claim only while `workerId` holds it. */
  renewAffinity(callId: string, workerId: string, options: { readonly ttlSeconds: number }): Promise<boolean>;
  /** Compare-and-delete: removes the key only while `workerId` holds it. */
  releaseAffinity(callId: string, workerId: string): Promise<boolean>;
  getAffinity(callId: string): Promise<string | null>;
  heartbeat(workerId: string, info: { readonly calls: number }, options: { readonly ttlSeconds: number }): Promise<void>;
  getHeartbeat(workerId: string): Promise<Record<string, JsonValue> | undefined>;
  /** The registry of live media calls: call id → its ACS media connection. */
  mediaCalls(): Promise<Map<string, string>>;
  unregisterMediaCall(callId: string, connectionId?: string): Promise<boolean>;
}

/**
 * A relay standing by for calls it watches (RELAY_STANDBY, see standby.ts): membership tells it when a
 * call has an owner to stand by for, when a takeover is due, each beat, and when a call ends.
 */
export interface StandbyPort {
  /** Another relay owns the call: race for its standby key. */
  offer(callId: string): Promise<void>;
  /** Before taking a dead owner's call: a relay that is not the call's standby lets the standby go first. */
  headStart(callId: string): Promise<void>;
  /** Every beat: renews the standby keys held. */
  renew(): Promise<void>;
  /** The call's media ended: stop standing by for it. */
  drop(callId: string): Promise<void>;
}

/**
 * Whether a relay still holds its Web PubSub connection. A heartbeat key can be missing while its relay
 * lives: the shard holding it was away for longer than its TTL (a failover), so a missing heartbeat is
 * a takeover's reason only once the relay's connection is gone too.
 */
export interface RelayPresence {
  isConnected(workerId: string): Promise<boolean>;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (`performance.now()` in production). */
  now(): number;
}

/** An opaque timer from {@link Scheduler.setTimeout}. */
export type TimerHandle = unknown;

export interface Scheduler {
  /**
   * Runs `callback` once after `delayMs`. A `background` timer does not keep the process alive. The
   * callback may return a promise of the work it started (a test scheduler can wait for it).
   */
  setTimeout(callback: () => unknown, delayMs: number, options?: { readonly background?: boolean }): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** What owning a call means, carried out by the relay (its Web PubSub side and the call's bridge). */
export interface MembershipHost {
  /** Whether this relay bridges the call now. */
  owns(callId: string): boolean;
  /** The calls this relay bridges. */
  ownedCalls(): readonly string[];
  /** Starts bridging a call this relay has just claimed; a rejection gives the claim back. */
  own(callId: string, session: Record<string, JsonValue> | undefined): Promise<void>;
  /** A call could not be owned after its claim: drop whatever was set up, without writing anything. */
  abandon(callId: string): Promise<void>;
  /** Another relay owns the call now: stop bridging it without writing anything. */
  letGo(callId: string, reason: string): Promise<void>;
  /** The call's media is gone (or this relay stops): persist and stop bridging it. False when it was not bridged. */
  end(callId: string): Promise<boolean>;
  /** Sends a message to the other relays on the control group (best effort). */
  announce(message: RelayControlMessage): void;
}

export type MembershipOptions = {
  readonly workerId: string;
  readonly sessions: CallSessionReader;
  readonly leases: RelayLeaseStore;
  readonly host: MembershipHost;
  readonly logger: Logger;
  /** The heartbeat key's TTL; a beat every third of it. */
  readonly heartbeatTtlSeconds: number;
  readonly affinityTtlSeconds: number;
  /** @default `performance.now()` */
  readonly clock?: Clock;
  /** @default the process's timers */
  readonly scheduler?: Scheduler;
  /** @default none: no relay stands by */
  readonly standby?: StandbyPort;
  /** @default none: a missing heartbeat alone means the relay is gone */
  readonly presence?: RelayPresence;
};

export type MembershipCounters = { readonly claims: number; readonly takeovers: number; readonly released: number };

/** The process's timers; a background timer is unref'd. */
export const systemScheduler: Scheduler = {
  setTimeout(callback, delayMs, options) {
    const timer = setTimeout(callback, delayMs);
    if (options?.background) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout | undefined);
  },
};

const systemClock: Clock = { now: () => performance.now() };

type Watched = { owner: string | null };

const MAX_WATCHED = 10_000;
const CLAIM_RETRY_FIRST_MS = 250;
/**
 * How long a connected call whose session cannot be found is looked for again before it is taken for
 * ended: about as long as a caller waits in silence before hanging up.
 */
const MISSING_SESSION_GRACE_MS = 30_000;
/** Ended media connections remembered, so a `connected` that arrives after its `disconnected` is ignored. */
const MAX_ENDED_CONNECTIONS = 10_000;

/** Whether the call session says there is no call to bridge: gone (finalised or never created) or over. */
function callHasEnded(session: Record<string, JsonValue> | undefined): boolean {
  return session === undefined || session.state === 'disconnected' || session.state === 'answer_failed';
}

export class RelayMembership {
  private readonly workerId: string;
  private readonly sessions: CallSessionReader;
  private readonly leases: RelayLeaseStore;
  private readonly host: MembershipHost;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly heartbeatTtlSeconds: number;
  private readonly affinityTtlSeconds: number;
  private readonly standby: StandbyPort | undefined;
  private readonly presence: RelayPresence | undefined;
  private readonly claiming = new Map<string, Promise<boolean>>();
  private readonly watched = new Map<string, Watched>();
  private readonly claimRetries = new Map<string, TimerHandle>();
  private readonly claimAttempts = new Map<string, number>();
  /** When a connected call's session was first found missing (see {@link mayStillAppear}). */
  private readonly missingSessionSince = new Map<string, number>();
  /** The latest ACS media connection seen per call, and connections known to have ended. */
  private readonly mediaConnection = new Map<string, string>();
  private readonly endedConnections = new Set<string>();
  private timer: TimerHandle | undefined;
  private beating: Promise<void> = Promise.resolve();
  private stoppedFlag = false;
  /** The registry of live media calls has been read (see {@link recover}). */
  private recovered = false;
  private heartbeatAtMs: number | undefined;
  private counters = { claims: 0, takeovers: 0, released: 0 };

  constructor(options: MembershipOptions) {
    this.workerId = options.workerId;
    this.sessions = options.sessions;
    this.leases = options.leases;
    this.host = options.host;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.heartbeatTtlSeconds = options.heartbeatTtlSeconds;
    this.affinityTtlSeconds = options.affinityTtlSeconds;
    this.standby = options.standby;
    this.presence = options.presence;
  }

  /** The first beat (heartbeat, recovery), then one every third of the heartbeat TTL. */
  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Calls this relay knows of but does not own. */
  get watchedCount(): number {
    return this.watched.size;
  }

  /** The owner last seen for a call this relay watches (null: nobody could claim it yet); undefined when not watched. */
  ownerOf(callId: string): string | null | undefined {
    return this.watched.get(callId)?.owner;
  }

  /** When ({@link Clock} ms) this relay's heartbeat was last written; undefined before the first. */
  get lastHeartbeatAtMs(): number | undefined {
    return this.heartbeatAtMs;
  }

  stats(): MembershipCounters {
    return { ...this.counters };
  }

  /**
   * A `connected` event for the call's ACS media connection: try to own the call. Resolves true when
   * this relay owns it. A connection already reported disconnected is refused (events may cross).
   */
  connected(callId: string, connectionId?: string): Promise<boolean> {
    if (this.stoppedFlag) return Promise.resolve(false);
    if (connectionId !== undefined && !this.noteConnection(callId, connectionId)) return Promise.resolve(false);
    if (this.host.owns(callId)) return Promise.resolve(true);
    let pending = this.claiming.get(callId);
    if (!pending) {
      pending = this.claim(callId).finally(() => this.claiming.delete(callId));
      this.claiming.set(callId, pending);
    }
    return pending;
  }

  /**
   * The call's ACS media connection is gone: the relay ends the call's bridge and its affinity is
   * released — unless ACS has reconnected the call's media on a newer connection meanwhile.
   */
  async disconnected(callId: string, connectionId?: string): Promise<void> {
    if (connectionId !== undefined) {
      this.endedConnections.add(connectionId);
      if (this.endedConnections.size > MAX_ENDED_CONNECTIONS) this.endedConnections.delete(this.endedConnections.values().next().value as string);
      const latest = this.mediaConnection.get(callId);
      // ACS reconnected the call's media on a newer connection: the call goes on.
      if (latest !== undefined && latest !== connectionId && !this.endedConnections.has(latest)) return;
    }
    this.mediaConnection.delete(callId);
    this.watched.delete(callId);
    this.missingSessionSince.delete(callId);
    await this.standby?.drop(callId);
    // A claim still in flight finishes first, so a call that ends while being claimed is not kept.
    await this.claiming.get(callId)?.catch(() => false);
    if (!(await this.host.end(callId))) return;
    await this.leases.releaseAffinity(callId, this.workerId).catch((error: unknown) => this.logger.warn('affinity release failed; it will expire', { callId, error: error as Error }));
    this.counters.released += 1;
  }

  /** A message on the relays' control group (undefined: one that could not be read). */
  onControl(message: RelayControlMessage | undefined): void {
    if (!message || this.stoppedFlag) return;
    switch (message.type) {
      case 'call-connected':
        void this.connected(message.callId, message.connectionId);
        return;
      case 'call-disconnected':
        void this.disconnected(message.callId, message.connectionId);
        return;
      case 'call-claimed':
        if (message.workerId !== this.workerId) {
          const watched = this.watched.get(message.callId);
          if (watched) {
            watched.owner = message.workerId;
            void this.standby?.offer(message.callId);
          }
          if (this.host.owns(message.callId)) void this.host.letGo(message.callId, 'claimed by another relay');
        }
        return;
      case 'relay-lost':
        if (message.workerId === this.workerId) return;
        for (const [callId, watched] of this.watched) if (watched.owner === message.workerId) void this.takeOver(callId, message.workerId);
        return;
    }
  }

  /**
   * Graceful stop: no more beats or claims; every call owned is ended and released, then announced
   * again so another relay takes it at once.
   */
  async close(): Promise<void> {
    if (this.stoppedFlag) return;
    this.stop();
    await this.beating;
    // The calls go on at ACS: persist and release each, then announce it again so another relay takes it now.
    const handOver = this.host.ownedCalls().map((callId) => ({ callId, connectionId: this.mediaConnection.get(callId) }));
    for (const { callId } of handOver) await this.disconnected(callId);
    for (const { callId, connectionId } of handOver) this.host.announce(connectionId === undefined ? { type: 'call-connected', callId } : { type: 'call-connected', callId, connectionId });
  }

  /** Stops at once, as a killed process would look: no beat, no claim, nothing released. */
  stop(): void {
    this.stoppedFlag = true;
    this.scheduler.clearTimeout(this.timer);
    this.cancelClaimRetries();
  }

  /** Remembers the call's latest media connection; false when that connection has already ended. */
  private noteConnection(callId: string, connectionId: string): boolean {
    if (this.endedConnections.has(connectionId)) return false;
    this.mediaConnection.delete(callId);
    this.mediaConnection.set(callId, connectionId);
    if (this.mediaConnection.size > MAX_WATCHED) this.mediaConnection.delete(this.mediaConnection.keys().next().value as string);
    return true;
  }

  // ── claims ─────────────────────────────────────────────────────────────────────────────────

  private async claim(callId: string): Promise<boolean> {
    const leases = this.leases;
    let claim;
    let session: Record<string, JsonValue> | undefined;
    try {
      session = await this.sessions.getCallSession(callId);
      // An ended call (its session gone, or says so) is not claimed: no agent session, no keys.
      if (callHasEnded(session)) {
        const firstMiss = !this.missingSessionSince.has(callId);
        if (session === undefined && this.mayStillAppear(callId)) {
          // No session may also be a read that lost its write (a failover that dropped acknowledged
          // writes, a node back without its data) until the session's writer restores it. The call was
          // announced once: dropping it here would leave its caller in silence for good, so look again.
          this.watch(callId, null);
          if (firstMiss) this.logger.warn('call session not found for a connected call; looking again shortly', { callId });
          this.retryClaimSoon(callId);
          return false;
        }
        this.missingSessionSince.delete(callId);
        this.watched.delete(callId);
        return false;
      }
      this.missingSessionSince.delete(callId);
      claim = await leases.claimAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
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
      await this.host.own(callId, session);
      return true;
    } catch (error) {
      // A relay stopping (terminated, or closing) aborts the agent session it was connecting: expected.
      if (this.stoppedFlag) this.logger.info('relay stopped while taking a call; releasing it', { callId, error: error as Error });
      else this.logger.error('could not take a call; releasing it', { callId, error: error as Error });
      await this.host.abandon(callId);
      await leases.releaseAffinity(callId, this.workerId).catch(this.warnOnFailure('release the affinity key', callId));
      if (!this.stoppedFlag) this.watch(callId, null);
      return false;
    }
  }

  /**
   * Whether a call whose session is missing is looked for again: for {@link MISSING_SESSION_GRACE_MS}
   * from the first miss. A call finalised before its `connected` event arrived costs a few reads.
   */
  private mayStillAppear(callId: string): boolean {
    const now = this.clock.now();
    const since = this.missingSessionSince.get(callId);
    if (since === undefined) {
      this.missingSessionSince.set(callId, now);
      if (this.missingSessionSince.size > MAX_WATCHED) this.missingSessionSince.delete(this.missingSessionSince.keys().next().value as string);
      return true;
    }
    if (now - since < MISSING_SESSION_GRACE_MS) return true;
    this.missingSessionSince.delete(callId);
    return false;
  }

  private async takeOver(callId: string, deadOwner: string, connectionId?: string): Promise<void> {
    await this.standby?.headStart(callId);
    // Compare-and-delete: only the dead owner's key goes, so two relays cannot both take the call.
    await this.leases.releaseAffinity(callId, deadOwner).catch(() => false);
    if (await this.connected(callId, connectionId)) {
      this.counters.takeovers += 1;
      this.logger.warn('took over a call from a lost relay', { callId, from: deadOwner });
      this.host.announce({ type: 'call-claimed', callId, workerId: this.workerId });
    }
  }

  /**
   * A caller is waiting in silence for a call nobody could claim: try again after 250 ms, doubling up
   * to the heartbeat interval, rather than only on the next beat (10 s with the default TTL).
   */
  private retryClaimSoon(callId: string): void {
    if (this.stoppedFlag || this.claimRetries.has(callId)) return;
    const attempt = this.claimAttempts.get(callId) ?? 0;
    this.claimAttempts.set(callId, attempt + 1);
    const delayMs = Math.min(CLAIM_RETRY_FIRST_MS * 2 ** attempt, (this.heartbeatTtlSeconds * 1000) / 3);
    const timer = this.scheduler.setTimeout(
      () => {
        this.claimRetries.delete(callId);
        if (this.stoppedFlag || this.host.owns(callId) || this.watched.get(callId)?.owner !== null) {
          this.claimAttempts.delete(callId);
          return undefined;
        }
        return this.connected(callId).then((owned) => {
          if (owned) this.claimAttempts.delete(callId);
        });
      },
      delayMs,
      { background: true },
    );
    this.claimRetries.set(callId, timer);
  }

  private cancelClaimRetries(): void {
    for (const timer of this.claimRetries.values()) this.scheduler.clearTimeout(timer);
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

  /** A catch handler for best-effort steps: the failure is logged with its context, and the step yields undefined. */
  private warnOnFailure(step: string, callId?: string): (error: unknown) => undefined {
    return (error) => {
      this.logger.warn(`relay could not ${step}`, { ...(callId ? { callId } : {}), error: error as Error });
      return undefined;
    };
  }

  // ── heartbeat ──────────────────────────────────────────────────────────────────────────────

  private schedule(): void {
    if (this.stoppedFlag) return;
    const intervalMs = (this.heartbeatTtlSeconds * 1000) / 3;
    this.timer = this.scheduler.setTimeout(() => {
      this.beating = this.beat().finally(() => this.schedule());
      return this.beating;
    }, intervalMs);
  }

  private async beat(): Promise<void> {
    const leases = this.leases;
    try {
      await leases.heartbeat(this.workerId, { calls: this.host.ownedCalls().length }, { ttlSeconds: this.heartbeatTtlSeconds });
      this.heartbeatAtMs = this.clock.now();
    } catch (error) {
      this.logger.warn('relay heartbeat failed', { workerId: this.workerId, error: error as Error });
      return; // Redis is away: keep every call (the store journals turns), retry next beat
    }
    for (const callId of [...this.host.ownedCalls()]) {
      try {
        const renewed = await leases.renewAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
        if (!renewed && !this.stoppedFlag) {
          // The key may simply have expired while Redis was away: take it back unless another relay holds it.
          const claim = await leases.claimAffinity(callId, this.workerId, { ttlSeconds: this.affinityTtlSeconds });
          if (!claim.claimed) await this.host.letGo(callId, `affinity held by ${claim.owner ?? 'nobody'}`);
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
    const leases = this.leases;
    let registered: Map<string, string>;
    try {
      registered = await leases.mediaCalls();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) this.logger.warn('relay could not read the live media calls', { error: error as Error });
      return;
    }
    this.recovered = true;
    const alive = new Map<string, boolean>();
    const claims: Promise<unknown>[] = [];
    for (const [callId, connectionId] of registered) {
      if (this.stoppedFlag) break;
      if (this.host.owns(callId) || this.claiming.has(callId) || this.watched.has(callId)) continue;
      try {
        const session = await this.sessions.getCallSession(callId);
        // Finalisation deleted the call, or it ended: prune it. (A call whose media merely dropped keeps
        // its entry only while a newer connection registered it, and that connection is live.)
        if (callHasEnded(session)) {
          await leases.unregisterMediaCall(callId, connectionId);
          continue;
        }
        const owner = await leases.getAffinity(callId);
        if (owner === null) {
          claims.push(this.connected(callId, connectionId));
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
    if (registered.size > 0) this.logger.info('media relay read the live media calls', { registered: registered.size, owned: this.host.ownedCalls().length, watched: this.watched.size });
  }

  /** Whether a relay's heartbeat is live; one read per relay per pass, memoised in `seen`. */
  private async isAlive(workerId: string, seen: Map<string, boolean>): Promise<boolean> {
    let alive = seen.get(workerId);
    if (alive === undefined) {
      alive = (await this.leases.getHeartbeat(workerId)) !== undefined || (await this.stillConnected(workerId));
      seen.set(workerId, alive);
    }
    return alive;
  }

  /** A relay whose heartbeat is missing but whose connection is up is alive: its heartbeat's shard was away. */
  private async stillConnected(workerId: string): Promise<boolean> {
    if (!this.presence) return false;
    try {
      const connected = await this.presence.isConnected(workerId);
      if (connected) this.logger.warn('a relay heartbeat is missing but the relay is still connected; its calls stay with it', { workerId });
      return connected;
    } catch (error) {
      // Web PubSub cannot say: the heartbeat is the only evidence, as without a presence check.
      this.logger.warn('could not ask Web PubSub whether a relay is connected; taking its heartbeat as the answer', { workerId, error: error as Error });
      return false;
    }
  }

  /** Calls this relay knows of but does not own: claim those whose owner is gone. */
  private async sweep(): Promise<void> {
    const leases = this.leases;
    const alive = new Map<string, boolean>();
    for (const [callId, watched] of [...this.watched]) {
      if (this.stoppedFlag || this.host.owns(callId)) continue;
      try {
        const owner = await leases.getAffinity(callId);
        watched.owner = owner;
        if (owner === null) {
          await this.connected(callId);
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
