import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisUnavailableError } from '../../src/lib/state/errors.js';
import { TtsCache } from '../../src/lib/state/tts-cache.js';
import { AuthStates, InvalidAuthStateError } from '../../src/lib/state/auth-states.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { RedisServer } from '../support/redis-server.js';
import { onCluster } from '../support/topology.js';
import { openSharedStore, openStore, randomId, scanAll, type StoreHandle } from './support/store.js';

let h: StoreHandle;
beforeAll(async () => {
  h = await openSharedStore();
});
afterAll(async () => {
  await h?.close();
});

describe('SessionStore call state', () => {
  it('creates a call session once; a redelivered create changes nothing', async () => {
    // Prepare
    const callId = randomId();
    // Act
    const first = await h.store.createCallSession(callId, { state: 'incoming', attempt: 1 });
    const second = await h.store.createCallSession(callId, { state: 'overwritten?', attempt: 2, extra: true });
    // Assess
    expect(first).toEqual({ created: true, durable: true });
    expect(second).toEqual({ created: false, durable: true });
    expect(await h.store.getCallSession(callId)).toEqual({ state: 'incoming', attempt: 1, extra: true });
    expect(await h.raw.hexists(h.keys.call(callId, 'session'), '_createdAt')).toBe(1);
  });

  it('updates fields, removes fields, and reads through a cold memory tier', async () => {
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'incoming', from: 'masked' });
    await h.store.updateCallSession(callId, { state: 'connected', connectionId: 'cc-1', from: undefined });
    await h.store.updateCallSession(callId, {}, { removeFields: ['from'] });
    h.store.memory.clear();
    expect(await h.store.getCallSession(callId)).toEqual({ state: 'connected', connectionId: 'cc-1' });
    expect(await h.store.getCallSession(randomId())).toBeUndefined();
  });

  it('claims each event id once per call (ACS / Event Grid redeliveries)', async () => {
    const callId = randomId();
    const results = await Promise.all([h.fencing.claimEvent(callId, 'e1'), h.fencing.claimEvent(callId, 'e1'), h.fencing.claimEvent(callId, 'e2')]);
    expect(results.filter(Boolean)).toHaveLength(2);
    expect(await h.fencing.claimEvent(callId, 'e1')).toBe(false);
    expect(await h.fencing.claimEvent(randomId(), 'e1')).toBe(true);
    expect(await h.raw.ttl(h.keys.call(callId, 'events'))).toBeGreaterThan(0);
  });

  it('deletes every key of a call but keeps the summary', async () => {
    // Prepare
    const callId = randomId();
    await h.store.createCallSession(callId, { s: 1 });
    await h.fencing.claimEvent(callId, 'e');
    await h.leases.claimAffinity(callId, 'w1');
    await h.fencing.claimTurnEvent(callId, 'rc-in-flight', 'turn-in-flight');
    await new AuthStates(h.store).countAttempt(callId, 3);
    await h.store.setCallSummary(callId, { outcome: 'resolved', turns: 12 });
    // Act
    await h.store.deleteCall(callId, { keepSummary: true });
    // Assess
    const left = await scanAll(h.raw, `${h.keys.prefix}:test:*{${callId}}*`);
    expect(left).toEqual([h.keys.call(callId, 'summary')]);
    expect(await h.store.getCallSummary(callId)).toEqual({ outcome: 'resolved', turns: 12 });
    expect(await h.store.getCallSession(callId)).toBeUndefined();
    await h.store.deleteCall(callId, { keepSummary: false });
    expect(await h.raw.exists(h.keys.call(callId, 'summary'))).toBe(0);
  });

  it('keeps verification state with the authentication_state TTL, and refuses one that does not match its schema', async () => {
    // Prepare
    const callId = randomId();
    const auth = new AuthStates(h.store);
    const verifiedUntil = '2026-01-01T00:10:00.000Z';
    // Act
    const before = await auth.get(callId);
    const first = await auth.countAttempt(callId, 2);
    const settled = await auth.settleAttempt(callId, 'verified', { maxAttempts: 2, verifiedUntil });
    // Assess
    expect(before).toEqual({ attempts: 0, lockedOut: false });
    expect(first).toEqual({ counted: true, state: { attempts: 1, lockedOut: false } });
    expect(settled).toEqual({ attempts: 1, lockedOut: false, verifiedUntil });
    expect(await auth.get(callId)).toEqual(settled);
    expect(await h.raw.ttl(h.keys.auth(callId))).toBeGreaterThan(800);
    await h.raw.set(h.keys.auth(callId), '{"attempts":"many","lockedOut":false}');
    await expect(auth.get(callId)).rejects.toBeInstanceOf(InvalidAuthStateError);
  });
});

