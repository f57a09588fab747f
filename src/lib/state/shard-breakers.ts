import { CircuitBreaker, type BreakerSnapshot, type BreakerState, type CircuitBreakerOptions } from './circuit-breaker.js';

/** A shard whose breaker is not closed, as health reports it (slot ranges, never host names). */
export interface ShardHealth extends BreakerSnapshot {
  /** The slots the shard served when its breaker was made, e.g. `0-5460`; `all` on a single Redis. */
  readonly slots: string;
  /** Calls with writes journaled while this shard was away. */
  readonly journaledCalls: number;
}

interface ShardEntry {
  readonly breaker: CircuitBreaker;
  readonly slots: string;
  /** A key the shard served when it failed: the probe asks for it, so it reaches whoever serves that slot now. */
  probeKey: string | undefined;
}

/**
 * One circuit breaker per shard (a cluster master and the slots it serves; the whole Redis when
 * single), so a dead master degrades only the calls whose keys live on it. A breaker keeps its
 * identity after a failover moves its slots elsewhere: its probe names one of its keys, and it
 * closes once whoever serves that slot now answers and its journaled calls are replayed.
 */
export class ShardBreakers {
  private readonly byShard = new Map<string, ShardEntry>();

  constructor(
    private readonly options: CircuitBreakerOptions | undefined,
    private readonly describeSlots: (shard: string) => string,
    private readonly onChange: (shard: ShardHealthName, state: BreakerState) => void,
  ) {}

  get probeIntervalMs(): number {
    return this.options?.probeIntervalMs ?? 250;
  }

  get(shard: string): CircuitBreaker {
    return this.entry(shard).breaker;
  }

  /** Remembers a key of the shard to probe it with (the latest that failed). */
  noteFailure(shard: string, key: string | undefined): boolean {
    const entry = this.entry(shard);
    if (key !== undefined) entry.probeKey = key;
    return entry.breaker.recordFailure();
  }

  probeKey(shard: string): string | undefined {
    return this.byShard.get(shard)?.probeKey;
  }

  /** Shards whose breaker is in `state`. */
  inState(state: BreakerState): string[] {
    const out: string[] = [];
    for (const [shard, entry] of this.byShard) if (entry.breaker.state === state) out.push(shard);
    return out;
  }

  get allClosed(): boolean {
    for (const entry of this.byShard.values()) if (entry.breaker.state !== 'closed') return false;
    return true;
  }

  /** Forgets closed breakers of shards that serve no slot any more (a master failed over or removed). */
  prune(live: ReadonlySet<string>): void {
    for (const [shard, entry] of this.byShard) if (entry.breaker.state === 'closed' && !live.has(shard)) this.byShard.delete(shard);
  }

  /** The worst state of all, for callers that look at one breaker. */
  aggregate(): BreakerSnapshot {
    let state: BreakerState = 'closed';
    let consecutiveFailures = 0;
    let openedAt: string | undefined;
    let opens = 0;
    for (const { breaker } of this.byShard.values()) {
      const s = breaker.snapshot();
      if (s.state === 'open' || (s.state === 'half-open' && state === 'closed')) state = s.state;
      consecutiveFailures = Math.max(consecutiveFailures, s.consecutiveFailures);
      if (s.openedAt !== undefined && (openedAt === undefined || s.openedAt < openedAt)) openedAt = s.openedAt;
      opens += s.opens;
    }
    return { state, consecutiveFailures, openedAt, opens };
  }

  /** Every shard whose breaker is not closed. */
  degraded(journaledCalls: (shard: string) => number): ShardHealth[] {
    const out: ShardHealth[] = [];
    for (const [shard, entry] of this.byShard) {
      if (entry.breaker.state === 'closed') continue;
      out.push({ ...entry.breaker.snapshot(), slots: entry.slots, journaledCalls: journaledCalls(shard) });
    }
    return out;
  }

  private entry(shard: string): ShardEntry {
    let entry = this.byShard.get(shard);
    if (!entry) {
      const slots = this.describeSlots(shard);
      entry = { breaker: new CircuitBreaker(this.options, (state) => this.onChange({ slots }, state)), slots, probeKey: undefined };
      this.byShard.set(shard, entry);
    }
    return entry;
  }
}

/** How a shard is named in logs and health: by its slots. */
export interface ShardHealthName {
  readonly slots: string;
}
