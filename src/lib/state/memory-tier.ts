import { LRUCache } from 'lru-cache';
import { MISS, type ExecOptions, type Miss, type StateBackend } from './backend.js';
import type { Command, Reply } from './commands.js';

export interface MemoryTierOptions {
  /** Most keys held. @default 50_000 */
  readonly maxEntries?: number;
  /** Most bytes held (keys, fields and values, approximately). @default 64 MiB */
  readonly maxBytes?: number;
  /**
   * Most items kept per list; older items are dropped from the head (Redis keeps the full list).
   * Reads need only a conversation's hot window (20 by default), but a Redis that comes back empty is
   * rewritten from what is held: 512 keeps the whole conversation of any realistic call (about 100 KB
   * for a 256-turn call, within `maxBytes`). A longer list loses its head on such a rewrite, and the
   * loss is reported. @default 512
   */
  readonly maxListItems?: number;
  /** How long a deleted key is remembered as absent. @default 60_000 */
  readonly tombstoneTtlMs?: number;
  readonly now?: () => number;
}

interface EntryBase {
  /** True when the entry mirrors the whole Redis value (loaded, created, or known absent before). */
  complete: boolean;
  /** When the entry last matched Redis (loaded from or written through to it). */
  syncedAtMs: number;
  bytes: number;
}
interface HashEntry extends EntryBase {
  readonly kind: 'hash';
  readonly fields: Map<string, string>;
}
interface ListEntry extends EntryBase {
  readonly kind: 'list';
  items: string[];
  /** Items at the head that this tier no longer (or never) held; logical index = dropped + local index. */
  dropped: number;
}
interface StringEntry extends EntryBase {
  readonly kind: 'string';
  value: string | Buffer;
}
interface Tombstone extends EntryBase {
  readonly kind: 'none';
}
type Entry = HashEntry | ListEntry | StringEntry | Tombstone;

const ENTRY_OVERHEAD_BYTES = 64;

/**
 * The in-process tier: a bounded LRU (entries and bytes) whose items expire with their Redis TTL.
 * It executes the same {@link Command}s as Redis. It serves reads as the L1 cache and as the
 * fallback while Redis is away; a read it cannot answer faithfully (a key it never saw whole, a list
 * window it dropped) is a {@link MISS}, never a guess.
 */
export class MemoryTier implements StateBackend {
  readonly tier = 'memory' as const;
  private readonly cache: LRUCache<string, Entry>;
  private readonly maxListItems: number;
  private readonly tombstoneTtlMs: number;
  private readonly now: () => number;

  constructor(options: MemoryTierOptions = {}) {
    this.maxListItems = options.maxListItems ?? 512;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.cache = new LRUCache<string, Entry>({
      max: options.maxEntries ?? 50_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (entry, key) => Math.max(1, entry.bytes + key.length + ENTRY_OVERHEAD_BYTES),
      ttlAutopurge: false,
      allowStale: false,
      // lru-cache's own clock: our TTLs are seconds, a coarse timer is plenty and cheaper.
      ttlResolution: 100,
    });
  }

