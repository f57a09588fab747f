import { LRUCache } from 'lru-cache';
import { MISS, type Miss } from './backend.js';
import type { BreakerSnapshot, CircuitBreaker, CircuitBreakerOptions } from './circuit-breaker.js';
import { isWrite, type Command, type Reply } from './commands.js';
import { RedisUnavailableError, StoreClosedError, JournalOverflowError, StateLostError } from './errors.js';
import { WriteJournal, type AppendGuard, type JournalEntry, type JournalOptions, type JournalStats } from './journal.js';
import { MemoryTier, type MemoryTierOptions } from './memory-tier.js';
import type { RedisTier } from './redis-tier.js';
import { ShardBreakers, type ShardHealth } from './shard-breakers.js';
import { LATENCY, processLatency, type LatencyRegistry } from '../telemetry/histograms.js';
import { quietLogger, type Logger } from '../telemetry/logger.js';

export interface TieredStoreOptions {
  readonly memory?: MemoryTierOptions;
  readonly breaker?: CircuitBreakerOptions;
  readonly journal?: JournalOptions;
  /**
   * How long an entry the memory tier synced with Redis may answer a read while Redis is healthy.
   * Call state has several writers (callbacks on any instance, the relay), and a memory answer cannot
   * see another instance's write, so the default reads Redis whenever it is up and uses memory as
   * the fallback. Raise it (e.g. 250) for data this process alone writes, or where a read that is
   * that much stale is acceptable. The TTS cache always reads memory first (its entries never change).
   * @default 0
   */
  readonly l1FreshMs?: number;
  /**
   * How many of the newest list items an uncertain replay inspects to find out whether its append
   * already landed (the list may have grown by other writers since). @default 1_000
   */
  readonly replayDedupeWindow?: number;
  readonly logger?: Logger;
  readonly latency?: LatencyRegistry;
}

/** Whether Redis acknowledged the write, or it is held in the journal for replay. */
export interface WriteOutcome {
  readonly durable: boolean;
}

export type StoreStatus = 'ok' | 'degraded' | 'down';

export interface StoreHealth {
  readonly status: StoreStatus;
  readonly journalDepth: number;
  readonly journal: JournalStats;
  /** The worst of the shards' breakers. */
  readonly breaker: BreakerSnapshot;
  /** Shards whose breaker is open or half-open (empty when every shard is healthy). */
  readonly degradedShards: readonly ShardHealth[];
  readonly memory: { readonly entries: number; readonly bytes: number };
  /** State Redis lost that this process rewrote from memory, and state it could not (see StateLostError). */
  readonly loss: { readonly restored: number; readonly unrecoverable: number };
}

const DURABLE: WriteOutcome = Object.freeze({ durable: true });
const JOURNALED: WriteOutcome = Object.freeze({ durable: false });

/**
 * The tiering and degradation machinery, shared by every state module:
 * - writes go to Redis as one MULTI (one round trip) and through to memory; when Redis is away they
 *   go to the per-call journal instead (`durable: false`), in order;
 * - reads go to Redis while it is healthy (or to memory within `l1FreshMs`), and to memory when it
 *   is not; a value memory never saw whole is not guessed (`RedisUnavailableError`);
 * - a circuit breaker stops sending to a Redis that keeps failing, probes it, and on recovery the
 *   journal is replayed in order, exactly once, before the breaker closes.
 *
 * Exactly once: an entry that was never sent is replayed once. An entry whose first send had an
 * unknown outcome (timeout, dropped connection) is "uncertain"; before replaying it the store looks
 * for its turn ids in the list it appended to, and skips it when they are there. Hash and TTL
 * writes are idempotent, so replaying them is harmless; appends are what the ids protect.
 */
export class TieredStore {
  readonly memory: MemoryTier;
  protected readonly breakers: ShardBreakers;
  protected readonly journal: WriteJournal;
  protected readonly logger: Logger;
  protected readonly latency: LatencyRegistry;
  readonly l1FreshMs: number;
  private readonly dedupeWindow: number;
  private drainTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  /** The shard each journaled partition was journaled for: its breaker decides when it replays. */
  private readonly journaledShard = new Map<string, string>();
  /**
   * Keys this process wrote to Redis and saw acknowledged, with when they expire, per partition: an
   * empty answer for one of them means Redis lost it (restart without persistence, lossy failover).
   */
  private readonly written = new LRUCache<string, Map<string, number>>({ max: 50_000 });
  private restoredCount = 0;
  private unrecoverableCount = 0;