describe('writers of a call: turn leases and the closed mark', () => {
  async function liveCall(): Promise<string> {
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'connected' });
    return callId;
  }

  it('waits for a turn in flight to end before finalisation reads the call', async () => {
    // Prepare
    const callId = await liveCall();
    expect(await h.fencing.claimTurnEvent(callId, 'rc-1', 'rc-1')).toEqual({ claimed: true, lease: 'held' });
    let turnEnded = false;
    setTimeout(() => {
      turnEnded = true;
      void h.fencing.endTurn(callId, 'rc-1');
    }, 150);
    // Act
    const quiet = await h.fencing.closeAndAwaitWriters(callId, { timeoutMs: 5_000 });
    // Assess
    expect(turnEnded).toBe(true);
    expect(quiet).toMatchObject({ openTurns: 0, relay: null });
    expect(await h.raw.ttl(h.keys.call(callId, 'turns'))).toBeGreaterThan(0);
  });

  it('refuses a turn once the call is closed, or once it is cleaned up, and leaves no lease behind', async () => {
    // Prepare
    const closed = await liveCall();
    await h.fencing.closeAndAwaitWriters(closed);
    const cleaned = await liveCall();
    await h.store.deleteCall(cleaned);
    // Act
    const late = await h.fencing.claimTurnEvent(closed, 'rc-late', 'rc-late');
    const afterCleanup = await h.fencing.claimTurnEvent(cleaned, 'rc-late', 'rc-late');
    // Assess
    expect([late.lease, afterCleanup.lease]).toEqual(['refused', 'refused']);
    expect(await h.raw.hkeys(h.keys.call(closed, 'turns'))).toEqual(['_closed']);
    expect(await h.raw.exists(h.keys.call(cleaned, 'turns'))).toBe(0);
  });

  it('claims a turn event and takes its lease together; a duplicate gets neither; a closed call claims but refuses', async () => {
    // Prepare
    const callId = await liveCall();
    const closed = await liveCall();
    await h.fencing.closeAndAwaitWriters(closed);
    // Act
    const first = await h.fencing.claimTurnEvent(callId, 'rc-1', 'rc-1.a');
    const duplicate = await h.fencing.claimTurnEvent(callId, 'rc-1', 'rc-1.b');
    const late = await h.fencing.claimTurnEvent(closed, 'rc-9', 'rc-9.a');
    // Assess
    expect([first, duplicate, late]).toEqual([
      { claimed: true, lease: 'held' },
      { claimed: false, lease: 'none' },
      { claimed: true, lease: 'refused' },
    ]);
    expect(await h.raw.hkeys(h.keys.call(callId, 'turns'))).toEqual(['t.rc-1.a']);
    expect(await h.raw.hkeys(h.keys.call(closed, 'turns'))).toEqual(['_closed']);
    expect(await h.fencing.claimEvent(closed, 'rc-9')).toBe(false);
  });

  it('stops waiting for a turn whose process died when its lease runs out', async () => {
    // Prepare: a lease that is never ended.
    const callId = await liveCall();
    await h.fencing.claimTurnEvent(callId, 'rc-orphan', 'rc-orphan', { leaseMs: 200 });
    // Act
    const quiet = await h.fencing.closeAndAwaitWriters(callId, { timeoutMs: 5_000 });
    // Assess
    expect(quiet.openTurns).toBe(0);
    expect(quiet.waitedMs).toBeGreaterThanOrEqual(150);
    expect(quiet.waitedMs).toBeLessThan(5_000);
  });

  it('waits for the relay holding the call to release it, and reports what is still active at the timeout', async () => {
    // Prepare
    const stuck = await liveCall();
    await h.leases.claimAffinity(stuck, 'relay-b');
    await h.fencing.claimTurnEvent(stuck, 'rc-slow', 'rc-slow', { leaseMs: 60_000 });
    const released = await liveCall();
    await h.leases.claimAffinity(released, 'relay-a');
    setTimeout(() => void h.leases.releaseAffinity(released, 'relay-a'), 150);
    // Act
    const [afterRelease, atTimeout] = await Promise.all([
      h.fencing.closeAndAwaitWriters(released, { timeoutMs: 5_000 }),
      h.fencing.closeAndAwaitWriters(stuck, { timeoutMs: 300 }),
    ]);
    // Assess
    expect(afterRelease).toMatchObject({ openTurns: 0, relay: null });
    expect(afterRelease.waitedMs).toBeGreaterThanOrEqual(100);
    expect(atTimeout).toMatchObject({ openTurns: 1, relay: 'relay-b' });
  });
});

