import { MISS, type Miss } from './backend.js';
import { CircuitBreaker, type BreakerSnapshot, type CircuitBreakerOptions } from './circuit-breaker.js';
import type { Command, Reply } from './commands.js';
import { RedisUnavailableError, StoreClosedError, JournalOverflowError } from './errors.js';
import { WriteJournal, type AppendGuard, type JournalEntry, type JournalOptions, type JournalStats } from './journal.js';
import { MemoryTier, type MemoryTierOptions } from './memory-tier.js';
import type { RedisTier } from './redis-tier.js';
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
  readonly breaker: BreakerSnapshot;
  readonly memory: { readonly entries: number; readonly bytes: number };
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
  protected readonly breaker: CircuitBreaker;
  protected readonly journal: WriteJournal;
  protected readonly logger: Logger;
  protected readonly latency: LatencyRegistry;
  readonly l1FreshMs: number;
  private readonly dedupeWindow: number;
  private drainTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

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
    this.breaker = new CircuitBreaker(options.breaker, (state) => {
      if (state === 'open') this.logger.warn('redis circuit opened; serving from memory, journaling writes', { journalDepth: this.journal.depth });
      else if (state === 'closed') this.logger.info('redis circuit closed; journal replayed', { replayed: this.journal.stats().replayed });
    });
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
    if (this.breaker.state === 'open' || this.journal.has(partition)) {
      return { durable: false, replies: this.toJournal(partition, name, commands, guards, false) };
    }
    const started = performance.now();
    let replies: Reply[];
    try {
      replies = (await this.redis.exec(commands, { atomic: true, name })) as Reply[];
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable();
      return { durable: false, replies: this.toJournal(partition, name, commands, guards, true) };
    }
    this.breaker.recordSuccess();
    this.memory.applyWrites(commands, true);
    this.latency.record(LATENCY.persistence, performance.now() - started);
    return { durable: true, replies };
  }

  /**
   * Several partitions' writes in one round trip (one MULTI each, one pipeline). Partitions that are
   * journaled, or a Redis that is away, fall back to {@link write}'s journal path per partition.
   */
  async writeMany(items: readonly { partition: string; name: string; commands: readonly Command[]; guards?: readonly AppendGuard[] }[]): Promise<WriteOutcome[]> {
    this.assertOpen('writeMany');
    if (this.breaker.state !== 'closed' || items.some((i) => this.journal.has(i.partition))) {
      const out: WriteOutcome[] = [];
      for (const i of items) out.push(await this.write(i.partition, i.name, i.commands, i.guards));
      return out;
    }
    const started = performance.now();
    try {
      await this.redis.execMany(items.map((i) => i.commands), { atomic: true, name: 'batch.write' });
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable();
      return items.map((i) => {
        this.toJournal(i.partition, i.name, i.commands, i.guards ?? [], true);
        return JOURNALED;
      });
    }
    this.breaker.recordSuccess();
    for (const i of items) this.memory.applyWrites(i.commands, true);
    this.latency.record(LATENCY.persistence, performance.now() - started);
    return items.map(() => DURABLE);
  }

  /** Several partitions' reads in one round trip; memory answers what Redis cannot while it is away. */
  async readMany(items: readonly { partition: string; commands: readonly Command[] }[]): Promise<(Reply[] | undefined)[]> {
    this.assertOpen('readMany');
    if (this.breaker.state === 'open') return items.map((i) => this.heldOrUndefined(i.commands));
    try {
      const replies = await this.redis.execMany(items.map((i) => i.commands), { name: 'batch.read' });
      this.breaker.recordSuccess();
      return items.map((i, n) => (this.journal.has(i.partition) ? (this.heldOrUndefined(i.commands) ?? (replies[n] as Reply[])) : (replies[n] as Reply[])));
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable();
      return items.map((i) => this.heldOrUndefined(i.commands));
    }
  }

  private heldOrUndefined(commands: readonly Command[]): Reply[] | undefined {
    const held = this.memory.read(commands, Number.POSITIVE_INFINITY);
    return allHit(held) ? held : undefined;
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
    // Journaled writes are newer than Redis; memory has them. Otherwise memory answers if fresh.
    const degraded = this.breaker.state === 'open' || this.journal.has(partition);
    const maxAge = degraded ? Number.POSITIVE_INFINITY : (options.l1MaxAgeMs ?? this.l1FreshMs);
    if (maxAge > 0) {
      const held = this.memory.read(commands, maxAge);
      if (allHit(held)) return held;
    }
    if (this.breaker.state === 'open') throw new RedisUnavailableError(name, new Error('circuit open and not held in memory'));
    try {
      const replies = (await this.redis.exec(commands, { name })) as Reply[];
      this.breaker.recordSuccess();
      // Redis lacks this partition's journaled writes: its view must not replace memory's.
      if (!this.journal.has(partition)) remember?.(replies);
      return replies;
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.onUnavailable();
      const held = this.memory.read(commands, Number.POSITIVE_INFINITY);
      if (allHit(held)) return held;
      throw err;
    }
  }

  /** Operations that need Redis as the arbiter (affinity, heartbeats): no journal, no memory answer. */
  async direct(name: string, commands: readonly Command[], options: { atomic?: boolean } = {}): Promise<Reply[]> {
    this.assertOpen(name);
    if (this.breaker.state === 'open') throw new RedisUnavailableError(name, new Error('circuit open'));
    try {
      const replies = (await this.redis.exec(commands, { atomic: options.atomic ?? false, name })) as Reply[];
      this.breaker.recordSuccess();
      return replies;
    } catch (err) {
      if (err instanceof RedisUnavailableError) this.onUnavailable();
      throw err;
    }
  }

  /**
   * Replays the journal now and waits until it is empty or `timeoutMs` passes. Returns the entries
   * left (0 = everything this process accepted is in Redis). Finalisation calls this before archiving.
   */
  async flushJournal(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.journal.depth > 0 || this.breaker.state !== 'closed') {
      if (this.closed || Date.now() >= deadline) break;
      await this.drain();
      // The caller is waiting: retry at a brisk pace rather than the background probe interval.
      if (this.journal.depth > 0 || this.breaker.state !== 'closed') await sleep(Math.min(this.breaker.probeIntervalMs, 50, Math.max(1, deadline - Date.now())));
    }
    return this.journal.depth;
  }

  /** Writes of one partition (call id) waiting in the journal. */
  journaled(partition: string): number {
    return this.journal.entries(partition).length;
  }

  health(): StoreHealth {
    const breaker = this.breaker.snapshot();
    const journal = this.journal.stats();
    let status: StoreStatus = 'ok';
    if (this.closed || this.journal.full) status = 'down';
    else if (breaker.state !== 'closed' || journal.depth > 0) status = 'degraded';
    return { status, journalDepth: journal.depth, journal, breaker, memory: this.memory.stats };
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
  protected toJournal(partition: string, name: string, commands: readonly Command[], guards: readonly AppendGuard[], uncertain: boolean): Reply[] {
    try {
      this.journal.append(partition, name, commands, guards, uncertain);
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

  private onUnavailable(): void {
    this.breaker.recordFailure();
    this.scheduleDrain();
  }

  private scheduleDrain(delayMs = this.breaker.probeIntervalMs): void {
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
      if (!this.closed && (this.journal.depth > 0 || this.breaker.state !== 'closed')) this.scheduleDrain();
    });
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    try {
      if (this.breaker.state === 'open') {
        await this.redis.exec([{ op: 'exists', key: '__probe__' }], { name: 'probe' });
        this.breaker.halfOpen();
      }
      while (this.journal.depth > 0 && !this.closed) {
        await Promise.all(this.journal.partitionIds().map((p) => this.replayPartition(p)));
      }
      if (!this.closed) this.breaker.close();
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) this.logger.error('journal replay failed; will retry', { error: (err as Error).name });
      this.breaker.trip();
    }
  }

  private async replayPartition(partition: string): Promise<void> {
    for (let entry = this.journal.head(partition); entry; entry = this.journal.head(partition)) {
      if (entry.uncertain && entry.guards.length > 0 && (await this.alreadyApplied(entry))) {
        this.memory.forget(entry.commands);
        this.journal.settle(entry, 'duplicate');
        continue;
      }
      const started = performance.now();
      try {
        await this.redis.exec(entry.commands, { atomic: true, name: `replay.${entry.name}` });
      } catch (err) {
        if (err instanceof RedisUnavailableError) {
          entry.uncertain = true;
          throw err;
        }
        this.logger.error('journal entry rejected by redis on replay; dropped', { operation: entry.name, error: (err as Error).name });
        this.journal.settle(entry, 'rejected');
        continue;
      }
      this.latency.record(LATENCY.persistence, performance.now() - started);
      // Memory applied this entry when it was journaled; applying it again would double its appends.
      // Forget the keys instead: the next read loads them whole from Redis, which now has everything.
      this.memory.forget(entry.commands);
      this.journal.settle(entry, 'applied');
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