  constructor(
    readonly redis: RedisTier,
    options: TieredStoreOptions = {},
  ) {
    this.memory = new MemoryTier(options.memory);
    this.journal = new WriteJournal(options.journal);
    this.logger = options.logger ?? quietLogger;
    this.latency = options.latency ?? processLatency;
    this.l1FreshMs = options.l1FreshMs ?? 0;
    this.dedupeWindow = options.replayDedupeWindow ?? 1_000;
    this.breakers = new ShardBreakers(options.breaker, (shard) => redis.slotsOf(shard), ({ slots }, state) => {
      if (state === 'open') this.logger.warn('redis circuit opened; serving from memory, journaling writes', { slots, journalDepth: this.journal.depth });
      else if (state === 'closed') this.logger.info('redis circuit closed; journal replayed', { slots, replayed: this.journal.stats().replayed });
    });
  }

  /** The breaker of the shard serving a key. */
  protected breakerFor(key: string | undefined): CircuitBreaker {
    return this.breakers.get(this.shardOf(key));
  }

  /** True when the shard serving `key` takes traffic and `partition` has nothing waiting to replay. */
  arbiterReady(partition: string, key: string): boolean {
    return this.breakerFor(key).state === 'closed' && !this.journal.has(partition);
  }

  private shardOf(key: string | undefined): string {
    return key === undefined ? this.redis.shardOf('') : this.redis.shardOf(key);
  }

  /**
   * Writes one partition's commands atomically (MULTI/EXEC), or journals them while Redis is away.
   * `guards` name the list appends whose values carry turn ids (for exactly-once replay).
   * Throws {@link JournalOverflowError} when the write can be neither sent nor kept.
   */
  async write(partition: string, name: string, commands: readonly Command[], guards: readonly AppendGuard[] = []): Promise<WriteOutcome> {
    return (await this.writeDetailed(partition, name, commands, guards)).durable ? DURABLE : JOURNALED;
  }

  /**
   * {@link write}, also returning one reply per command: Redis's when it acknowledged the write,
   * otherwise the memory tier's (what this process knows, e.g. for HSETNX "was it new?").
   */
  async writeDetailed(partition: string, name: string, commands: readonly Command[], guards: readonly AppendGuard[] = []): Promise<{ durable: boolean; replies: Reply[] }> {
    this.assertOpen(name);
    const key = firstKey(commands);
    const shard = this.shardOf(key);
    const breaker = this.breakers.get(shard);
    if (breaker.state === 'open' || this.journal.has(partition)) {
      return { durable: false, replies: this.toJournal(partition, shard, name, commands, guards, false) };
    }
    const started = performance.now();
    const heldBefore = this.fieldsHeldBefore(partition, commands);
    let replies: Reply[];
    try {
      replies = (await this.redis.exec(commands, { atomic: true, name })) as Reply[];
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable(shard, key);
      return { durable: false, replies: this.toJournal(partition, shard, name, commands, guards, true) };
    }
    breaker.recordSuccess();
    // Lists are checked by their writer, which knows how long it left them (recoverLostState).
    const lost = this.lostOnWrite(partition, commands, replies, heldBefore, false);
    this.memory.applyWrites(commands, true);
    this.noteWritten(partition, commands);
    if (lost.length > 0) await this.recoverOnWrite(partition, name, lost, new Map());
    this.latency.record(LATENCY.persistence, performance.now() - started);
    return { durable: true, replies };
  }