describe('memory as L1', () => {
  it('reads Redis by default, so another instance’s write is seen at once; l1FreshMs trades that for fewer round trips', async () => {
    // Prepare: two processes on one call; the second one with a long L1 window.
    const other = await openSharedStore({ prefix: h.keys.prefix });
    const cached = await openSharedStore({ prefix: h.keys.prefix, l1FreshMs: 60_000 });
    try {
      const callId = randomId();
      await h.store.createCallSession(callId, { state: 'ringing' });
      expect(await h.store.getCallSession(callId)).toEqual({ state: 'ringing' });
      expect(await cached.store.getCallSession(callId)).toEqual({ state: 'ringing' });
      // Act
      await other.store.updateCallSession(callId, { state: 'connected' });
      // Assess
      expect(await h.store.getCallSession(callId)).toEqual({ state: 'connected' });
      expect(await cached.store.getCallSession(callId)).toEqual({ state: 'ringing' }); // served from its memory
    } finally {
      await other.close();
      await cached.close();
    }
  });
});

describe('worker affinity and heartbeat', () => {
  it('lets one worker claim a call; only the owner renews or releases', async () => {
    // Prepare
    const callId = randomId();
    // Act
    const claims = await Promise.all([h.leases.claimAffinity(callId, 'relay-a'), h.leases.claimAffinity(callId, 'relay-b')]);
    const winner = claims.find((c) => c.claimed)?.owner as string;
    const loser = winner === 'relay-a' ? 'relay-b' : 'relay-a';
    // Assess
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    expect(claims.every((c) => c.owner === winner)).toBe(true);
    expect(await h.leases.claimAffinity(callId, winner)).toEqual({ claimed: true, owner: winner });
    expect(await h.leases.renewAffinity(callId, loser)).toBe(false);
    expect(await h.leases.releaseAffinity(callId, loser)).toBe(false);
    expect(await h.leases.getAffinity(callId)).toBe(winner);
    expect(await h.leases.renewAffinity(callId, winner, { ttlSeconds: 45 })).toBe(true);
    expect(await h.raw.ttl(h.keys.call(callId, 'affinity'))).toBeLessThanOrEqual(45);
    expect(await h.leases.releaseAffinity(callId, winner)).toBe(true);
    expect(await h.leases.getAffinity(callId)).toBeNull();
    expect(await h.leases.claimAffinity(callId, loser)).toEqual({ claimed: true, owner: loser });
  });

  it('records heartbeats that expire', async () => {
    const worker = randomId('w');
    await h.leases.heartbeat(worker, { calls: 3 }, { ttlSeconds: 5 });
    expect(await h.leases.getHeartbeat(worker)).toMatchObject({ calls: 3, at: expect.any(String) });
    expect(await h.raw.ttl(h.keys.worker(worker, 'heartbeat'))).toBeLessThanOrEqual(5);
  });
});

describe('TTS cache', () => {
  it('stores binary audio under a hash of text, voice and format', async () => {
    // Prepare
    const audio = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256));
    const request = { text: `Welcome ${randomId()}`, voice: 'en-US-AvaMultilingualNeural', format: 'pcm24KMono' };
    // Act
    const cache = new TtsCache(h.store);
    await cache.setTts(request, audio);
    h.store.memory.clear();
    const fromRedis = await cache.getTts(request);
    const fromMemory = await cache.getTts(request);
    // Assess
    expect(fromRedis?.equals(audio)).toBe(true);
    expect(fromMemory?.equals(audio)).toBe(true);
    expect(await cache.getTts({ ...request, voice: 'other' })).toBeUndefined();
    expect(TtsCache.id(request)).not.toBe(TtsCache.id({ ...request, format: 'pcm16KMono' }));
    expect(await h.raw.ttl(h.keys.tts(TtsCache.id(request)))).toBeGreaterThan(86_000);
  });
});

