import { decodeFields, decodeJson, encodeFields, type Fields, type JsonValue } from './codec.js';
import { WriteBatch, type Command } from './commands.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';
import { RedisTier } from './redis-tier.js';
import { TieredStore, type TieredStoreOptions, type WriteOutcome } from './tiered-store.js';
import type { ConversationEngine } from './conversation/conversation-manager.js';

export type SessionStoreOptions = TieredStoreOptions;

/** What call control needs of the store besides its repositories: conversations, and a call's summary and cleanup. */
export type CallStore = ConversationEngine & Pick<SessionStore, 'getCallSummary' | 'setCallSummary' | 'deleteCall'>;

/** What a media relay needs of the store besides its leases: conversations, the raw session it checks, health. */
export type RelayStore = ConversationEngine & Pick<SessionStore, 'getCallSession' | 'health'>;

/** Fields starting with `_` belong to the store (e.g. `_createdAt`); they are not returned as session fields. */
const RESERVED = (name: string) => name.startsWith('_');

export interface TtlOption {
  /** Override of the key's policy TTL, clamped to the policy's bounds. */
  readonly ttlSeconds?: number;
}

/**
 * The tiering engine with the call-scoped records on it: the call session hash (written through
 * {@link CallSessions}, which owns its schema), the call summary and the call's cleanup. Each
 * operation is one round trip, each key written with its policy TTL in the same MULTI; while Redis is
 * away, writes are journaled (`durable: false`) and replayed later. The other records have
 * repositories of their own over this engine (TurnFencing, RelayLeases, TtsCache, AuthStates), and
 * the app builds each once (src/lib/app).
 *
 * @example
 * const store = new SessionStore(redis.client, new RedisKeys(config.keyPrefix, config.env), { logger });
 * const sessions = new CallSessions(store);
 * const { created } = await sessions.create(callId, { state: 'answering', direction: 'inbound', startedAt });
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
    // A call this process has just created has nothing else yet: the fields just written are the whole
    // session, and its summary, events, conversation and auth state are absent. Memory can then answer
    // the reads of the call's first callbacks while Redis (or the shard holding the call) is away,
    // whether the create reached Redis or was journaled (the journal's HSETNX keeps an earlier writer's
    // fields). Archiving never reads memory (`readFullHistory` reads Redis), so a copy another instance
    // has since written past cannot reach a transcript.
    if (created) {
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