  /**
   * Reads through the tiers. `remember` receives Redis's replies so the caller can seed the memory
   * tier with whole values. Throws {@link RedisUnavailableError} when Redis is away and memory does
   * not hold the answer.
   */
  async read(
    partition: string,
    name: string,
    commands: readonly Command[],
    remember?: (replies: readonly Reply[]) => void,
    options: { l1MaxAgeMs?: number } = {},
  ): Promise<Reply[]> {
    this.assertOpen(name);
    const key = firstKey(commands);
    const shard = this.shardOf(key);
    const breaker = this.breakers.get(shard);
    // Journaled writes are newer than Redis; memory has them. Otherwise memory answers if fresh.
    const degraded = breaker.state === 'open' || this.journal.has(partition);
    const maxAge = degraded ? Number.POSITIVE_INFINITY : (options.l1MaxAgeMs ?? this.l1FreshMs);
    if (maxAge > 0) {
      const held = this.memory.read(commands, maxAge);
      if (allHit(held)) return held;
    }
    if (breaker.state === 'open') throw new RedisUnavailableError(name, new Error('circuit open and not held in memory'));
    let replies: Reply[];
    try {
      replies = (await this.redis.exec(commands, { name })) as Reply[];
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable(shard, key);
      const held = this.memory.read(commands, Number.POSITIVE_INFINITY);
      if (allHit(held)) return held;
      throw err;
    }
    breaker.recordSuccess();
    // Redis lacks this partition's journaled writes: its view must not replace memory's.
    if (this.journal.has(partition)) return replies;
    if (this.lostKeys(partition, commands, replies).length > 0) return this.recoverLoss(partition, name, commands, replies, remember);
    remember?.(replies);
    return replies;
  }

  /** Operations that need Redis as the arbiter (affinity, heartbeats): no journal, no memory answer. */
  async direct(name: string, commands: readonly Command[], options: { atomic?: boolean } = {}): Promise<Reply[]> {
    this.assertOpen(name);
    const key = firstKey(commands);
    const shard = this.shardOf(key);
    const breaker = this.breakers.get(shard);
    if (breaker.state === 'open') throw new RedisUnavailableError(name, new Error('circuit open'));
    try {
      const replies = (await this.redis.exec(commands, { atomic: options.atomic ?? false, name })) as Reply[];
      breaker.recordSuccess();
      return replies;
    } catch (err) {
      if (err instanceof RedisUnavailableError) this.onUnavailable(shard, key);
      throw err;
    }
  }

