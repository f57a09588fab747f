import { decodeFields, decodeJson, encodeFields, type Fields, type JsonValue } from './codec.js';
import { RedisUnavailableError } from './errors.js';
import { WriteBatch, type Command, type Reply } from './commands.js';
import { assertValidIdentifier, type RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';
import { RedisTier } from './redis-tier.js';
import { TieredStore, type TieredStoreOptions, type WriteOutcome } from './tiered-store.js';

export type SessionStoreOptions = TieredStoreOptions;

/** Fields starting with `_` belong to the store (e.g. `_createdAt`); they are not returned as session fields. */
const RESERVED = (name: string) => name.startsWith('_');

export interface AffinityClaim {
  /** True when `workerId` holds the call after the claim (newly, or it already did). */
  readonly claimed: boolean;
  /** The worker holding the call, or null when nobody does. */
  readonly owner: string | null;
}

const HDEL_IF_VALUE = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";

export interface TtlOption {
  /** Override of the key's policy TTL, clamped to the policy's bounds. */
  readonly ttlSeconds?: number;
}

/**
 * Call state over the memory and Redis tiers: the operations of the source document's
 * `AsyncAzureRedisManager`, each one round trip, each key written with its policy TTL in the same
 * MULTI. While Redis is away, call-scoped writes are journaled (`durable: false`) and replayed later;
 * affinity and heartbeats need Redis as the arbiter and fail with `RedisUnavailableError` instead.
 *
 * @example
 * const store = new SessionStore(redis.client, new RedisKeys(config.keyPrefix, config.env), { logger });
 * const { created } = await store.createCallSession(callId, { state: 'incoming', from: maskedCaller });
 * if (await store.claimEvent(callId, event.id)) await store.updateCallSession(callId, { state: 'connected' });
 */
export class SessionStore extends TieredStore {
  constructor(
    client: RedisClient,
    readonly keys: RedisKeys,
    options: SessionStoreOptions = {},
  ) {
    super(new RedisTier(client, { latency: options.latency }), options);
  }

  // ── call session (hash, field-level, sliding TTL) ──────────────────────────────────────────

  /**
   * Creates the call session unless it exists. Idempotent: fields already present are never
   * overwritten (HSETNX per field), so a redelivered IncomingCall changes nothing.
   * While Redis is away, `created` reflects what this process knows.
   */
  async createCallSession(callId: string, fields: Fields, options: TtlOption = {}): Promise<{ created: boolean; durable: boolean }> {
    const key = this.keys.call(callId, 'session');
    const ttl = this.keys.ttl('call', 'session', options.ttlSeconds);
    const batch = new WriteBatch().hsetnx(key, '_createdAt', JSON.stringify(new Date().toISOString()), ttl);
    for (const [name, value] of Object.entries(encodeFields(fields))) batch.hsetnx(key, name, value, ttl);
    const commands = batch.commands();
    // The HSETNX of `_createdAt` (index 0) says whether this call created the session.
    const { durable, replies } = await this.writeDetailed(callId, 'call.create', commands);
    const created = replies[0] === 1;
    // Journaled for a call this process never saw: as far as anyone can know, the fields just written
    // are the whole session and the call has nothing else yet, so memory answers the reads of the
    // call's first callbacks until Redis is back (the journal's HSETNX keeps an earlier writer's fields).
    if (!durable && created) {
      this.memory.assumeWhole([
        key,
        this.keys.call(callId, 'summary'),
        this.keys.call(callId, 'events'),
        this.keys.conversation(callId, 'context'),
        this.keys.conversation(callId, 'history'),
        this.keys.auth(callId),
      ]);
    }
    return { created, durable };
  }

  async getCallSession(callId: string): Promise<Record<string, JsonValue> | undefined> {
    const key = this.keys.call(callId, 'session');
    const [raw] = await this.read(callId, 'call.get', [{ op: 'hgetall', key }], ([r]) =>
      this.memory.loadHash(key, r as Record<string, string>, this.keys.ttl('call', 'session')),
    );
    const hash = raw as Record<string, string>;
    if (Object.keys(hash).length === 0) return undefined;
    return decodeFields(key, hash, RESERVED);
  }

  /** Sets the given fields (others untouched; `undefined` values skipped) and slides the TTL, in one MULTI. */
  async updateCallSession(callId: string, fields: Fields, options: TtlOption & { removeFields?: readonly string[] } = {}): Promise<WriteOutcome> {
    const key = this.keys.call(callId, 'session');
    const ttl = this.keys.ttl('call', 'session', options.ttlSeconds);
    const batch = new WriteBatch().hset(key, encodeFields(fields), ttl);
    if (options.removeFields?.length) batch.hdel(key, options.removeFields, ttl);
    return this.write(callId, 'call.update', batch.commands());
  }

  /**
   * A key this process wrote is gone: lost, unless the call was finalised elsewhere (cleanup removes
   * the call's keys and keeps its summary).
   */
  protected override async removedOnPurpose(partition: string): Promise<boolean> {
    const [exists] = await this.direct('call.summary.exists', [{ op: 'exists', key: this.keys.call(partition, 'summary') }]);
    return Number(exists) === 1;
  }

  // ── call summary (kept 7 days) ───────────────────────────────────────────────────────────────

  async setCallSummary(callId: string, summary: JsonValue, options: TtlOption = {}): Promise<WriteOutcome> {
    const key = this.keys.call(callId, 'summary');
    const commands = new WriteBatch().set(key, JSON.stringify(summary), this.keys.ttl('call', 'summary', options.ttlSeconds)).commands();
    return this.write(callId, 'call.summary.set', commands);
  }

  async getCallSummary<T extends JsonValue = JsonValue>(callId: string): Promise<T | undefined> {
    const key = this.keys.call(callId, 'summary');
    const [raw] = await this.read(callId, 'call.summary.get', [{ op: 'get', key }]);
    return raw === null || raw === undefined ? undefined : decodeJson<T>(key, String(raw));
  }

  /**
   * Removes every key of the call (session, events, affinity, turn leases, conversation context and
   * history, auth state) in one MULTI; the summary stays unless `keepSummary` is false.
   */
  async deleteCall(callId: string, options: { keepSummary?: boolean } = {}): Promise<WriteOutcome> {
    const keys = [
      this.keys.call(callId, 'session'),
      this.keys.call(callId, 'events'),
      this.keys.call(callId, 'affinity'),
      this.keys.call(callId, 'turns'),
      this.keys.conversation(callId, 'context'),
      this.keys.conversation(callId, 'history'),
      this.keys.auth(callId),
    ];
    if (options.keepSummary === false) keys.push(this.keys.call(callId, 'summary'));
    return this.write(callId, 'call.delete', new WriteBatch().del(keys).commands());
  }

  // ── worker affinity and heartbeat (Redis is the arbiter: never journaled) ───────────────────

  /** `SET NX EX`: claims the call for `workerId` unless another worker holds it. */
  async claimAffinity(callId: string, workerId: string, options: TtlOption = {}): Promise<AffinityClaim> {
    const key = this.keys.call(callId, 'affinity');
    const ttl = this.keys.ttl('call', 'affinity', options.ttlSeconds);
    // A fenced claim (below) waits in the journal: no new claim before it has replayed.
    if (this.journal.has(callId)) throw new RedisUnavailableError('affinity.claim', new Error('the call has writes waiting to replay'));
    let owner: Reply | undefined;
    try {
      [, owner] = await this.direct('affinity.claim', [{ op: 'set', key, value: workerId, ttlSeconds: ttl, nx: true }, { op: 'get', key }], { atomic: true });
    } catch (err) {
      // The claim may still land (a timeout is not a refusal): released in order through the write
      // path, so a claim nobody knows it holds cannot keep finalisation waiting for the relay.
      if (err instanceof RedisUnavailableError) {
        await this.write(callId, 'affinity.fence', [{ op: 'deleteIfOwner', key, owner: workerId }]).catch((fenceErr: unknown) =>
          this.logger.error('timed-out affinity claim could not be fenced', { callId, error: (fenceErr as Error).name }),
        );
      }
      throw err;
    }
    const holder = owner === null || owner === undefined ? null : String(owner);
    return { claimed: holder === workerId, owner: holder };
  }

  /** Extends the claim only if `workerId` still holds it (atomic compare-and-expire). */
  async renewAffinity(callId: string, workerId: string, options: TtlOption = {}): Promise<boolean> {
    const key = this.keys.call(callId, 'affinity');
    const [renewed] = await this.direct('affinity.renew', [{ op: 'renewIfOwner', key, owner: workerId, ttlSeconds: this.keys.ttl('call', 'affinity', options.ttlSeconds) }]);
    return renewed === 1;
  }

  /** Gives the call up only if `workerId` holds it (atomic compare-and-delete). */
  async releaseAffinity(callId: string, workerId: string): Promise<boolean> {
    const [released] = await this.direct('affinity.release', [{ op: 'deleteIfOwner', key: this.keys.call(callId, 'affinity'), owner: workerId }]);
    return released === 1;
  }

  async getAffinity(callId: string): Promise<string | null> {
    const [owner] = await this.direct('affinity.get', [{ op: 'get', key: this.keys.call(callId, 'affinity') }]);
    return owner === null || owner === undefined ? null : String(owner);
  }

  /** Records that `workerId` is alive (its key expires after the heartbeat TTL unless renewed). */
  async heartbeat(workerId: string, info: Fields = {}, options: TtlOption = {}): Promise<void> {
    const value = JSON.stringify({ ...definedFields(info), at: new Date().toISOString() });
    await this.direct('worker.heartbeat', [{ op: 'set', key: this.keys.worker(workerId, 'heartbeat'), value, ttlSeconds: this.keys.ttl('worker', 'heartbeat', options.ttlSeconds) }]);
  }

  async getHeartbeat(workerId: string): Promise<Record<string, JsonValue> | undefined> {
    const key = this.keys.worker(workerId, 'heartbeat');
    const [raw] = await this.direct('worker.heartbeat.get', [{ op: 'get', key }]);
    return raw === null || raw === undefined ? undefined : decodeJson<Record<string, JsonValue>>(key, String(raw));
  }

  // ── live media calls (one hash for the deployment, so a relay that starts later finds them) ──

  /** Records that the call's media is connected on `connectionId`; slides the registry's TTL. */
  async registerMediaCall(callId: string, connectionId: string): Promise<void> {
    // A field, not a key, so nothing else would refuse a malformed id before every reader trips on it.
    assertValidIdentifier(callId);
    const key = this.mediaCallsKey();
    await this.direct('media.calls.register', [{ op: 'hset', key, fields: { [callId]: connectionId } }, { op: 'expire', key, seconds: this.keys.ttl('system', 'calls') }], { atomic: true });
  }

  /**
   * Forgets the call. With `connectionId`, only while that connection is the one registered: ACS may have
   * reconnected the call's media on a newer connection, which stays.
   */
  async unregisterMediaCall(callId: string, connectionId?: string): Promise<boolean> {
    const key = this.mediaCallsKey();
    const command: Command = connectionId === undefined ? { op: 'hdel', key, fields: [callId] } : { op: 'eval', script: HDEL_IF_VALUE, keys: [key], args: [callId, connectionId] };
    const [removed] = await this.direct('media.calls.unregister', [command]);
    return Number(removed) === 1;
  }

  /** Every registered call and its media connection id. */
  async mediaCalls(): Promise<Map<string, string>> {
    const [hash] = await this.direct('media.calls.list', [{ op: 'hgetall', key: this.mediaCallsKey() }]);
    return new Map(Object.entries((hash ?? {}) as Record<string, string>));
  }

  private mediaCallsKey(): string {
    return this.keys.system('media', 'calls');
  }

  // ── TTLs ─────────────────────────────────────────────────────────────────────────────────────

  /** Slides every key of a live call back to its policy TTL (missing keys are left missing). */
  async refreshCallTtls(callId: string): Promise<WriteOutcome> {
    const commands: Command[] = [
      { op: 'expire', key: this.keys.call(callId, 'session'), seconds: this.keys.ttl('call', 'session') },
      { op: 'expire', key: this.keys.call(callId, 'events'), seconds: this.keys.ttl('call', 'events') },
      { op: 'expire', key: this.keys.conversation(callId, 'context'), seconds: this.keys.ttl('conversation', 'context') },
      { op: 'expire', key: this.keys.conversation(callId, 'history'), seconds: this.keys.ttl('conversation', 'history') },
    ];
    return this.write(callId, 'call.refreshTtl', commands);
  }
}

function definedFields(fields: Fields): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}
