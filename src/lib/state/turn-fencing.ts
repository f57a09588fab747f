import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WriteBatch, type Command, type Reply } from './commands.js';
import { RedisUnavailableError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { MemoryTier } from './memory-tier.js';
import type { TieredStore, WriteOutcome } from './tiered-store.js';
import { quietLogger, type Logger } from '../telemetry/logger.js';

/** What still writes a call when finalisation gives up waiting (nothing, normally). */
export interface CallQuiescence {
  /** Turn leases still live when the wait ended. */
  readonly openTurns: number;
  /** The relay still holding the call's media, or null. */
  readonly relay: string | null;
  readonly waitedMs: number;
}

/** How long a turn may hold its lease: longer than any agent reply, short enough if its process dies. */
export const DEFAULT_TURN_LEASE_MS = 30_000;
const CLOSED_FIELD = '_closed';
const turnField = (turnId: string) => `t.${turnId}`;

/** What fencing needs of the engine: Redis as the arbiter, the write path (journal) and memory. */
export interface FencingEngine {
  readonly keys: RedisKeys;
  readonly memory: Pick<MemoryTier, 'applyWrites'>;
  write: TieredStore['write'];
  writeDetailed: TieredStore['writeDetailed'];
  direct: TieredStore['direct'];
  arbiterReady: TieredStore['arbiterReady'];
}

/**
 * The writers of a call, fenced at the store: event claims (`call:{id}:events`, so a redelivery is
 * handled once), turn leases and the closed mark (`call:{id}:turns`). The event claim, the turn lease
 * and the closed check are one MULTI, so no turn can land after finalisation has read the history.
 * Claims expire with the call session (call_session TTL).
 *
 * @example
 * const fencing = new TurnFencing(store, logger);
 * const { claimed, lease } = await fencing.claimTurnEvent(callId, event.id, turnId);
 * try { if (lease !== 'refused' && claimed) await answer(); } finally { if (lease === 'held') await fencing.endTurn(callId, turnId); }
 */
export class TurnFencing {
  constructor(
    private readonly engine: FencingEngine,
    private readonly logger: Logger = quietLogger,
  ) {}

  /**
   * De-duplicates ACS / Event Grid redeliveries: true only the first time `eventId` is claimed for
   * the call. The ids live in one hash (`call:{id}:events`) that expires with the call session.
   * `handlingId` names this handling of the event: a claim found holding it is this handling's own
   * (an earlier attempt of it that timed out in the app and landed all the same), not a duplicate's.
   */
  async claimEvent(callId: string, eventId: string, handlingId: string = randomUUID()): Promise<boolean> {
    const { replies } = await this.engine.writeDetailed(callId, 'call.claimEvent', this.claimCommands(callId, eventId, handlingId));
    return ownsClaim(replies, handlingId);
  }

  /**
   * Forgets a claimed event id, so a redelivery is handled again: for an event whose handling failed
   * after it was claimed.
   */
  async releaseEvent(callId: string, eventId: string): Promise<WriteOutcome> {
    const key = this.engine.keys.call(callId, 'events');
    return this.engine.write(callId, 'call.releaseEvent', new WriteBatch().hdel(key, [eventId], this.engine.keys.ttl('call', 'events')).commands());
  }

  // ── writers of a call: turn leases and the closed mark (`call:{id}:turns`) ───────────────────

  /**
   * {@link claimEvent} and the turn's lease in one MULTI, for an event that writes the conversation:
   * the callback path pays one round trip for both. The lease and the closed check are one MULTI too,
   * so a turn either is seen by {@link closeAndAwaitWriters} (which waits for it) or sees the mark and
   * is refused: no turn can land after finalize has read the history. `lease` is `held` (end it with {@link endTurn}),
   * `refused` (the call is closed; the event is claimed all the same, so a redelivery is skipped) or
   * `none` when the event was a duplicate or Redis could not arbitrate (the claim then goes through
   * {@link claimEvent}'s journal path and the turn runs unfenced).
   */
  async claimTurnEvent(callId: string, eventId: string, turnId: string, options: { leaseMs?: number } = {}): Promise<{ claimed: boolean; lease: 'held' | 'refused' | 'none' }> {
    const claim = this.claimCommands(callId, eventId, turnId);
    if (!this.engine.arbiterReady(callId, this.engine.keys.call(callId, 'turns'))) return { claimed: await this.claimEvent(callId, eventId, turnId), lease: 'none' };
    let replies: Reply[];
    try {
      replies = await this.engine.direct('call.claimTurn', [...claim, ...this.leaseCommands(callId, turnId, options.leaseMs)], { atomic: true });
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      await this.fenceLease(callId, turnId);
      // The timed-out MULTI may still land (a cluster client retries it across the failover), and
      // before this claim: under the same handling id, its claim is recognised as this turn's own.
      return { claimed: await this.claimEvent(callId, eventId, turnId), lease: 'none' };
    }
    this.engine.memory.applyWrites(claim, true);
    const claimed = ownsClaim(replies.slice(0, claim.length), turnId);
    if (claimed && isOpenForTurns(replies)) return { claimed, lease: 'held' };
    await this.releaseUnusedLease(callId, turnId);
    return { claimed, lease: claimed ? 'refused' : 'none' };
  }

  /**
   * A lease write that timed out may still be applied later (a frozen node catching up, a reply lost
   * on the way back): nobody would end that lease, and finalisation would wait for it to run out. Its
   * removal goes through the write path, so it lands after the lease, in order, even if that is
   * only when the journal replays.
   */
  private async fenceLease(callId: string, turnId: string): Promise<void> {
    const commands: Command[] = [{ op: 'hdel', key: this.engine.keys.call(callId, 'turns'), fields: [turnField(turnId)] }];
    await this.engine.write(callId, 'call.turn.fence', commands).catch((err: unknown) => this.logger.error('timed-out turn lease could not be fenced', { callId, error: (err as Error).name }));
  }

  /**
   * Ends a lease taken with a refused or duplicate claim. The answer is already known, so a Redis that
   * stops answering in between does not fail the event: the lease is fenced through the write path.
   */
  private async releaseUnusedLease(callId: string, turnId: string): Promise<void> {
    try {
      await this.endTurn(callId, turnId);
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      await this.fenceLease(callId, turnId);
    }
  }

  /** Ends a turn's lease (its writes are in Redis or journaled). */
  async endTurn(callId: string, turnId: string): Promise<void> {
    await this.engine.direct('call.turn.end', [{ op: 'hdel', key: this.engine.keys.call(callId, 'turns'), fields: [turnField(turnId)] }]);
  }

  /** HSETNX of the event id with the handling's id, its EXPIRE, then HMGET of who holds the claim (read by `ownsClaim`). */
  private claimCommands(callId: string, eventId: string, handlingId: string): Command[] {
    const key = this.engine.keys.call(callId, 'events');
    return [...new WriteBatch().hsetnx(key, eventId, handlingId, this.engine.keys.ttl('call', 'events')).commands(), { op: 'hmget', key, fields: [eventId] }];
  }

  /** HSET lease + EXPIRE, then HMGET closed mark and EXISTS session (read by `isOpenForTurns`). */
  private leaseCommands(callId: string, turnId: string, leaseMs = DEFAULT_TURN_LEASE_MS): Command[] {
    const key = this.engine.keys.call(callId, 'turns');
    return [
      ...new WriteBatch().hset(key, { [turnField(turnId)]: String(Date.now() + leaseMs) }, this.engine.keys.ttl('call', 'turns')).commands(),
      { op: 'hmget', key, fields: [CLOSED_FIELD] },
      // Cleanup deletes the mark with the session: a call without its session is closed too.
      { op: 'exists', key: this.engine.keys.call(callId, 'session') },
    ];
  }

  /**
   * Closes the call to new turns, then waits until the turns in flight have ended (or their leases
   * run out) and no relay holds the call's media (a relay releases its claim after its last write),
   * for at most `timeoutMs`. Finalisation calls this before it reads the history.
   */
  async closeAndAwaitWriters(callId: string, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<CallQuiescence> {
    const key = this.engine.keys.call(callId, 'turns');
    const affinity = this.engine.keys.call(callId, 'affinity');
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? DEFAULT_TURN_LEASE_MS);
    const close = new WriteBatch().hset(key, { [CLOSED_FIELD]: new Date(started).toISOString() }, this.engine.keys.ttl('call', 'turns')).commands();
    let replies = await this.engine.direct('call.close', [...close, { op: 'hgetall', key }, { op: 'get', key: affinity }], { atomic: true });
    let pollMs = options.pollMs ?? 25;
    for (;;) {
      const leases = replies.at(-2) as Record<string, string>;
      const relay = replies.at(-1) === null || replies.at(-1) === undefined ? null : String(replies.at(-1));
      const now = Date.now();
      const openTurns = Object.entries(leases).filter(([field, expiresAt]) => field !== CLOSED_FIELD && Number(expiresAt) > now).length;
      if ((openTurns === 0 && relay === null) || now >= deadline) return { openTurns, relay, waitedMs: now - started };
      await sleep(Math.min(pollMs, deadline - now));
      pollMs = Math.min(pollMs * 2, 500);
      replies = await this.engine.direct('call.writers', [{ op: 'hgetall', key }, { op: 'get', key: affinity }]);
    }
  }
}

/**
 * Whether the replies of {@link TurnFencing.claimCommands} say `handlingId` holds the claim: the
 * HSETNX set it, or the claim already held it (this handling's own earlier write). A memory answer
 * without the holder (the hash not held whole) falls back to the HSETNX reply.
 */
function ownsClaim(replies: readonly Reply[], handlingId: string): boolean {
  const holder = (replies.at(-1) as (string | null)[] | undefined)?.[0];
  if (typeof holder === 'string') return holder === handlingId;
  return replies[0] === 1;
}

/** The last two replies of {@link TurnFencing.leaseCommands}: no closed mark, and the session exists. */
function isOpenForTurns(replies: readonly Reply[]): boolean {
  const closed = (replies.at(-2) as (string | null)[] | undefined)?.[0];
  return (closed === null || closed === undefined) && Number(replies.at(-1)) === 1;
}