  /**
   * Replays the journal now and waits until it is empty or `timeoutMs` passes. Returns the entries
   * left (0 = everything this process accepted is in Redis). Finalisation calls this before archiving.
   */
  async flushJournal(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.journal.depth > 0 || !this.breakers.allClosed) {
      if (this.closed || Date.now() >= deadline) break;
      await this.drain();
      // The caller is waiting: retry at a brisk pace rather than the background probe interval.
      if (this.journal.depth > 0 || !this.breakers.allClosed) await sleep(Math.min(this.breakers.probeIntervalMs, 50, Math.max(1, deadline - Date.now())));
    }
    return this.journal.depth;
  }

  /**
   * For a caller that knows Redis answered with less than it had written (a list shorter than its own
   * appends left it, after a failover lost acknowledged writes): the keys are rewritten from memory.
   */
  async recoverLostState(partition: string, name: string, keys: readonly string[]): Promise<void> {
    this.assertOpen(name);
    await this.recoverOnWrite(partition, name, keys, new Map());
  }

  /** Writes of one partition (call id) waiting in the journal. */
  journaled(partition: string): number {
    return this.journal.entries(partition).length;
  }

  health(): StoreHealth {
    const breaker = this.breakers.aggregate();
    const journal = this.journal.stats();
    let status: StoreStatus = 'ok';
    if (this.closed || this.journal.full) status = 'down';
    else if (breaker.state !== 'closed' || journal.depth > 0) status = 'degraded';
    const degradedShards = this.breakers.degraded((shard) => {
      let n = 0;
      for (const s of this.journaledShard.values()) if (s === shard) n++;
      return n;
    });
    return {
      status,
      journalDepth: journal.depth,
      journal,
      breaker,
      degradedShards,
      memory: this.memory.stats,
      loss: { restored: this.restoredCount, unrecoverable: this.unrecoverableCount },
    };
  }

  /** Stops probing and replaying; tries to empty the journal first for up to `drainTimeoutMs`. */
  async close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    if (this.journal.depth > 0 && (options.drainTimeoutMs ?? 0) > 0) await this.flushJournal(options.drainTimeoutMs);
    this.closed = true;
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    await this.draining?.catch(() => undefined);
    if (this.journal.depth > 0) this.logger.error('session store closed with writes still journaled', { journalDepth: this.journal.depth });
  }

  protected assertOpen(operation: string): void {
    if (this.closed) throw new StoreClosedError(operation);
  }

  /** Journals a write and applies it to memory; returns memory's replies. */
  protected toJournal(partition: string, shard: string, name: string, commands: readonly Command[], guards: readonly AppendGuard[], uncertain: boolean): Reply[] {
    try {
      this.journal.append(partition, name, commands, guards, uncertain);
      if (!this.journaledShard.has(partition)) this.journaledShard.set(partition, shard);
    } catch (err) {
      if (err instanceof JournalOverflowError) {
        this.logger.error('write journal full; write refused', { operation: name, journalDepth: err.depth, journalBytes: err.bytes, overflows: this.journal.stats().overflows });
      }
      throw err;
    }
    const replies = this.memory.applyWrites(commands, false);
    this.scheduleDrain();
    return replies;
  }

  private onUnavailable(shard: string, key: string | undefined): void {
    this.breakers.noteFailure(shard, key);
    this.scheduleDrain();
  }

  private scheduleDrain(delayMs = this.breakers.probeIntervalMs): void {
    if (this.closed || this.drainTimer || this.draining) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      void this.drain();
    }, delayMs);
    this.drainTimer.unref();
  }

  /** Probe (if open), replay every partition in order, close the breaker. One drain at a time. */
  private drain(): Promise<void> {
    this.draining ??= this.drainOnce().finally(() => {
      this.draining = undefined;
      if (!this.closed && (this.journal.depth > 0 || !this.breakers.allClosed)) this.scheduleDrain();
    });
    return this.draining;
  }

  /**
   * One round: probe each open shard (with one of its own keys, so the probe reaches whoever serves
   * that slot now, e.g. a promoted replica), replay every journaled partition whose shard answers, and
   * close the breakers of shards with nothing left to replay.
   */
  private async drainOnce(): Promise<void> {
    await Promise.all(
      this.breakers.inState('open').map(async (shard) => {
        const probeKey = this.breakers.probeKey(shard) ?? '__probe__';
        try {
          await this.redis.exec([{ op: 'exists', key: probeKey }], { name: 'probe' });
          this.breakers.get(shard).halfOpen();
        } catch (err) {
          if (!(err instanceof RedisUnavailableError)) this.logger.error('redis probe refused; will retry', { error: (err as Error).name });
        }
      }),
    );
    const ready = this.journal.partitionIds().filter((p) => this.breakers.get(this.journaledShard.get(p) ?? this.shardOf(undefined)).state !== 'open');
    await Promise.all(
      ready.map(async (partition) => {
        const shard = this.journaledShard.get(partition) ?? this.shardOf(undefined);
        try {
          while (this.journal.has(partition) && !this.closed) await this.replayPartition(partition);
          this.journaledShard.delete(partition);
        } catch (err) {
          if (!(err instanceof RedisUnavailableError)) this.logger.error('journal replay failed; will retry', { error: (err as Error).name });
          this.breakers.get(shard).trip();
        }
      }),
    );
    if (this.closed) return;
    const waiting = new Set(this.journaledShard.values());
    for (const shard of this.breakers.inState('half-open')) if (!waiting.has(shard)) this.breakers.get(shard).close();
    for (const shard of this.breakers.inState('closed')) if (waiting.has(shard)) this.breakers.get(shard).trip();
    this.breakers.prune(new Set([...this.redis.shards(), ...waiting]));
  }

  private async replayPartition(partition: string): Promise<void> {
    for (let entry = this.journal.head(partition); entry; entry = this.journal.head(partition)) {
      if (entry.uncertain && entry.guards.length > 0 && (await this.alreadyApplied(entry))) {
        this.memory.forget(entry.commands);
        this.journal.settle(entry, 'duplicate');
        continue;
      }
      const started = performance.now();
      let replies: Reply[];
      try {
        replies = (await this.redis.exec(entry.commands, { atomic: true, name: `replay.${entry.name}` })) as Reply[];
      } catch (err) {
        if (err instanceof RedisUnavailableError) {
          entry.uncertain = true;
          throw err;
        }
        this.logger.error('journal entry rejected by redis on replay; dropped', { operation: entry.name, error: (err as Error).name, rejected: this.journal.stats().rejected + 1 });
        this.journal.settle(entry, 'rejected');
        continue;
      }
      this.latency.record(LATENCY.persistence, performance.now() - started);
      const lost = this.lostOnWrite(partition, entry.commands, replies, undefined, true);
      if (lost.length > 0) {
        // Redis came back without this call's state. Memory holds it, this entry and the ones after it
        // included (it applied them when they were journaled): rewrite from memory, and the rest of
        // the partition's entries are in Redis with it.
        const remaining = this.journal.entries(partition);
        const extra = new Map<string, number>();
        for (const e of remaining) for (const [k, seconds] of ttlsOf(e.commands)) extra.set(k, Date.now() + seconds * 1000);
        // Applied already: if the rewrite fails, the retry must look for it rather than append it again.
        entry.uncertain = true;
        const covered = await this.recoverOnWrite(partition, `replay.${entry.name}`, lost, extra, true);
        if (covered) {
          for (let e = this.journal.head(partition); e; e = this.journal.head(partition)) {
            this.noteWritten(partition, e.commands);
            this.journal.settle(e, e === entry ? 'applied' : 'duplicate');
          }
          return;
        }
      }
      // Memory applied this entry when it was journaled; applying it again would double its appends.
      // Forget the keys instead: the next read loads them whole from Redis, which now has everything.
      this.memory.forget(entry.commands);
      this.noteWritten(partition, entry.commands);
      this.journal.settle(entry, 'applied');
    }
  }

  /** For each HSET onto a hash this process wrote before: how many of its fields memory holds. */
  private fieldsHeldBefore(partition: string, commands: readonly Command[]): Map<string, number> | undefined {
    const keys = this.written.get(partition);
    if (!keys) return undefined;
    let out: Map<string, number> | undefined;
    for (const c of commands) {
      if (c.op !== 'hset' || !keys.has(c.key)) continue;
      out ??= new Map();
      out.set(c.key, this.memory.heldFields(c.key, Object.keys(c.fields)));
    }
    return out;
  }

  /**
   * Keys Redis answered a write for as if they were gone although this process wrote them and they
   * have not expired: an RPUSH that made a list of just its own values, an HSET that found fields new
   * which this process had set (`heldBefore`, when known).
   */
  private lostOnWrite(partition: string, commands: readonly Command[], replies: readonly Reply[], heldBefore: Map<string, number> | undefined, lists: boolean): string[] {
    const keys = this.written.get(partition);
    if (!keys) return [];
    const now = Date.now();
    const lost: string[] = [];
    commands.forEach((c, i) => {
      if (c.op !== 'rpush' && c.op !== 'hset') return;
      const expiresAt = keys.get(c.key);
      if (expiresAt === undefined || expiresAt < now + 1000) return;
      const reply = Number(replies[i]);
      if (lists && c.op === 'rpush' && reply === c.values.length) lost.push(c.key);
      if (c.op === 'hset') {
        const held = heldBefore?.get(c.key);
        if (held !== undefined && held > 0 && reply > Object.keys(c.fields).length - held) lost.push(c.key);
      }
    });
    return lost;
  }

  /** A write found state gone: unless it was removed on purpose, rewrite the partition from memory. */
  private async recoverOnWrite(partition: string, name: string, lost: readonly string[], extra: Map<string, number>, duringReplay = false): Promise<boolean> {
    if (await this.removedOnPurpose(partition)) {
      this.written.delete(partition);
      return false;
    }
    // During a replay the rewrite must land before the entries it covers are settled: no journal fallback.
    const rewritten = await this.rewriteFromMemory(partition, new Set(lost), extra, !duringReplay);
    this.restoredCount++;
    this.logger.warn('redis lost call state; rewritten from memory', { operation: name, commands: rewritten, restored: this.restoredCount });
    return true;
  }

  /** Records the keys a write Redis acknowledged left in place, with when they expire. */
  private noteWritten(partition: string, commands: readonly Command[]): void {
    const now = Date.now();
    let keys = this.written.get(partition);
    const existed = keys !== undefined;
    for (const c of commands) {
      if (c.op === 'hdel') {
        // Removing fields may remove the hash: unless the same write also sets some, stop expecting it.
        if (!commands.some((o) => o !== c && 'key' in o && o.key === c.key && isWrite(o) && o.op !== 'hdel' && o.op !== 'expire')) keys?.delete(c.key);
        continue;
      }
      if (c.op === 'del') {
        for (const k of c.keys) keys?.delete(k);
        continue;
      }
      if (c.op === 'expire') {
        if (keys?.has(c.key)) keys.set(c.key, now + c.seconds * 1000);
        continue;
      }
      if (c.op === 'deleteIfOwner') {
        keys?.delete(c.key);
        continue;
      }
      if (!isWrite(c) || !('key' in c)) continue;
      keys ??= new Map();
      // The TTL comes with the write (SET EX) or in the EXPIRE that follows it in the same list.
      keys.set(c.key, c.op === 'set' ? now + c.ttlSeconds * 1000 : (keys.get(c.key) ?? now));
    }
    if (!keys) return;
    if (keys.size === 0) this.written.delete(partition);
    else if (!existed) this.written.set(partition, keys);
  }

  /** Keys of a read that Redis answered as absent although this process wrote them and they have not expired. */
  private lostKeys(partition: string, commands: readonly Command[], replies: readonly Reply[]): string[] {
    const keys = this.written.get(partition);
    if (!keys) return [];
    const now = Date.now();
    const lost: string[] = [];
    commands.forEach((c, i) => {
      if (!('key' in c)) return;
      const expiresAt = keys.get(c.key);
      // A second of slack: a key that expires about now may just have expired.
      if (expiresAt === undefined || expiresAt < now + 1000) return;
      if (isAbsentReply(c, replies[i])) lost.push(c.key);
    });
    return lost;
  }

  /**
   * Whether keys Redis no longer has were lost (true) rather than removed on purpose by another
   * process (false). The store knows its key layout and overrides this; by default a key this process
   * wrote and did not delete is taken as lost.
   */
  protected async removedOnPurpose(_partition: string): Promise<boolean> {
    return false;
  }

  /**
   * Redis answered without state this process wrote: the partition's state is rewritten from what
   * memory holds (which includes what the journal added), and the read is answered from the rewritten
   * state. What memory does not hold is reported: {@link StateLostError}, counted, logged. Redis's
   * empty answer never replaces memory's.
   */
  private async recoverLoss(partition: string, name: string, commands: readonly Command[], replies: Reply[], remember?: (replies: readonly Reply[]) => void): Promise<Reply[]> {
    if (await this.removedOnPurpose(partition)) {
      this.written.delete(partition);
      remember?.(replies);
      return replies;
    }
    const rewritten = await this.rewriteFromMemory(partition);
    // Read again: Redis now has what memory held, which may be more than this read asked for, or
    // less (a hash this process only ever wrote fields of). What is still missing was not held.
    const again = (await this.redis.exec(commands, { name })) as Reply[];
    if (this.lostKeys(partition, commands, again).length === 0) {
      this.restoredCount++;
      this.logger.warn('redis lost call state; rewritten from memory', { operation: name, commands: rewritten, restored: this.restoredCount });
      remember?.(again);
      return again;
    }
    this.unrecoverableCount++;
    this.logger.error('redis lost call state and no copy is held', { operation: name, commands: rewritten, unrecoverable: this.unrecoverableCount });
    throw new StateLostError(partition, name);
  }

  /**
   * Writes back every key of the partition that Redis lacks (or that `force` names) and memory holds,
   * with its remaining TTL. A list is replaced whole by what memory holds (its hot window), so it
   * ends as memory has it, in order; hashes are merged, field by field.
   */
  private async rewriteFromMemory(partition: string, force: ReadonlySet<string> = new Set(), extra: ReadonlyMap<string, number> = new Map(), journalOnFailure = true): Promise<number> {
    const now = Date.now();
    const expiries = new Map<string, number>(this.written.get(partition) ?? []);
    for (const [k, at] of extra) if (!expiries.has(k)) expiries.set(k, at);
    const candidates = [...expiries].filter(([, expiresAt]) => expiresAt > now + 1000);
    if (candidates.length === 0) return 0;
    const check = candidates.filter(([key]) => !force.has(key));
    const present = check.length > 0 ? await this.redis.exec(check.map(([key]) => ({ op: 'exists', key })), { name: 'restore.check' }) : [];
    const absent = new Set(force);
    check.forEach(([key], i) => {
      if (Number(present[i]) !== 1) absent.add(key);
    });
    const commands: Command[] = [];
    for (const [key, expiresAt] of candidates) {
      if (!absent.has(key)) continue;
      const seconds = Math.max(1, Math.ceil((expiresAt - now) / 1000));
      const snapshot = this.memory.snapshot(key, seconds);
      if (!snapshot) continue;
      const unheld = this.memory.unheldHead(key);
      if (unheld > 0) {
        // Rewritten from the tail memory holds; the head is gone for good, and that is reported.
        this.unrecoverableCount++;
        this.logger.error('redis lost call state; the oldest items of a list are not held and stay lost', { partition, items: unheld, unrecoverable: this.unrecoverableCount });
      }
      if (snapshot[0]?.op === 'rpush') commands.push({ op: 'del', keys: [key] });
      commands.push(...snapshot);
      if (snapshot[0]?.op !== 'set') commands.push({ op: 'expire', key, seconds });
    }
    if (commands.length === 0) return 0;
    // Memory already holds these values: the write must not apply them to memory a second time.
    const outcome = await this.writeOnlyToRedis(partition, commands, journalOnFailure);
    return outcome ? commands.length : 0;
  }

  private async writeOnlyToRedis(partition: string, commands: readonly Command[], journalOnFailure: boolean): Promise<boolean> {
    const key = firstKey(commands);
    const shard = this.shardOf(key);
    try {
      await this.redis.exec(commands, { atomic: true, name: 'restore' });
      this.noteWritten(partition, commands);
      return true;
    } catch (err) {
      if (!(err instanceof RedisUnavailableError) || !journalOnFailure) throw err;
      this.onUnavailable(shard, key);
      // Kept for replay: memory already has the values, so the journal must not apply them again.
      this.journal.append(partition, 'restore', commands, [], true);
      if (!this.journaledShard.has(partition)) this.journaledShard.set(partition, shard);
      this.scheduleDrain();
      return false;
    }
  }

  /** Did an uncertain entry's appends land? MULTI is all-or-nothing, so one id found means all did. */
  private async alreadyApplied(entry: JournalEntry): Promise<boolean> {
    const guard = entry.guards[0] as AppendGuard;
    const window = guard.ids.length + this.dedupeWindow;
    const [tail] = await this.redis.exec([{ op: 'lrange', key: guard.key, start: -window, stop: -1 }], { name: 'replay.check' });
    const wanted = guard.ids[0];
    return (tail as (string | null)[]).some((raw) => raw !== null && idOf(raw) === wanted);
  }
}

