import type { Container } from '@azure/cosmos';
import type { RedisKeys } from '../state/index.js';
import { ArchiveError, InvalidArchiveInputError, ProfileCacheError } from './errors.js';
import { assertArchiveId, assertIsoTimestamp } from './ids.js';
import { ChargeMeter, ContainerOps, withoutSystemFields, type CallOptions, type RepositoryOptions } from './repository-support.js';

export type PreferenceValue = string | number | boolean;

export interface UserProfile {
  readonly userId: string;
  readonly displayName?: string;
  readonly locale?: string;
  readonly preferences?: Readonly<Record<string, PreferenceValue>>;
  readonly callCount: number;
  readonly firstCallAt?: string;
  readonly lastCallAt?: string;
  readonly lastOutcome?: string;
  /** The most recent call ids (newest last, bounded), which makes `recordCall` idempotent. */
  readonly recentCallIds: readonly string[];
  /** The caller's PIN as a salted hash (`hashPin`), for `verify_caller`; the PIN itself is never stored. */
  readonly pinHash?: string;
  readonly updatedAt: string;
}

/** What callers write; counters and timestamps default when absent. */
export type UserProfileInput = Pick<UserProfile, 'userId'> & Partial<Omit<UserProfile, 'userId' | 'updatedAt'>>;

export interface CallVisit {
  readonly callId: string;
  /** ISO time the call started. */
  readonly at: string;
  readonly outcome?: string;
}

/** The three Redis commands the cache needs; an ioredis client (standalone or cluster) fits. */
export interface ProfileCacheClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'EX', seconds: number): Promise<unknown>;
  del(key: string): Promise<number>;
}

export interface ProfileRepositoryOptions extends RepositoryOptions {
  /** Without a cache client every read goes to Cosmos DB. */
  readonly cache?: ProfileCacheClient | undefined;
  /** Key scheme of the app (`RedisKeys.profile(userId)`, TTL `keys.ttl('profile', 'cache')`). */
  readonly keys: RedisKeys;
}

type ProfileDocument = UserProfile & { readonly id: string };

const RECENT_CALLS_KEPT = 20;
const CONCURRENT_UPDATE_ATTEMPTS = 5;

/**
 * User profiles in container `profiles` (partition key `/userId`, item id = userId), read through the
 * Redis cache (`user_profile_cache` TTL) and invalidated after every write.
 *
 * The cache is an optimisation, never a dependency: when Redis fails a read, the profile comes from
 * Cosmos DB. An invalidation that fails after a write is reported ({@link ProfileCacheError},
 * retryable) because a stale copy would otherwise be served for up to the TTL; writes are idempotent,
 * so the caller simply repeats the update.
 *
 * Known window (cache-aside): a read that misses, loads the old profile and fills the cache just after
 * a concurrent update invalidated it leaves that old copy cached until the TTL; profiles change
 * rarely and the TTL bounds it.
 */
export class ProfileRepository {
  private readonly ops: ContainerOps;

  constructor(
    container: Container,
    private readonly options: ProfileRepositoryOptions,
  ) {
    this.ops = new ContainerOps(container, options);
  }

  async get(userId: string, options: CallOptions = {}): Promise<UserProfile | undefined> {
    assertArchiveId('profiles.get', 'userId', userId);
    const cached = await this.readCache(userId);
    if (cached) return cached;
    const doc = await this.ops.read<ProfileDocument>('profiles.read', userId, userId, new ChargeMeter(), options.signal);
    if (!doc) return undefined;
    const profile = toProfile(doc);
    await this.writeCache(profile);
    return profile;
  }

  /**
   * Creates a profile or merges the given fields into the stored one (fields left out keep their
   * stored value, so a partial update never resets the call counters), then invalidates the cached copy.
   */
  async upsert(input: UserProfileInput, options: CallOptions = {}): Promise<UserProfile> {
    const changes = normalize(input);
    return this.update('profiles.upsert', changes.userId, (current) => ({ ...(current ?? emptyProfile(changes.userId)), ...changes, updatedAt: new Date().toISOString() }), options.signal);
  }

  /**
   * Counts a call on the caller's profile, creating the profile on the first call. Idempotent per
   * call id: a retried activity does not count the call twice.
   */
  async recordCall(userId: string, visit: CallVisit, options: CallOptions = {}): Promise<UserProfile> {
    const op = 'profiles.recordCall';
    assertArchiveId(op, 'userId', userId);
    assertArchiveId(op, 'callId', visit.callId);
    assertIsoTimestamp(op, 'at', visit.at);
    return this.update(op, userId, (current) => (current?.recentCallIds.includes(visit.callId) ? undefined : withVisit(current ?? emptyProfile(userId), visit)), options.signal);
  }

