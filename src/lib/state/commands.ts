/**
 * The small command language both storage tiers speak.
 *
 * The session logic (`session-ops.ts`, the ConversationManager) describes what to read or write as
 * a list of {@link Command}s; a tier only executes them (`StateBackend.exec`). The Redis tier turns a
 * list into one pipeline (wrapped in MULTI/EXEC when atomic), the memory tier applies it to an LRU
 * cache, and the journal stores write lists verbatim to replay them later. One logic, two small
 * adapters (docs/code-style.md).
 */

export type Command =
  | { readonly op: 'hset'; readonly key: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly op: 'hsetnx'; readonly key: string; readonly field: string; readonly value: string }
  | { readonly op: 'hdel'; readonly key: string; readonly fields: readonly string[] }
  | { readonly op: 'hgetall'; readonly key: string }
  | { readonly op: 'hmget'; readonly key: string; readonly fields: readonly string[] }
  | { readonly op: 'rpush'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'lrange'; readonly key: string; readonly start: number; readonly stop: number }
  | { readonly op: 'llen'; readonly key: string }
  /** SET with EX always: a string key is never written without its TTL. */
  | { readonly op: 'set'; readonly key: string; readonly value: string | Buffer; readonly ttlSeconds: number; readonly nx?: boolean }
  | { readonly op: 'get'; readonly key: string; readonly binary?: boolean }
  | { readonly op: 'expire'; readonly key: string; readonly seconds: number }
  | { readonly op: 'ttl'; readonly key: string }
  | { readonly op: 'del'; readonly keys: readonly string[] }
  | { readonly op: 'exists'; readonly key: string }
  /** Compare-and-expire: refresh the TTL only when the key holds `owner` (atomic; Lua in Redis). */
  | { readonly op: 'renewIfOwner'; readonly key: string; readonly owner: string; readonly ttlSeconds: number }
  /** Compare-and-delete: delete only when the key holds `owner` (atomic; Lua in Redis). */
  | { readonly op: 'deleteIfOwner'; readonly key: string; readonly owner: string }
  /** A Lua script over keys of one hash tag; Redis tier only (the memory tier answers MISS). */
  | { readonly op: 'eval'; readonly script: string; readonly keys: readonly string[]; readonly args: readonly (string | number)[] };

export type CommandOp = Command['op'];

/**
 * Replies, normalised across tiers: hashes as records, missing values as null, numbers as numbers.
 * `hgetall` of a missing key is `{}` (as in Redis).
 */
export type Reply = string | number | Buffer | null | Record<string, string> | (string | null)[] | string[];

const WRITE_OPS: ReadonlySet<CommandOp> = new Set<CommandOp>([
  'hset',
  'hsetnx',
  'hdel',
  'rpush',
  'set',
  'expire',
  'del',
  'renewIfOwner',
  'deleteIfOwner',
]);

export function isWrite(command: Command): boolean {
  return WRITE_OPS.has(command.op);
}

/** Approximate bytes a command puts on the wire; used for journal bounds and bench accounting. */
export function commandBytes(command: Command): number {
  switch (command.op) {
    case 'hset': {
      let n = command.key.length;
      for (const name in command.fields) n += name.length + (command.fields[name]?.length ?? 0);
      return n;
    }
    case 'rpush':
      return command.values.reduce((n, v) => n + Buffer.byteLength(v), command.key.length);
    case 'set':
      return command.key.length + (typeof command.value === 'string' ? Buffer.byteLength(command.value) : command.value.length);
    case 'hsetnx':
      return command.key.length + command.field.length + command.value.length;
    case 'del':
      return command.keys.reduce((n, k) => n + k.length, 0);
    case 'eval':
      return command.script.length + command.args.reduce<number>((n, a) => n + String(a).length, 0);
    default:
      return command.key.length + 8;
  }
}

/**
 * Builds a write that never leaves a key without a TTL: every key a write touches is followed by
 * `EXPIRE key ttl` in the same list (so in the same MULTI, the same round trip). `SET` carries its
 * TTL itself. Deleted keys need none.
 *
 * @example
 * const batch = new WriteBatch()
 *   .rpush(historyKey, [turnJson], 7200)
 *   .hset(contextKey, { stage: '"greeting"' }, 1800)
 *   .commands(); // RPUSH, HSET, EXPIRE history, EXPIRE context
 */
export class WriteBatch {
  private readonly list: Command[] = [];
  private readonly ttls = new Map<string, number>();

  hset(key: string, fields: Readonly<Record<string, string>>, ttlSeconds: number): this {
    if (Object.keys(fields).length > 0) this.list.push({ op: 'hset', key, fields });
    return this.touch(key, ttlSeconds);
  }

  hsetnx(key: string, field: string, value: string, ttlSeconds: number): this {
    this.list.push({ op: 'hsetnx', key, field, value });
    return this.touch(key, ttlSeconds);
  }

  hdel(key: string, fields: readonly string[], ttlSeconds: number): this {
    if (fields.length > 0) this.list.push({ op: 'hdel', key, fields });
    return this.touch(key, ttlSeconds);
  }

  rpush(key: string, values: readonly string[], ttlSeconds: number): this {
    if (values.length > 0) this.list.push({ op: 'rpush', key, values });
    return this.touch(key, ttlSeconds);
  }

  set(key: string, value: string | Buffer, ttlSeconds: number, options: { nx?: boolean } = {}): this {
    this.list.push({ op: 'set', key, value, ttlSeconds, ...(options.nx ? { nx: true } : {}) });
    this.ttls.delete(key);
    return this;
  }

  /** Refreshes a key's TTL without writing it (sliding expiry of a key that was only read). */
  expire(key: string, ttlSeconds: number): this {
    return this.touch(key, ttlSeconds);
  }

  del(keys: readonly string[]): this {
    if (keys.length > 0) this.list.push({ op: 'del', keys });
    for (const key of keys) this.ttls.delete(key);
    return this;
  }

  get size(): number {
    return this.list.length + this.ttls.size;
  }

  /** The commands, then one EXPIRE per touched key. Indexes of the data commands are stable (0..n-1). */
  commands(): Command[] {
    const out = [...this.list];
    for (const [key, seconds] of this.ttls) out.push({ op: 'expire', key, seconds });
    return out;
  }

  private touch(key: string, ttlSeconds: number): this {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`TTL for ${key} must be a positive integer, got ${ttlSeconds}`);
    this.ttls.set(key, ttlSeconds);
    return this;
  }
}