// One redis-server taken away and brought back; the cluster's faults are in test/cluster.
describe.skipIf(onCluster())('while Redis is away', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('serves call state from memory, journals writes, refuses affinity, and catches up after', async () => {
    // Prepare
    const s = await openStore(server.port, { breaker: { failureThreshold: 1, probeIntervalMs: 30 } });
    try {
      const callId = randomId();
      await s.store.createCallSession(callId, { state: 'connected' });
      await s.fencing.claimEvent(callId, 'e1');
      await s.fencing.claimTurnEvent(callId, 'rc1', 'rc1.a');
      await s.store.getCallSession(callId); // memory answers only for values it has seen whole
      await s.raw.call('SAVE');
      await server.stop();
      // Act
      const update = await s.store.updateCallSession(callId, { state: 'transferring' });
      const seenDuringOutage = await s.store.getCallSession(callId);
      const duplicateEvent = await s.fencing.claimEvent(callId, 'e1');
      const newEvent = await s.fencing.claimEvent(callId, 'e2');
      const duplicateTurn = await s.fencing.claimTurnEvent(callId, 'rc1', 'rc1.b');
      const unfencedTurn = await s.fencing.claimTurnEvent(callId, 'rc2', 'rc2.a');
      const affinity = s.leases.claimAffinity(callId, 'relay-a');
      const unknownCall = s.store.getCallSession(randomId());
      await expect(affinity).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(unknownCall).rejects.toBeInstanceOf(RedisUnavailableError);
      await server.restart();
      const left = await s.store.flushJournal(10_000);
      // Assess
      expect(update).toEqual({ durable: false });
      expect(seenDuringOutage).toEqual({ state: 'transferring' });
      expect([duplicateEvent, newEvent]).toEqual([false, true]);
      // No arbiter for leases: the turn is claimed through the journal and runs unfenced.
      expect([duplicateTurn, unfencedTurn]).toEqual([
        { claimed: false, lease: 'none' },
        { claimed: true, lease: 'none' },
      ]);
      expect(left).toBe(0);
      expect(await s.raw.hget(s.keys.call(callId, 'session'), 'state')).toBe('"transferring"');
      expect(await s.raw.hkeys(s.keys.call(callId, 'events'))).toEqual(['e1', 'rc1', 'e2', 'rc2']);
      expect(s.store.health().status).toBe('ok');
    } finally {
      await s.close();
    }
  });

  it('answers the first callbacks of a call it created just before Redis went away from memory: the whole session, no summary, an empty conversation', async () => {
    // Prepare: a call answered while Redis was up, nothing read back since (as between IncomingCall and CallConnected)
    const s = await openStore(server.port, { breaker: { failureThreshold: 1, probeIntervalMs: 30 } });
    try {
      const callId = randomId();
      const created = await s.store.createCallSession(callId, { state: 'answering', startedAt: 'now' });
      await s.store.updateCallSession(callId, { state: 'answered', callConnectionId: 'conn-1' });
      await s.raw.call('SAVE');
      await server.stop();

      // Act: CallConnected's reads, with Redis gone
      const session = await s.store.getCallSession(callId);
      const summary = await s.store.getCallSummary(callId);
      const conversation = await ConversationManager.fromRedis(callId, s.store);
      const firstEvent = await s.fencing.claimEvent(callId, 'connected-1');
      const otherCall = s.store.getCallSession(randomId());

      // Assess
      expect(created).toEqual({ created: true, durable: true });
      expect(session).toEqual({ state: 'answered', startedAt: 'now', callConnectionId: 'conn-1' });
      expect(summary).toBeUndefined();
      expect(conversation.getHistory()).toEqual([]);
      expect(firstEvent).toBe(true);
      await expect(otherCall).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      await server.restart();
      await s.close();
    }
  });

  it('answers the first reads of a call created while Redis is away, and the replay keeps an earlier writer’s fields', async () => {
    // Prepare: one instance created a call before the outage; this one has never seen either call.
    const earlier = await openStore(server.port);
    const s = await openStore(server.port, { breaker: { failureThreshold: 1, probeIntervalMs: 30 } });
    try {
      const redelivered = randomId();
      const fresh = randomId();
      await earlier.store.createCallSession(redelivered, { state: 'answered', startedAt: 'first' });
      await s.raw.call('SAVE');
      await server.stop();

      // Act
      const created = await s.store.createCallSession(fresh, { state: 'answering', startedAt: 'now' });
      const session = await s.store.getCallSession(fresh);
      const summary = await s.store.getCallSummary(fresh);
      const firstEvent = await s.fencing.claimEvent(fresh, 'connected-1');
      const elsewhere = await s.store.createCallSession(redelivered, { state: 'answering', startedAt: 'second' });
      await server.restart();
      const left = await s.store.flushJournal(10_000);

      // Assess: the new call's session is whole in memory and it has no summary or events yet…
      expect(created).toEqual({ created: true, durable: false });
      expect(session).toEqual({ state: 'answering', startedAt: 'now' });
      expect(summary).toBeUndefined();
      expect(firstEvent).toBe(true);
      expect(elsewhere).toEqual({ created: true, durable: false });
      // …and the replay lands both, without replacing what the earlier instance wrote.
      expect(left).toBe(0);
      expect(await s.store.getCallSession(fresh)).toEqual({ state: 'answering', startedAt: 'now' });
      expect(await earlier.store.getCallSession(redelivered)).toEqual({ state: 'answered', startedAt: 'first' });
    } finally {
      await s.close();
      await earlier.close();
    }
  });
});
