import { commandBytes, type Command } from './commands.js';
import { JournalOverflowError } from './errors.js';

/** A list-append whose values carry turn ids, so an uncertain replay can tell whether it already landed. */
export interface AppendGuard {
  readonly key: string;
  readonly ids: readonly string[];
}

export interface JournalEntry {
  /** Process-wide order of acceptance. */
  readonly seq: number;
  /** The hash-tag identifier every key of the entry shares (the call or conversation id). */
  readonly partition: string;
  readonly name: string;
  readonly commands: readonly Command[];
  readonly guards: readonly AppendGuard[];
  /**
   * True when the entry may already have reached Redis: it was sent and the reply was lost (a
   * timeout or a dropped connection). Such an entry is checked against Redis before it is replayed.
   */
  uncertain: boolean;
  readonly bytes: number;
  readonly acceptedAtMs: number;
}

export interface JournalOptions {
  /** Most entries held for one call. @default 5_000 */
  readonly maxEntriesPerPartition?: number;
  /** Most entries held in all. @default 100_000 */
  readonly maxEntries?: number;
  /** Most bytes held in all. @default 32 MiB */
  readonly maxBytes?: number;
}

export interface JournalStats {
  readonly depth: number;
  readonly bytes: number;
  readonly partitions: number;
  readonly overflows: number;
  readonly replayed: number;
  readonly skippedAsDuplicate: number;
  /** Entries Redis refused on replay (e.g. a key of the wrong type); logged as errors by the store. */
  readonly rejected: number;
}

/**
 * The bounded, ordered, per-call write journal that holds writes while Redis is unavailable.
 *
 * Order: entries of one partition replay strictly in acceptance order; partitions are independent
 * (no write spans two partitions, each is one hash tag). A partition with entries takes every new
 * write of that partition into the journal too, so nothing overtakes what is waiting.
 *
 * Bounds: a full journal refuses the write with {@link JournalOverflowError} (counted and logged by the
 * store): the caller learns the write was not kept, nothing is dropped silently.
 */
export class WriteJournal {
  private readonly partitions = new Map<string, JournalEntry[]>();
  private seq = 0;
  private depthCount = 0;
  private byteCount = 0;
  private overflowCount = 0;
  private replayedCount = 0;
  private duplicateCount = 0;
  private rejectedCount = 0;
  private readonly maxPerPartition: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(options: JournalOptions = {}) {
    this.maxPerPartition = options.maxEntriesPerPartition ?? 5_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  }

  get depth(): number {
    return this.depthCount;
  }

  has(partition: string): boolean {
    return this.partitions.has(partition);
  }

  /** Would one more entry of `bytes` for `partition` fit? */
  /** True when no further entry of average size would fit anywhere (health reports `down`). */
  get full(): boolean {
    return this.depthCount >= this.maxEntries || this.byteCount >= this.maxBytes;
  }

  fits(partition: string, bytes: number): boolean {
    const held = this.partitions.get(partition)?.length ?? 0;
    return held < this.maxPerPartition && this.depthCount < this.maxEntries && this.byteCount + bytes <= this.maxBytes;
  }

  append(partition: string, name: string, commands: readonly Command[], guards: readonly AppendGuard[], uncertain: boolean): JournalEntry {
    const bytes = commands.reduce((n, c) => n + commandBytes(c), 0);
    if (!this.fits(partition, bytes)) {
      this.overflowCount++;
      throw new JournalOverflowError(partition, name, this.depthCount, this.byteCount);
    }
    const entry: JournalEntry = { seq: ++this.seq, partition, name, commands, guards, uncertain, bytes, acceptedAtMs: Date.now() };
    let list = this.partitions.get(partition);
    if (!list) {
      list = [];
      this.partitions.set(partition, list);
    }
    list.push(entry);
    this.depthCount++;
    this.byteCount += bytes;
    return entry;
  }

  /** The oldest entry of a partition, left in place until {@link settle} removes it. */
  head(partition: string): JournalEntry | undefined {
    return this.partitions.get(partition)?.[0];
  }

  /** Removes the head entry once it is applied (or found already applied). */
  settle(entry: JournalEntry, outcome: 'applied' | 'duplicate' | 'rejected'): void {
    const list = this.partitions.get(entry.partition);
    if (!list || list[0] !== entry) return;
    list.shift();
    if (list.length === 0) this.partitions.delete(entry.partition);
    this.depthCount--;
    this.byteCount -= entry.bytes;
    if (outcome === 'applied') this.replayedCount++;
    else if (outcome === 'duplicate') this.duplicateCount++;
    else this.rejectedCount++;
  }

  partitionIds(): string[] {
    return [...this.partitions.keys()];
  }

  entries(partition: string): readonly JournalEntry[] {
    return this.partitions.get(partition) ?? [];
  }

  stats(): JournalStats {
    return {
      depth: this.depthCount,
      bytes: this.byteCount,
      partitions: this.partitions.size,
      overflows: this.overflowCount,
      replayed: this.replayedCount,
      skippedAsDuplicate: this.duplicateCount,
      rejected: this.rejectedCount,
    };
  }
}