  /** Entries and approximate bytes held. */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize };
  }

  async exec(commands: readonly Command[], _options?: ExecOptions): Promise<(Reply | Miss)[]> {
    const replies = commands.map((c) => this.execOne(c, Number.POSITIVE_INFINITY, false));
    this.settleDirty();
    return replies;
  }

  /**
   * Answers reads only from entries synced with Redis within `maxAgeMs` (L1 use); `Infinity`
   * serves whatever is held (fallback use).
   */
  read(commands: readonly Command[], maxAgeMs: number): (Reply | Miss)[] {
    return commands.map((c) => this.execOne(c, maxAgeMs, false));
  }

  /** Write-through: mirrors writes Redis has applied. */
  applyWrites(commands: readonly Command[], synced: boolean): Reply[] {
    const replies = commands.map((c) => this.execOne(c, Number.POSITIVE_INFINITY, synced) as Reply);
    this.settleDirty();
    return replies;
  }

  /** Records a whole hash as read from Redis (`{}` = absent). */
  loadHash(key: string, fields: Record<string, string>, ttlSeconds: number | undefined): void {
    if (Object.keys(fields).length === 0) return this.tombstone(key);
    const map = new Map(Object.entries(fields));
    this.put(key, { kind: 'hash', fields: map, complete: true, syncedAtMs: this.now(), bytes: hashBytes(map) }, ttlMs(ttlSeconds));
  }

  /** Records the tail of a list as read from Redis: `items` are the last items of a list of `length`. */
  loadListTail(key: string, items: readonly string[], length: number, ttlSeconds: number | undefined): void {
    if (length === 0) return this.tombstone(key);
    const kept = items.slice(-this.maxListItems);
    const entry: ListEntry = { kind: 'list', items: kept, dropped: length - kept.length, complete: true, syncedAtMs: this.now(), bytes: listBytes(kept) };
    this.put(key, entry, ttlMs(ttlSeconds));
  }

  /**
   * Takes what is held of `keys` as their whole value, and a key not held as absent. Only for keys of
   * something this process has just created while Redis was away (a new call's session, its empty
   * conversation): nothing else can have written them, and without this memory could answer no read
   * of them until the journal replays.
   */
  assumeWhole(keys: readonly string[]): void {
    for (const key of keys) {
      const e = this.cache.get(key);
      if (e === undefined) this.tombstone(key);
      else if (e.kind === 'hash' || e.kind === 'list') e.complete = true;
    }
  }

  delete(key: string): void {
    this.dirty.delete(key);
    this.cache.delete(key);
  }

  /**
   * Write commands that recreate what this tier holds of a key (a hash's fields, a list's held tail, a
   * string), for rewriting state Redis lost. Undefined when nothing is held. Hashes and lists get no
   * TTL here (the caller adds an EXPIRE); a string gets `ttlSeconds`.
   */
  snapshot(key: string, ttlSeconds: number): Command[] | undefined {
    const e = this.cache.get(key);
    if (e === undefined) return undefined;
    switch (e.kind) {
      case 'hash':
        return e.fields.size === 0 ? undefined : [{ op: 'hset', key, fields: Object.fromEntries(e.fields) }];
      case 'list':
        return e.items.length === 0 ? undefined : [{ op: 'rpush', key, values: [...e.items] }];
      case 'string':
        return [{ op: 'set', key, value: e.value, ttlSeconds }];
      case 'none':
        return undefined;
    }
  }

  /** Items at the head of a list that this tier does not hold (0 for a list held whole, or any other key). */
  unheldHead(key: string): number {
    const e = this.cache.get(key);
    return e?.kind === 'list' ? e.dropped : 0;
  }

  /** How many of `fields` this tier holds for a hash key. */
  heldFields(key: string, fields: readonly string[]): number {
    const e = this.cache.get(key);
    if (e?.kind !== 'hash') return 0;
    let n = 0;
    for (const f of fields) if (e.fields.has(f)) n++;
    return n;
  }

  /** Drops every key the commands touch, so the next read loads them from Redis. */
  forget(commands: readonly Command[]): void {
    for (const c of commands) {
      if ('key' in c) this.delete(c.key);
      else if (c.op === 'del') for (const key of c.keys) this.delete(key);
      else if (c.op === 'eval') for (const key of c.keys) this.delete(key);
    }
  }

  clear(): void {
    this.cache.clear();
  }

  private execOne(c: Command, maxAgeMs: number, synced: boolean): Reply | Miss {
    switch (c.op) {
      case 'hgetall': {
        const e = this.fresh(c.key, maxAgeMs);
        if (e === undefined) return MISS;
        if (e.kind === 'none') return {};
        if (e.kind !== 'hash' || !e.complete) return MISS;
        return Object.fromEntries(e.fields);
      }
      case 'hmget': {
        const e = this.fresh(c.key, maxAgeMs);
        if (e === undefined) return MISS;
        if (e.kind === 'none') return c.fields.map(() => null);
        if (e.kind !== 'hash') return MISS;
        if (!e.complete && c.fields.some((f) => !e.fields.has(f))) return MISS;
        return c.fields.map((f) => e.fields.get(f) ?? null);
      }
      case 'lrange':
        return this.lrange(c.key, c.start, c.stop, maxAgeMs);
      case 'llen': {
        const e = this.fresh(c.key, maxAgeMs);
        if (e === undefined) return MISS;
        if (e.kind === 'none') return 0;
        if (e.kind !== 'list' || !e.complete) return MISS;
        return e.dropped + e.items.length;
      }
      case 'get': {
        const e = this.fresh(c.key, maxAgeMs);
        if (e === undefined) return MISS;
        if (e.kind === 'none') return null;
        return e.kind === 'string' ? e.value : MISS;
      }
      case 'exists': {
        const e = this.fresh(c.key, maxAgeMs);
        if (e === undefined) return MISS;
        return e.kind === 'none' ? 0 : 1;
      }
      case 'ttl': {
        const e = this.cache.get(c.key);
        if (e === undefined) return MISS;
        if (e.kind === 'none') return -2;
        return Math.ceil(this.cache.getRemainingTTL(c.key) / 1000);
      }
      case 'hset': {
        const e = this.hashFor(c.key, synced);
        let added = 0;
        for (const name in c.fields) {
          const value = c.fields[name] as string;
          const old = e.fields.get(name);
          if (old === undefined) added++;
          e.bytes += name.length * (old === undefined ? 1 : 0) + value.length - (old?.length ?? 0);
          e.fields.set(name, value);
        }
        this.touch(c.key, e, synced);
        return added;
      }
      case 'hsetnx': {
        const e = this.hashFor(c.key, synced);
        if (e.fields.has(c.field)) return 0;
        e.fields.set(c.field, c.value);
        e.bytes += c.field.length + c.value.length;
        this.touch(c.key, e, synced);
        return 1;
      }
      case 'hdel': {
        const e = this.cache.get(c.key);
        if (e?.kind !== 'hash') return 0;
        let removed = 0;
        for (const f of c.fields) {
          const old = e.fields.get(f);
          if (old !== undefined && e.fields.delete(f)) {
            removed++;
            e.bytes -= f.length + old.length;
          }
        }
        if (e.complete && e.fields.size === 0) this.tombstone(c.key);
        else this.touch(c.key, e, synced);
        return removed;
      }
      case 'rpush': {
        const e = this.listFor(c.key, synced);
        e.items.push(...c.values);
        e.bytes += listBytes(c.values);
        const over = e.items.length - this.maxListItems;
        for (let i = 0; i < over; i++) e.bytes -= (e.items.shift() as string).length;
        if (over > 0) e.dropped += over;
        this.touch(c.key, e, synced);
        return e.dropped + e.items.length;
      }
      case 'set': {
        if (c.nx) {
          const e = this.cache.get(c.key);
          if (e !== undefined && e.kind !== 'none') return null;
        }
        const bytes = typeof c.value === 'string' ? c.value.length : c.value.length;
        this.put(c.key, { kind: 'string', value: c.value, complete: true, syncedAtMs: synced ? this.now() : 0, bytes }, c.ttlSeconds * 1000);
        return 'OK';
      }
      case 'expire': {
        const dirty = this.dirty.get(c.key);
        if (dirty) {
          dirty.ttlMs = c.seconds * 1000;
          return 1;
        }
        const e = this.cache.get(c.key);
        if (e === undefined || e.kind === 'none') return 0;
        this.cache.set(c.key, e, { ttl: c.seconds * 1000 });
        return 1;
      }
      case 'del': {
        let removed = 0;
        for (const key of c.keys) {
          const e = this.cache.get(key);
          if (e !== undefined && e.kind !== 'none') removed++;
          this.tombstone(key);
        }
        return removed;
      }
      case 'renewIfOwner': {
        const e = this.cache.get(c.key);
        if (e?.kind !== 'string' || e.value.toString() !== c.owner) return 0;
        this.cache.set(c.key, e, { ttl: c.ttlSeconds * 1000 });
        return 1;
      }
      case 'eval':
        return MISS;
      case 'deleteIfOwner': {
        const e = this.cache.get(c.key);
        if (e?.kind !== 'string' || e.value.toString() !== c.owner) return 0;
        this.tombstone(c.key);
        return 1;
      }
    }
  }

  private lrange(key: string, start: number, stop: number, maxAgeMs: number): Reply | Miss {
    const e = this.fresh(key, maxAgeMs);
    if (e === undefined) return MISS;
    if (e.kind === 'none') return [];
    if (e.kind !== 'list') return MISS;
    if (!e.complete) {
      // Only a tail window relative to the end can be answered from a list we never saw whole.
      if (start >= 0 || stop !== -1 || -start > e.items.length) return MISS;
      return e.items.slice(start);
    }
    const length = e.dropped + e.items.length;
    const from = start < 0 ? Math.max(0, length + start) : start;
    const to = stop < 0 ? length + stop : Math.min(stop, length - 1);
    if (from > to) return [];
    if (from < e.dropped) return MISS;
    return e.items.slice(from - e.dropped, to - e.dropped + 1);
  }

  private fresh(key: string, maxAgeMs: number): Entry | undefined {
    const e = this.cache.get(key);
    if (e === undefined) return undefined;
    if (maxAgeMs !== Number.POSITIVE_INFINITY && this.now() - e.syncedAtMs > maxAgeMs) return undefined;
    return e;
  }

  private hashFor(key: string, synced: boolean): HashEntry {
    const e = this.cache.get(key);
    if (e?.kind === 'hash') return e;
    // Writing onto a key known to be absent yields the whole hash; onto an unknown key, only part of it.
    const entry: HashEntry = { kind: 'hash', fields: new Map(), complete: e?.kind === 'none', syncedAtMs: synced ? this.now() : 0, bytes: 0 };
    this.put(key, entry, e?.kind === 'none' ? this.tombstoneTtlMs : undefined);
    return entry;
  }

  private listFor(key: string, synced: boolean): ListEntry {
    const e = this.cache.get(key);
    if (e?.kind === 'list') return e;
    const entry: ListEntry = { kind: 'list', items: [], dropped: 0, complete: e?.kind === 'none', syncedAtMs: synced ? this.now() : 0, bytes: 0 };
    this.put(key, entry, e?.kind === 'none' ? this.tombstoneTtlMs : undefined);
    return entry;
  }

  /**
   * A mutated entry must be re-inserted so the LRU recomputes its size. That happens once per key at
   * the end of the command list (with the TTL of a following EXPIRE), not once per command.
   */
  private touch(key: string, entry: Entry, synced: boolean): void {
    if (synced) entry.syncedAtMs = this.now();
    const dirty = this.dirty.get(key);
    if (dirty) dirty.entry = entry;
    else this.dirty.set(key, { entry, ttlMs: undefined });
  }

  private readonly dirty = new Map<string, { entry: Entry; ttlMs: number | undefined }>();

  private settleDirty(): void {
    if (this.dirty.size === 0) return;
    for (const [key, { entry, ttlMs }] of this.dirty) this.cache.set(key, entry, ttlMs === undefined ? { noUpdateTTL: true } : { ttl: ttlMs });
    this.dirty.clear();
  }

  private put(key: string, entry: Entry, ttlMsValue: number | undefined): void {
    this.dirty.delete(key);
    this.cache.set(key, entry, ttlMsValue === undefined ? {} : { ttl: ttlMsValue });
  }

  private tombstone(key: string): void {
    this.put(key, { kind: 'none', complete: true, syncedAtMs: this.now(), bytes: 0 }, this.tombstoneTtlMs);
  }
}

function ttlMs(ttlSeconds: number | undefined): number | undefined {
  return ttlSeconds !== undefined && ttlSeconds > 0 ? ttlSeconds * 1000 : undefined;
}

function hashBytes(map: Map<string, string>): number {
  let n = 0;
  for (const [k, v] of map) n += k.length + v.length;
  return n;
}

function listBytes(items: readonly string[]): number {
  let n = 0;
  for (const v of items) n += v.length;
  return n;
}