  /**
   * Read-modify-write guarded by the etag (replace if-match, or create when absent), re-read and
   * re-applied when another writer got in between, so concurrent updates are never lost.
   * `change` returns undefined when there is nothing to write.
   */
  private async update(op: string, userId: string, change: (current: UserProfile | undefined) => UserProfile | undefined, signal: AbortSignal | undefined): Promise<UserProfile> {
    for (let attempt = 1; attempt <= CONCURRENT_UPDATE_ATTEMPTS; attempt += 1) {
      const meter = new ChargeMeter();
      const doc = await this.ops.read<ProfileDocument>('profiles.read', userId, userId, meter, signal);
      const current = doc ? toProfile(doc) : undefined;
      const next = change(current);
      if (next === undefined) {
        await this.invalidate(userId, op);
        return current ?? emptyProfile(userId);
      }
      const target = next;
      const written = doc?._etag
        ? await this.ops.replaceIfMatch(op, { ...target, id: userId }, userId, doc._etag, meter, signal)
        : await this.ops.createOnce(op, { ...target, id: userId }, meter, signal);
      if (written) {
        await this.invalidate(userId, op);
        return target;
      }
    }
    throw new ArchiveError(`profile kept changing during ${op}`, { operation: op, retryable: true });
  }

  /** Deletes a profile (data-deletion requests) and its cached copy. */
  async remove(userId: string, options: CallOptions = {}): Promise<boolean> {
    assertArchiveId('profiles.remove', 'userId', userId);
    const deleted = await this.ops.remove('profiles.remove', userId, userId, new ChargeMeter(), options.signal);
    await this.invalidate(userId, 'profiles.remove');
    return deleted;
  }

  private async readCache(userId: string): Promise<UserProfile | undefined> {
    const cache = this.options.cache;
    if (!cache) return undefined;
    try {
      const raw = await cache.get(this.options.keys.profile(userId));
      return raw ? (JSON.parse(raw) as UserProfile) : undefined;
    } catch (err) {
      this.options.logger?.debug('profile cache read failed; reading Cosmos DB', { error: (err as Error).message });
      return undefined;
    }
  }

  private async writeCache(profile: UserProfile): Promise<void> {
    const cache = this.options.cache;
    if (!cache) return;
    try {
      await cache.set(this.options.keys.profile(profile.userId), JSON.stringify(profile), 'EX', this.options.keys.ttl('profile', 'cache'));
    } catch (err) {
      this.options.logger?.debug('profile cache fill failed', { error: (err as Error).message });
    }
  }

  private async invalidate(userId: string, operation: string): Promise<void> {
    const cache = this.options.cache;
    if (!cache) return;
    try {
      await cache.del(this.options.keys.profile(userId));
    } catch (err) {
      throw new ProfileCacheError(operation, err);
    }
  }
}

/** Validates an update and keeps only the fields it sets. */
function normalize(input: UserProfileInput): UserProfileInput {
  const op = 'profiles.upsert';
  if (input === null || typeof input !== 'object') throw new InvalidArchiveInputError(op, 'profile is not an object');
  assertArchiveId(op, 'userId', input.userId);
  if (input.firstCallAt !== undefined) assertIsoTimestamp(op, 'firstCallAt', input.firstCallAt);
  if (input.lastCallAt !== undefined) assertIsoTimestamp(op, 'lastCallAt', input.lastCallAt);
  if (input.callCount !== undefined && !(Number.isInteger(input.callCount) && input.callCount >= 0)) throw new InvalidArchiveInputError(op, 'callCount is not a count');
  const defined = Object.entries(withoutSystemFields(input)).filter(([key, value]) => value !== undefined && key !== 'id' && key !== 'updatedAt');
  const changes = Object.fromEntries(defined) as UserProfileInput;
  return changes.recentCallIds ? { ...changes, recentCallIds: [...changes.recentCallIds].slice(-RECENT_CALLS_KEPT) } : changes;
}

function emptyProfile(userId: string): UserProfile {
  return { userId, callCount: 0, recentCallIds: [], updatedAt: new Date().toISOString() };
}

function withVisit(profile: UserProfile, visit: CallVisit): UserProfile {
  const later = (a: string | undefined, b: string) => (a && Date.parse(a) > Date.parse(b) ? a : b);
  const earlier = (a: string | undefined, b: string) => (a && Date.parse(a) < Date.parse(b) ? a : b);
  return {
    ...profile,
    callCount: profile.callCount + 1,
    firstCallAt: earlier(profile.firstCallAt, visit.at),
    lastCallAt: later(profile.lastCallAt, visit.at),
    ...(visit.outcome === undefined ? {} : { lastOutcome: visit.outcome }),
    recentCallIds: [...profile.recentCallIds, visit.callId].slice(-RECENT_CALLS_KEPT),
    updatedAt: new Date().toISOString(),
  };
}

function toProfile(doc: ProfileDocument): UserProfile {
  const { id: _id, ...profile } = withoutSystemFields(doc);
  return { ...profile, recentCallIds: profile.recentCallIds ?? [] };
}
