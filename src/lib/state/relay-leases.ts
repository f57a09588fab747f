import type { Fields, JsonValue } from './codec.js';
import { decodeJson } from './codec.js';
import type { Command, Reply } from './commands.js';
import { RedisUnavailableError } from './errors.js';
import { assertValidIdentifier, type RedisKeys } from './keys.js';
import type { TtlOption } from './session-store.js';
import type { TieredStore } from './tiered-store.js';
import { quietLogger, type Logger } from '../telemetry/logger.js';

export interface AffinityClaim {
  /** True when `workerId` holds the call after the claim (newly, or it already did). */
  readonly claimed: boolean;
  /** The worker holding the call, or null when nobody does. */
  readonly owner: string | null;
}

const HDEL_IF_VALUE = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";

/** What the leases need of the engine: Redis as the arbiter, the write path for fencing, the journal's depth. */
export interface LeaseEngine {
  readonly keys: RedisKeys;
  direct: TieredStore['direct'];
  write: TieredStore['write'];
  journaled: TieredStore['journaled'];
}

/**
 * What the media relays hold in Redis: which relay owns each call (`call:{id}:affinity`, SET NX with
 * the worker_affinity TTL), each relay's heartbeat (`worker:{id}:heartbeat`) and the live-media
 * registry (one hash for the deployment, so a relay that starts later finds the calls in progress).
 * Redis is the arbiter: nothing here is journaled or answered from memory; while Redis is away these
 * fail with `RedisUnavailableError`.
 *
 * @example
 * const leases = new RelayLeases(store, logger);
 * const { claimed, owner } = await leases.claimAffinity(callId, workerId, { ttlSeconds: 30 });
 */
export class RelayLeases {
  constructor(
    private readonly engine: LeaseEngine,
    private readonly logger: Logger = quietLogger,
  ) {}

  // ── worker affinity and heartbeat (Redis is the arbiter: never journaled) ───────────────────

  /** `SET NX EX`: claims the call for `workerId` unless another worker holds it. */
  async claimAffinity(callId: string, workerId: string, options: TtlOption = {}): Promise<AffinityClaim> {
    const key = this.engine.keys.call(callId, 'affinity');
    const ttl = this.engine.keys.ttl('call', 'affinity', options.ttlSeconds);
    // A fenced claim (below) waits in the journal: no new claim before it has replayed.
    if (this.engine.journaled(callId) > 0) throw new RedisUnavailableError('affinity.claim', new Error('the call has writes waiting to replay'));
    let owner: Reply | undefined;
    try {
      [, owner] = await this.engine.direct('affinity.claim', [{ op: 'set', key, value: workerId, ttlSeconds: ttl, nx: true }, { op: 'get', key }], { atomic: true });
    } catch (err) {
      // The claim may still land (a timeout is not a refusal): released in order through the write
      // path, so a claim nobody knows it holds cannot keep finalisation waiting for the relay.
      if (err instanceof RedisUnavailableError) {
        await this.engine.write(callId, 'affinity.fence', [{ op: 'deleteIfOwner', key, owner: workerId }]).catch((fenceErr: unknown) =>
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
    const key = this.engine.keys.call(callId, 'affinity');
    const [renewed] = await this.engine.direct('affinity.renew', [{ op: 'renewIfOwner', key, owner: workerId, ttlSeconds: this.engine.keys.ttl('call', 'affinity', options.ttlSeconds) }]);
    return renewed === 1;
  }

  /** Gives the call up only if `workerId` holds it (atomic compare-and-delete). */
  async releaseAffinity(callId: string, workerId: string): Promise<boolean> {
    const [released] = await this.engine.direct('affinity.release', [{ op: 'deleteIfOwner', key: this.engine.keys.call(callId, 'affinity'), owner: workerId }]);
    return released === 1;
  }

  async getAffinity(callId: string): Promise<string | null> {
    const [owner] = await this.engine.direct('affinity.get', [{ op: 'get', key: this.engine.keys.call(callId, 'affinity') }]);
    return owner === null || owner === undefined ? null : String(owner);
  }

  /** Records that `workerId` is alive (its key expires after the heartbeat TTL unless renewed). */
  async heartbeat(workerId: string, info: Fields = {}, options: TtlOption = {}): Promise<void> {
    const value = JSON.stringify({ ...definedFields(info), at: new Date().toISOString() });
    await this.engine.direct('worker.heartbeat', [{ op: 'set', key: this.engine.keys.worker(workerId, 'heartbeat'), value, ttlSeconds: this.engine.keys.ttl('worker', 'heartbeat', options.ttlSeconds) }]);
  }

  async getHeartbeat(workerId: string): Promise<Record<string, JsonValue> | undefined> {
    const key = this.engine.keys.worker(workerId, 'heartbeat');
    const [raw] = await this.engine.direct('worker.heartbeat.get', [{ op: 'get', key }]);
    return raw === null || raw === undefined ? undefined : decodeJson<Record<string, JsonValue>>(key, String(raw));
  }

  // ── live media calls (one hash for the deployment, so a relay that starts later finds them) ──

  /** Records that the call's media is connected on `connectionId`; slides the registry's TTL. */
  async registerMediaCall(callId: string, connectionId: string): Promise<void> {
    // A field, not a key, so nothing else would refuse a malformed id before every reader trips on it.
    assertValidIdentifier(callId);
    const key = this.mediaCallsKey();
    await this.engine.direct('media.calls.register', [{ op: 'hset', key, fields: { [callId]: connectionId } }, { op: 'expire', key, seconds: this.engine.keys.ttl('system', 'calls') }], { atomic: true });
  }

  /**
   * Forgets the call. With `connectionId`, only while that connection is the one registered: ACS may have
   * reconnected the call's media on a newer connection, which stays.
   */
  async unregisterMediaCall(callId: string, connectionId?: string): Promise<boolean> {
    const key = this.mediaCallsKey();
    const command: Command = connectionId === undefined ? { op: 'hdel', key, fields: [callId] } : { op: 'eval', script: HDEL_IF_VALUE, keys: [key], args: [callId, connectionId] };
    const [removed] = await this.engine.direct('media.calls.unregister', [command]);
    return Number(removed) === 1;
  }

  /** Every registered call and its media connection id. */
  async mediaCalls(): Promise<Map<string, string>> {
    const [hash] = await this.engine.direct('media.calls.list', [{ op: 'hgetall', key: this.mediaCallsKey() }]);
    return new Map(Object.entries((hash ?? {}) as Record<string, string>));
  }

  private mediaCallsKey(): string {
    return this.engine.keys.system('media', 'calls');
  }
}

function definedFields(fields: Fields): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}