/** The TTL each key of a write list is given (SET EX, or the EXPIRE that follows a write). */
function ttlsOf(commands: readonly Command[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of commands) {
    if (c.op === 'expire') out.set(c.key, c.seconds);
    else if (c.op === 'set') out.set(c.key, c.ttlSeconds);
  }
  return out;
}

function firstKey(commands: readonly Command[]): string | undefined {
  const c = commands[0];
  if (!c) return undefined;
  if ('key' in c) return c.key;
  return c.keys[0];
}

/** Redis's answer for a key that does not exist. */
function isAbsentReply(c: Command, reply: Reply | undefined): boolean {
  switch (c.op) {
    case 'hgetall':
      return reply !== null && typeof reply === 'object' && !Array.isArray(reply) && !Buffer.isBuffer(reply) && Object.keys(reply).length === 0;
    case 'get':
      return reply === null || reply === undefined;
    case 'llen':
    case 'exists':
      return Number(reply) === 0;
    case 'lrange':
      return Array.isArray(reply) && reply.length === 0 && c.start < 0;
    default:
      return false;
  }
}

function allHit(replies: readonly (Reply | Miss)[]): replies is Reply[] {
  for (const r of replies) if (r === MISS) return false;
  return true;
}

/** Turns are JSON objects whose first member is `"id"`; read it without parsing the whole turn. */
function idOf(raw: string): string | undefined {
  const m = /^\{"id":"([^"]+)"/.exec(raw);
  if (m) return m[1];
  try {
    return (JSON.parse(raw) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
