import { Cluster, type ChainableCommander } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { ExecOptions, Miss, StateBackend } from './backend.js';
import type { Command, Reply } from './commands.js';
import { RedisCommandError, RedisUnavailableError } from './errors.js';
import type { RedisClient } from './redis-client.js';
import { toRedisError } from './redis-client.js';
import { LATENCY, type LatencyRegistry } from '../telemetry/histograms.js';

// Compare-and-act on an owner value, atomically (worker affinity). KEYS[1] key, ARGV[1] owner.
const RENEW_IF_OWNER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const DELETE_IF_OWNER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export interface RedisTierOptions {
  readonly latency?: LatencyRegistry;
  /**
   * An operation that has not answered by then fails as unavailable, whatever ioredis is still
   * retrying underneath (a cluster client follows redirects and retries a failover on its own).
   * @default a cluster client's commandTimeout; none on a single Redis (ioredis times each command)
   */
  readonly deadlineMs?: number;
}

/** The one shard of a single Redis. */
export const SINGLE_SHARD = 'redis';

/**
 * The Redis tier: one pipeline per command list (one round trip), wrapped in MULTI/EXEC when the
 * list must apply atomically. Replies are decoded into the shapes the memory tier returns, and
 * failures become typed state errors (`RedisUnavailableError` retryable, `RedisCommandError` not).
 */
export class RedisTier implements StateBackend {
  readonly tier = 'redis' as const;
  private readonly latency: LatencyRegistry | undefined;
  readonly deadlineMs: number | undefined;

  constructor(
    readonly client: RedisClient,
    options: RedisTierOptions = {},
  ) {
    this.latency = options.latency;
    // A single Redis needs none by default: each command has ioredis' commandTimeout and is never
    // retried. A cluster client retries redirects and failovers underneath, past that timeout.
    this.deadlineMs = options.deadlineMs ?? (client instanceof Cluster ? client.options.redisOptions?.commandTimeout : undefined);
  }

  /**
   * The shard serving a key: on a cluster the master the client's slot map names for the key's slot
   * (it changes when a failover, migration or reshard is learnt), on a single Redis {@link SINGLE_SHARD}.
   */
  shardOf(key: string): string {
    if (!(this.client instanceof Cluster)) return SINGLE_SHARD;
    return this.client.slots[calculateSlot(key)]?.[0] ?? `slot:${calculateSlot(key)}`;
  }

  /** The slot ranges a shard serves now, e.g. `0-5460`; `all` on a single Redis. */
  slotsOf(shard: string): string {
    if (!(this.client instanceof Cluster)) return 'all';
    const ranges: string[] = [];
    let start = -1;
    const slots = this.client.slots;
    for (let slot = 0; slot <= 16384; slot++) {
      const mine = slot < 16384 && slots[slot]?.[0] === shard;
      if (mine && start < 0) start = slot;
      if (!mine && start >= 0) {
        ranges.push(start === slot - 1 ? String(start) : `${start}-${slot - 1}`);
        start = -1;
      }
    }
    return ranges.length > 0 ? ranges.slice(0, 8).join(',') + (ranges.length > 8 ? ',…' : '') : 'none';
  }

  /** Every shard the client knows now (masters serving slots). */
  shards(): string[] {
    if (!(this.client instanceof Cluster)) return [SINGLE_SHARD];
    const out = new Set<string>();
    for (const owners of this.client.slots) if (owners?.[0]) out.add(owners[0]);
    return [...out];
  }

  async exec(commands: readonly Command[], options: ExecOptions = {}): Promise<(Reply | Miss)[]> {
    if (commands.length === 0) return [];
    const name = options.name ?? commands[0]?.op ?? 'exec';
    const started = performance.now();
    try {
      const binary = commands.some((c) => c.op === 'get' && c.binary);
      let results: PipelineResult[];
      if (options.atomic && this.client instanceof Cluster) {
        // ioredis' own transaction: it re-sends the whole MULTI to the node a MOVED or ASK names (a raw
        // MULTI/EXEC pipeline is not followed). Its EXEC reply decodes as text, so binary reads go alone.
        const multi = this.client.multi();
        for (const c of commands) queue(multi, c, false);
        results = (await this.withinDeadline(name, multi.exec())) ?? [];
        const replies = results.map(([err, value]) => {
          if (err) throw toRedisError(name, err);
          return value;
        });
        return commands.map((c, i) => decode(c, replies[i]));
      }
      const pipeline = this.client.pipeline();
      if (options.atomic) pipeline.call('MULTI');
      for (const c of commands) queue(pipeline, c, !options.atomic);
      if (options.atomic) {
        if (binary) pipeline.callBuffer('EXEC');
        else pipeline.call('EXEC');
      }
      results = (await this.withinDeadline(name, pipeline.exec())) ?? [];
      const replies = options.atomic ? transactionReplies(results, commands.length, name) : pipelineReplies(results, name);
      return commands.map((c, i) => decode(c, replies[i]));
    } catch (err) {
      throw toRedisError(name, err);
    } finally {
      this.record(name, performance.now() - started);
    }
  }

