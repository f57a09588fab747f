import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileCacheError, ProfileRepository, userIdFromPhoneNumber } from '../../src/lib/archive/index.js';
import { RedisKeys } from '../../src/lib/state/keys.js';
import { createRedis } from '../../src/lib/state/redis-client.js';
import { startArchiveHarness, type ArchiveHarness } from './support/harness.js';

let h: ArchiveHarness;
let keys: RedisKeys;

beforeAll(async () => {
  h = await startArchiveHarness({ redis: true });
  keys = new RedisKeys(h.config.keyPrefix, h.config.env);
});
afterAll(async () => {
  await h?.close();
});

const profileReads = (userId: string) => h.proxy.requests.count({ method: 'GET', path: `/colls/profiles/docs/${userId}` });

describe('profiles through the Redis read-through cache', () => {
  it('serves the second read from the cache: one Cosmos DB read at the proxy for two gets', async () => {
    // Prepare
    const userId = userIdFromPhoneNumber('+15550100001', 'test-salt');
    await h.archive.profiles.upsert({ userId, displayName: 'Ada', locale: 'en-GB' });
    h.proxy.requests.reset();

    // Act
    const first = await h.archive.profiles.get(userId);
    const second = await h.archive.profiles.get(userId);

    // Assess
    expect(first).toMatchObject({ userId, displayName: 'Ada', locale: 'en-GB', callCount: 0 });
    expect(second).toEqual(first);
    expect(profileReads(userId)).toBe(1);
    expect(h.proxy.requests.total).toBe(1);
    const ttl = await h.redis!.client.ttl(keys.profile(userId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(keys.ttl('profile', 'cache'));
  });

  it('an update invalidates the cached copy, so the next read returns the new profile', async () => {
    // Prepare
    const userId = userIdFromPhoneNumber('+15550100002', 'test-salt');
    await h.archive.profiles.upsert({ userId, displayName: 'Before' });
    await h.archive.profiles.get(userId);
    expect(await h.redis!.client.exists(keys.profile(userId))).toBe(1);

    // Act
    await h.archive.profiles.upsert({ userId, displayName: 'After' });
    const cachedAfterUpdate = await h.redis!.client.exists(keys.profile(userId));
    h.proxy.requests.reset();
    const read = await h.archive.profiles.get(userId);

    // Assess
    expect(cachedAfterUpdate).toBe(0);
    expect(read?.displayName).toBe('After');
    expect(profileReads(userId)).toBe(1);
  });

  it('recordCall counts each call once, however often it is retried, and invalidates the cache', async () => {
    // Prepare
    const userId = userIdFromPhoneNumber('+15550100003', 'test-salt');
    await h.archive.profiles.get(userId); // a miss: nothing cached for an unknown user

    // Act
    await h.archive.profiles.recordCall(userId, { callId: 'c-1', at: '2026-11-25T09:00:00.000Z', outcome: 'completed' });
    await h.archive.profiles.recordCall(userId, { callId: 'c-1', at: '2026-11-25T09:00:00.000Z', outcome: 'completed' });
    await h.archive.profiles.get(userId);
    await h.archive.profiles.recordCall(userId, { callId: 'c-2', at: '2026-11-26T10:00:00.000Z', outcome: 'transferred' });
    const profile = await h.archive.profiles.get(userId);

    // Assess
    expect(profile).toMatchObject({
      callCount: 2,
      firstCallAt: '2026-11-25T09:00:00.000Z',
      lastCallAt: '2026-11-26T10:00:00.000Z',
      lastOutcome: 'transferred',
      recentCallIds: ['c-1', 'c-2'],
    });
  });

  it('a partial update merges into the stored profile and keeps its call history', async () => {
    // Prepare
    const userId = userIdFromPhoneNumber('+15550100007', 'test-salt');
    await h.archive.profiles.recordCall(userId, { callId: 'c-9', at: '2026-11-25T09:00:00.000Z' });

    // Act
    const updated = await h.archive.profiles.upsert({ userId, locale: 'fr-FR', preferences: { voice: 'calm' } });

    // Assess
    expect(updated).toMatchObject({ callCount: 1, recentCallIds: ['c-9'], locale: 'fr-FR', preferences: { voice: 'calm' } });
    expect(await h.archive.profiles.get(userId)).toEqual(updated);
  });

  it('concurrent recordCall of different calls loses no update (etag-guarded replace)', async () => {
    // Prepare
    const userId = userIdFromPhoneNumber('+15550100004', 'test-salt');
    await h.archive.profiles.upsert({ userId });

    // Act
    await Promise.all(['a', 'b', 'c', 'd'].map((c, i) => h.archive.profiles.recordCall(userId, { callId: `call-${c}`, at: `2026-11-25T0${i}:00:00.000Z` })));

    // Assess
    const profile = await h.archive.profiles.get(userId);
    expect(profile?.callCount).toBe(4);
    expect([...(profile?.recentCallIds ?? [])].sort()).toEqual(['call-a', 'call-b', 'call-c', 'call-d']);
  });

  it('reads from Cosmos DB when Redis is unavailable, and reports a failed invalidation as retryable', async () => {
    // Prepare: a profile repository whose Redis connection is closed
    const userId = userIdFromPhoneNumber('+15550100005', 'test-salt');
    await h.archive.profiles.upsert({ userId, displayName: 'Grace' });
    const deadRedis = await createRedis(h.config.redis);
    await deadRedis.ready();
    await deadRedis.close();
    const profiles = new ProfileRepository(h.archive.containers.profiles, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, cache: deadRedis.client, keys });

    // Act
    const read = await profiles.get(userId);
    const update = profiles.upsert({ userId, displayName: 'Grace H.' });

    // Assess
    expect(read?.displayName).toBe('Grace');
    await expect(update).rejects.toBeInstanceOf(ProfileCacheError);
    await expect(update).rejects.toMatchObject({ retryable: true });
  });

  it('removes a profile and its cached copy', async () => {
    const userId = userIdFromPhoneNumber('+15550100006', 'test-salt');
    await h.archive.profiles.upsert({ userId, displayName: 'To delete' });
    await h.archive.profiles.get(userId);

    await expect(h.archive.profiles.remove(userId)).resolves.toBe(true);

    expect(await h.redis!.client.exists(keys.profile(userId))).toBe(0);
    await expect(h.archive.profiles.get(userId)).resolves.toBeUndefined();
  });
});

describe('userIdFromPhoneNumber', () => {
  it('is stable across formats, differs per salt and does not contain the number', () => {
    const id = userIdFromPhoneNumber('+15550100123', 's1');
    expect(userIdFromPhoneNumber('+1 (555) 010-0123', 's1')).toBe(id);
    expect(userIdFromPhoneNumber('4:+15550100123', 's1')).toBe(id);
    expect(userIdFromPhoneNumber('+15550100123', 's2')).not.toBe(id);
    expect(userIdFromPhoneNumber('+15550100123')).not.toBe(id);
    expect(userIdFromPhoneNumber('+15550100124', 's1')).not.toBe(id);
    expect(id).toMatch(/^u_[0-9a-f]{32}$/);
    expect(id).not.toContain('5550100123');
  });

  it('rejects what is not an E.164 number without echoing it', () => {
    expect(() => userIdFromPhoneNumber('0555 0100123')).toThrow(/not an E\.164 phone number/);
    expect(() => userIdFromPhoneNumber('0555 0100123')).not.toThrow(/0100123/);
  });
});