  /** Fails the operation as unavailable at the deadline; its late outcome is ignored (it may still land). */
  private withinDeadline<T>(name: string, operation: Promise<T>): Promise<T> {
    const deadline = this.deadlineMs;
    if (deadline === undefined || deadline <= 0) return operation;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(name, new Error(`deadline of ${deadline} ms passed`))), deadline);
    });
    operation.catch(() => undefined);
    return Promise.race([operation, expired]).finally(() => clearTimeout(timer));
  }

  private readonly histogramNames = new Map<string, string>();

  private record(name: string, ms: number): void {
    if (!this.latency) return;
    let full = this.histogramNames.get(name);
    if (full === undefined) {
      full = `${LATENCY.redis}.${name}`;
      this.histogramNames.set(name, full);
    }
    this.latency.record(LATENCY.redis, ms);
    this.latency.record(full, ms);
  }
}

function queue(p: ChainableCommander, c: Command, allowBinaryRead: boolean): void {
  switch (c.op) {
    case 'hset': {
      const args: string[] = [];
      for (const name in c.fields) args.push(name, c.fields[name] as string);
      p.call('HSET', c.key, ...args);
      return;
    }
    case 'hsetnx':
      p.call('HSETNX', c.key, c.field, c.value);
      return;
    case 'hdel':
      p.call('HDEL', c.key, ...c.fields);
      return;
    case 'hgetall':
      p.call('HGETALL', c.key);
      return;
    case 'hmget':
      p.call('HMGET', c.key, ...c.fields);
      return;
    case 'rpush':
      p.call('RPUSH', c.key, ...c.values);
      return;
    case 'lrange':
      p.call('LRANGE', c.key, c.start, c.stop);
      return;
    case 'llen':
      p.call('LLEN', c.key);
      return;
    case 'set':
      if (c.nx) p.call('SET', c.key, c.value, 'EX', c.ttlSeconds, 'NX');
      else p.call('SET', c.key, c.value, 'EX', c.ttlSeconds);
      return;
    case 'get':
      if (c.binary && allowBinaryRead) p.callBuffer('GET', c.key);
      else p.call('GET', c.key);
      return;
    case 'expire':
      p.call('EXPIRE', c.key, c.seconds);
      return;
    case 'ttl':
      p.call('TTL', c.key);
      return;
    case 'del':
      p.call('DEL', ...c.keys);
      return;
    case 'exists':
      p.call('EXISTS', c.key);
      return;
    case 'renewIfOwner':
      p.call('EVAL', RENEW_IF_OWNER, 1, c.key, c.owner, c.ttlSeconds);
      return;
    case 'deleteIfOwner':
      p.call('EVAL', DELETE_IF_OWNER, 1, c.key, c.owner);
      return;
    case 'eval':
      p.call('EVAL', c.script, c.keys.length, ...c.keys, ...c.args);
      return;
  }
}

type PipelineResult = [error: Error | null, result: unknown];

function pipelineReplies(results: PipelineResult[], name: string): unknown[] {
  return results.map(([err, value]) => {
    if (err) throw toRedisError(name, err);
    return value;
  });
}

function transactionReplies(results: PipelineResult[], count: number, name: string): unknown[] {
  const last = results[results.length - 1];
  if (!last) throw new RedisCommandError(name, new Error('empty transaction reply'));
  // A command Redis refused while queueing (syntax, wrong arity) aborts the whole transaction.
  for (let i = 0; i < results.length - 1; i++) {
    const err = (results[i] as PipelineResult)[0];
    if (err) throw toRedisError(name, err);
  }
  const [err, value] = last;
  if (err) throw toRedisError(name, err);
  if (!Array.isArray(value) || value.length !== count) throw new RedisCommandError(name, new Error('transaction was discarded'));
  for (const item of value) if (item instanceof Error) throw toRedisError(name, item);
  return value;
}

function decode(c: Command, raw: unknown): Reply {
  switch (c.op) {
    case 'hgetall': {
      const flat = raw as (string | Buffer)[];
      const out: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
      return out;
    }
    case 'hmget':
    case 'lrange':
      return (raw as (string | Buffer | null)[]).map((v) => (v === null ? null : String(v))) as (string | null)[];
    case 'get':
      if (raw === null || raw === undefined) return null;
      if (c.binary) return Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), 'latin1');
      return String(raw);
    case 'set':
      return raw === null ? null : String(raw);
    default:
      return typeof raw === 'number' ? raw : Buffer.isBuffer(raw) ? raw.toString() : (raw as Reply);
  }
}
