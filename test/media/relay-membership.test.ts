/**
 * The relay's membership (src/lib/media/relay-membership.ts): claims, claim retries, heartbeats and
 * renewals, takeovers, recovery from the registry of live media calls, and the hand-over on a graceful
 * stop, driven by a manual clock and scheduler (test/media/support/manual-scheduler.ts).
 *
 * The lease store is the real session store on the run's Redis (a private redis-server): every claim,
 * renewal and heartbeat below is a real `SET NX` / compare-and-expire. Two things are stand-ins:
 * - the relay side (`RecordingHost`): owning a call there means joining Web PubSub groups and running
 *   an agent, which the e2e suites (test/media-e2e/failover.test.ts) cover; here it records what the
 *   membership asked of it;
 * - the claim-retry tests wrap the real store so its claims fail as in an outage (`RedisUnavailableError`),
 *   because the backoff schedule is a pure decision of the membership and a real outage would make the
 *   store's own timeouts and circuit breaker part of the test.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RelayMembership, type MembershipHost, type RelayLeaseStore, type RelayPresence } from '../../src/lib/media/relay-membership.js';
import type { RelayControlMessage } from '../../src/lib/media/relay-control.js';
import type { JsonValue } from '../../src/lib/state/codec.js';
import { RedisUnavailableError } from '../../src/lib/state/errors.js';
import { createLogger, type LogLevel } from '../../src/lib/telemetry/logger.js';
import { openSharedStore, randomId, type StoreHandle } from '../state/support/store.js';
import { ManualScheduler } from './support/manual-scheduler.js';

const HEARTBEAT_TTL_SECONDS = 30;
const BEAT_MS = (HEARTBEAT_TTL_SECONDS * 1000) / 3;

/** The relay side of the membership: records what it was asked, owns what it was told to. */
class RecordingHost implements MembershipHost {
  readonly owned = new Map<string, Record<string, JsonValue> | undefined>();
  readonly events: string[] = [];
  readonly announced: RelayControlMessage[] = [];
  refuseToOwn = false;

  owns(callId: string): boolean {
    return this.owned.has(callId);
  }
  ownedCalls(): readonly string[] {
    return [...this.owned.keys()];
  }
  async own(callId: string, session: Record<string, JsonValue> | undefined): Promise<void> {
    this.events.push(`own ${callId}`);
    if (this.refuseToOwn) throw new Error('the agent could not be reached');
    this.owned.set(callId, session);
  }
  async abandon(callId: string): Promise<void> {
    this.events.push(`abandon ${callId}`);
    this.owned.delete(callId);
  }
  async letGo(callId: string, reason: string): Promise<void> {
    if (!this.owned.delete(callId)) return;
    this.events.push(`let go ${callId}: ${reason}`);
  }
  async end(callId: string): Promise<boolean> {
    if (!this.owned.delete(callId)) return false;
    this.events.push(`end ${callId}`);
    return true;
  }
  announce(message: RelayControlMessage): void {
    this.announced.push(message);
  }
}

type TestRelay = { readonly workerId: string; readonly membership: RelayMembership; readonly host: RecordingHost; readonly scheduler: ManualScheduler; readonly logs: { level: LogLevel; message: string }[] };

let h: StoreHandle;
const started: TestRelay[] = [];

beforeAll(async () => {
  h = await openSharedStore();
});
afterAll(async () => {
  for (const relay of started) relay.membership.stop();
  await h?.close();
});

function relay(options: { leases?: RelayLeaseStore; handle?: StoreHandle; workerId?: string; presence?: RelayPresence } = {}): TestRelay {
  const workerId = options.workerId ?? randomId('relay-');
  const scheduler = new ManualScheduler();
  const host = new RecordingHost();
  const logs: { level: LogLevel; message: string }[] = [];
  const membership = new RelayMembership({
    workerId,
    sessions: (options.handle ?? h).store,
    leases: options.leases ?? (options.handle ?? h).leases,
    host,
    logger: createLogger((level, message) => logs.push({ level, message }), 'debug'),
    heartbeatTtlSeconds: HEARTBEAT_TTL_SECONDS,
    affinityTtlSeconds: 60,
    clock: scheduler,
    scheduler,
    ...(options.presence ? { presence: options.presence } : {}),
  });
  const created = { workerId, membership, host, scheduler, logs };
  started.push(created);
  return created;
}

/** A call in progress: its session exists, as the trigger left it once ACS connected the call. */
async function liveCall(store = h.store): Promise<string> {
  const callId = randomId('call');
  await store.createCallSession(callId, { state: 'connected', callerName: 'Sam' });
  return callId;
}

function affinityOf(callId: string, handle = h): Promise<string | null> {
  return handle.raw.get(handle.keys.call(callId, 'affinity'));
}

/** The real store, whose claims fail as in a Redis outage while `outage.claimsFailing` > 0; claims are counted. */
function storeWithFailingClaims(outage: { claimsFailing: number; claims: number }): RelayLeaseStore {
  const leases = h.leases;
  return {
    claimAffinity: async (callId, workerId, options) => {
      outage.claims += 1;
      if (outage.claimsFailing > 0) {
        outage.claimsFailing -= 1;
        throw new RedisUnavailableError('affinity.claim', new Error('connection refused'));
      }
      return leases.claimAffinity(callId, workerId, options);
    },
    renewAffinity: (callId, workerId, options) => leases.renewAffinity(callId, workerId, options),
    releaseAffinity: (callId, workerId) => leases.releaseAffinity(callId, workerId),
    getAffinity: (callId) => leases.getAffinity(callId),
    heartbeat: (workerId, info, options) => leases.heartbeat(workerId, info, options),
    getHeartbeat: (workerId) => leases.getHeartbeat(workerId),
    mediaCalls: () => leases.mediaCalls(),
    unregisterMediaCall: (callId, connectionId) => leases.unregisterMediaCall(callId, connectionId),
  };
}

/** A live call owned by relay `a` and watched by relay `b` (both started, `b` with `presence` when given). */
async function ownedByAWatchedByB(presence?: RelayPresence): Promise<{ callId: string; a: TestRelay; b: TestRelay }> {
  const callId = await liveCall();
  const a = relay();
  const b = relay(presence ? { presence } : {});
  await a.membership.start();
  await b.membership.start();
  await a.membership.connected(callId);
  await b.membership.connected(callId);
  return { callId, a, b };
}

/** Lets the relay's heartbeat key expire in Redis (as when its process died), and waits until it has. */
async function heartbeatExpires(workerId: string): Promise<void> {
  const key = h.keys.worker(workerId, 'heartbeat');
  await h.raw.pexpire(key, 1);
  await vi.waitFor(async () => expect(await h.raw.exists(key)).toBe(0), { timeout: 2_000, interval: 5 });
}

describe('claims', () => {
  it('the first relay to claim a call owns it, with its session; the other watches it, knowing the owner', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    const b = relay();

    // Act
    const wonByA = await a.membership.connected(callId, 'conn-1');
    const wonByB = await b.membership.connected(callId, 'conn-1');

    // Assess
    expect(wonByA).toBe(true);
    expect(a.host.owned.get(callId)).toMatchObject({ state: 'connected', callerName: 'Sam' });
    expect(a.membership.stats().claims).toBe(1);
    expect(await affinityOf(callId)).toBe(a.workerId);
    expect(wonByB).toBe(false);
    expect(b.host.events).toEqual([]);
    expect(b.membership.ownerOf(callId)).toBe(a.workerId);
    expect(b.membership.stats().claims).toBe(0);
  });

  it('claims a call once when it is announced twice at the same time', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();

    // Act
    const [first, second] = await Promise.all([a.membership.connected(callId), a.membership.connected(callId)]);

    // Assess
    expect([first, second]).toEqual([true, true]);
    expect(a.host.events).toEqual([`own ${callId}`]);
    expect(a.membership.stats().claims).toBe(1);
  });

  it('does not claim a call whose session is gone or over, and takes no key for it', async () => {
    // Prepare
    const gone = randomId('call');
    const over = randomId('call');
    await h.store.createCallSession(over, { state: 'disconnected' });
    const a = relay();

    // Act
    const claimedGone = await a.membership.connected(gone);
    const claimedOver = await a.membership.connected(over);

    // Assess
    expect([claimedGone, claimedOver]).toEqual([false, false]);
    expect(await affinityOf(gone)).toBeNull();
    expect(await affinityOf(over)).toBeNull();
    expect(a.membership.ownerOf(over)).toBeUndefined();
  });

  it('looks again for a connected call whose session is missing, so a session restored after a lost write is claimed', async () => {
    // Prepare
    const restored = randomId('call');
    const a = relay();

    // Act: the first read finds nothing (a failover dropped the write); the writer restores it
    const claimedAtFirst = await a.membership.connected(restored, 'conn-restored');
    await h.store.createCallSession(restored, { state: 'connected' });
    await a.scheduler.advance(250);

    // Assess
    expect(claimedAtFirst).toBe(false);
    expect(a.host.ownedCalls()).toEqual([restored]);
    expect(await affinityOf(restored)).toBe(a.workerId);
  });

  it('takes a connected call whose session stays missing for ended after 30 s, and stops reading it', async () => {
    // Prepare
    const gone = randomId('call');
    const a = relay();

    // Act
    await a.membership.connected(gone, 'conn-gone');
    const watchedAtFirst = a.membership.ownerOf(gone);
    await a.scheduler.advance(40_000);

    // Assess
    expect(watchedAtFirst).toBeNull();
    expect(a.membership.ownerOf(gone)).toBeUndefined();
    expect(a.scheduler.pending().filter((t) => t.background)).toEqual([]);
    expect(await affinityOf(gone)).toBeNull();
    expect(a.logs.filter((l) => l.message.startsWith('call session not found'))).toHaveLength(1);
  });

  it('gives the claim back when the relay cannot own the call, and watches it as unclaimed', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    a.host.refuseToOwn = true;

    // Act
    const owned = await a.membership.connected(callId);

    // Assess
    expect(owned).toBe(false);
    expect(a.host.events).toEqual([`own ${callId}`, `abandon ${callId}`]);
    expect(await affinityOf(callId)).toBeNull();
    expect(a.membership.ownerOf(callId)).toBeNull();
  });

  it('takes a call it could not own because the relay stopped under the claim for no fault, and gives the claim back', async () => {
    // Prepare: the relay is terminated while the call's agent session connects, which aborts it
    const callId = await liveCall();
    const a = relay();
    a.host.refuseToOwn = true;
    const own = a.host.own.bind(a.host);
    a.host.own = async (id, session) => {
      a.membership.stop();
      await own(id, session);
    };

    // Act
    const owned = await a.membership.connected(callId);

    // Assess
    expect(owned).toBe(false);
    expect(a.host.events).toEqual([`own ${callId}`, `abandon ${callId}`]);
    expect(await affinityOf(callId)).toBeNull();
    expect(a.logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(a.logs.some((l) => l.level === 'info' && l.message === 'relay stopped while taking a call; releasing it')).toBe(true);
  });

  it('refuses a connection already reported disconnected (the events crossed)', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.disconnected(callId, 'conn-old');

    // Act
    const owned = await a.membership.connected(callId, 'conn-old');

    // Assess
    expect(owned).toBe(false);
    expect(await affinityOf(callId)).toBeNull();
  });

  it('keeps the call when the disconnect is for a connection ACS has since replaced', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.connected(callId, 'conn-1');
    await a.membership.connected(callId, 'conn-2');

    // Act
    await a.membership.disconnected(callId, 'conn-1');

    // Assess
    expect(a.host.owns(callId)).toBe(true);
    expect(await affinityOf(callId)).toBe(a.workerId);

    // Act: the current connection ends
    await a.membership.disconnected(callId, 'conn-2');

    // Assess
    expect(a.host.events).toEqual([`own ${callId}`, `end ${callId}`]);
    expect(await affinityOf(callId)).toBeNull();
    expect(a.membership.stats().released).toBe(1);
  });
});

describe('claim retries while Redis cannot arbitrate', () => {
  it('retries after 250 ms, doubling up to the beat interval, and stops once the claim lands', async () => {
    // Prepare: eight claims fail as in an outage, the ninth reaches Redis
    const outage = { claimsFailing: 8, claims: 0 };
    const callId = await liveCall();
    const a = relay({ leases: storeWithFailingClaims(outage) });

    // Act
    const first = await a.membership.connected(callId);
    await a.scheduler.advance(60_000);

    // Assess
    expect(first).toBe(false);
    expect(a.scheduler.history.map((t) => t.delayMs)).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, BEAT_MS, BEAT_MS]);
    expect(a.scheduler.history.every((t) => t.background)).toBe(true);
    expect(outage.claims).toBe(9);
    expect(a.host.owns(callId)).toBe(true);
    expect(await affinityOf(callId)).toBe(a.workerId);
    expect(a.scheduler.pending()).toEqual([]);
  });

  it('starts the backoff again for a later outage once a claim has landed', async () => {
    // Prepare
    const outage = { claimsFailing: 2, claims: 0 };
    const first = await liveCall();
    const second = await liveCall();
    const a = relay({ leases: storeWithFailingClaims(outage) });
    await a.membership.connected(first);
    await a.scheduler.advance(60_000);

    // Act
    outage.claimsFailing = 1;
    await a.membership.connected(second);
    await a.scheduler.advance(60_000);

    // Assess
    expect(a.scheduler.history.map((t) => t.delayMs)).toEqual([250, 500, 250]);
    expect(a.host.ownedCalls()).toEqual([first, second]);
  });

  it('a graceful stop cancels the retries: no claim after it', async () => {
    // Prepare
    const outage = { claimsFailing: 1, claims: 0 };
    const callId = await liveCall();
    const a = relay({ leases: storeWithFailingClaims(outage) });
    await a.membership.connected(callId);
    expect(a.scheduler.pending()).toEqual([{ inMs: 250, background: true }]);

    // Act
    await a.membership.close();
    await a.scheduler.advance(60_000);

    // Assess
    expect(a.scheduler.pending()).toEqual([]);
    expect(outage.claims).toBe(1);
    expect(a.host.events).toEqual([]);
    expect(await affinityOf(callId)).toBeNull();
  });

  it('drops the retry once another relay has claimed the call, or the call has ended', async () => {
    // Prepare
    const outage = { claimsFailing: 2, claims: 0 };
    const claimedElsewhere = await liveCall();
    const ended = await liveCall();
    const a = relay({ leases: storeWithFailingClaims(outage) });
    await a.membership.connected(claimedElsewhere);
    await a.membership.connected(ended);

    // Act
    a.membership.onControl({ type: 'call-claimed', callId: claimedElsewhere, workerId: 'relay-other' });
    await a.membership.disconnected(ended);
    await a.scheduler.advance(60_000);

    // Assess
    expect(outage.claims).toBe(2);
    expect(a.scheduler.history.map((t) => t.delayMs)).toEqual([250, 250]);
    expect(a.host.events).toEqual([]);
    expect(a.membership.ownerOf(claimedElsewhere)).toBe('relay-other');
  });
});

describe('heartbeats and renewals', () => {
  it('heartbeats at start and every third of the heartbeat TTL, with the calls it owns', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();

    // Act
    await a.membership.start();
    const firstBeatAt = a.membership.lastHeartbeatAtMs;
    await a.membership.connected(callId);
    await a.scheduler.advance(BEAT_MS);

    // Assess
    expect(firstBeatAt).toBe(0);
    expect(a.membership.lastHeartbeatAtMs).toBe(BEAT_MS);
    expect(a.scheduler.pending()).toEqual([{ inMs: BEAT_MS, background: false }]);
    expect(await h.leases.getHeartbeat(a.workerId)).toMatchObject({ calls: 1 });
    const ttl = await h.raw.ttl(h.keys.worker(a.workerId, 'heartbeat'));
    expect(ttl).toBeGreaterThan(HEARTBEAT_TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(HEARTBEAT_TTL_SECONDS);
  });

  it('renews the affinity of its calls on every beat', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.start();
    await a.membership.connected(callId);
    await h.raw.expire(h.keys.call(callId, 'affinity'), 5);

    // Act
    await a.scheduler.advance(BEAT_MS);

    // Assess
    expect(await h.raw.ttl(h.keys.call(callId, 'affinity'))).toBeGreaterThan(50);
    expect(a.host.owns(callId)).toBe(true);
  });

  it('lets a call go when its renewal is refused because another relay holds the key', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.start();
    await a.membership.connected(callId);
    await h.raw.set(h.keys.call(callId, 'affinity'), 'relay-other', 'EX', 60);

    // Act
    await a.scheduler.advance(BEAT_MS);

    // Assess
    expect(a.host.owns(callId)).toBe(false);
    expect(a.host.events).toEqual([`own ${callId}`, `let go ${callId}: affinity held by relay-other`]);
    expect(await affinityOf(callId)).toBe('relay-other');
  });

  it('takes its key back when it merely expired (nobody else holds it) and keeps the call', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.start();
    await a.membership.connected(callId);
    await h.raw.del(h.keys.call(callId, 'affinity'));

    // Act
    await a.scheduler.advance(BEAT_MS);

    // Assess
    expect(a.host.owns(callId)).toBe(true);
    expect(await affinityOf(callId)).toBe(a.workerId);
  });

  it('lets a call go at once when another relay announces it claimed it', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    await a.membership.connected(callId);

    // Act
    a.membership.onControl({ type: 'call-claimed', callId, workerId: a.workerId });
    const afterOwnAnnouncement = a.host.owns(callId);
    a.membership.onControl({ type: 'call-claimed', callId, workerId: 'relay-other' });

    // Assess
    expect(afterOwnAnnouncement).toBe(true);
    expect(a.host.owns(callId)).toBe(false);
    expect(a.host.events).toEqual([`own ${callId}`, `let go ${callId}: claimed by another relay`]);
  });
});

describe('takeover', () => {
  it('takes a watched call over once its owner heartbeat has expired, and announces it', async () => {
    // Prepare
    const { callId, a, b } = await ownedByAWatchedByB();
    await b.scheduler.advance(BEAT_MS);
    const whileOwnerAlive = b.host.owns(callId);

    // Act: a dies (no more beats), its heartbeat key expires, b beats
    a.membership.stop();
    await heartbeatExpires(a.workerId);
    await b.scheduler.advance(BEAT_MS);

    // Assess
    expect(whileOwnerAlive).toBe(false);
    expect(b.host.owns(callId)).toBe(true);
    expect(await affinityOf(callId)).toBe(b.workerId);
    expect(b.membership.stats()).toMatchObject({ claims: 1, takeovers: 1 });
    expect(b.host.announced).toEqual([{ type: 'call-claimed', callId, workerId: b.workerId }]);
  });

  it('keeps a call with its owner whose heartbeat is missing while Web PubSub still has its connection (the heartbeat’s shard was away), and takes it once the connection is gone too', async () => {
    // Prepare: Web PubSub presence is a stand-in here; the relay's own check asks the service's REST API (HEAD users/{id}),
    // which the failover tests in test/media-e2e go through when they take over from a relay whose connection is gone
    const connected = new Set<string>();
    const asked: string[] = [];
    const presence: RelayPresence = {
      isConnected: async (workerId) => {
        asked.push(workerId);
        return connected.has(workerId);
      },
    };
    const { callId, a, b } = await ownedByAWatchedByB(presence);
    connected.add(a.workerId);

    // Act: a's heartbeat key is gone (its shard failed over past the TTL), a itself is still connected
    a.membership.stop();
    await heartbeatExpires(a.workerId);
    await b.scheduler.advance(BEAT_MS);
    const whileConnected = { owns: b.host.owns(callId), affinity: await affinityOf(callId) };
    connected.delete(a.workerId);
    await b.scheduler.advance(BEAT_MS);

    // Assess
    expect(whileConnected).toEqual({ owns: false, affinity: a.workerId });
    expect(asked).toEqual([a.workerId, a.workerId]);
    expect(b.logs.some((l) => l.level === 'warn' && l.message.startsWith('a relay heartbeat is missing but the relay is still connected'))).toBe(true);
    expect(b.host.owns(callId)).toBe(true);
    expect(b.membership.stats()).toMatchObject({ takeovers: 1 });
  });

  it('takes the heartbeat as the answer when Web PubSub cannot say whether the owner is connected', async () => {
    // Prepare
    const presence: RelayPresence = {
      isConnected: async () => {
        throw new Error('service unavailable');
      },
    };
    const { callId, a, b } = await ownedByAWatchedByB(presence);

    // Act
    a.membership.stop();
    await heartbeatExpires(a.workerId);
    await b.scheduler.advance(BEAT_MS);

    // Assess
    expect(b.host.owns(callId)).toBe(true);
    expect(b.logs.some((l) => l.level === 'warn' && l.message.startsWith('could not ask Web PubSub whether a relay is connected'))).toBe(true);
  });

  it('takes a watched call over when its owner is reported lost, even before its heartbeat expires', async () => {
    // Prepare
    const callId = await liveCall();
    const other = await liveCall();
    const a = relay();
    const b = relay();
    await a.membership.start();
    await a.membership.connected(callId);
    await b.membership.connected(callId);
    const c = relay();
    await c.membership.connected(other);
    await b.membership.connected(other);

    // Act
    b.membership.onControl({ type: 'relay-lost', workerId: a.workerId });

    // Assess
    await vi.waitFor(() => expect(b.host.owns(callId)).toBe(true), { timeout: 2_000, interval: 5 });
    expect(await affinityOf(callId)).toBe(b.workerId);
    expect(b.host.announced).toEqual([{ type: 'call-claimed', callId, workerId: b.workerId }]);
    expect(b.host.owns(other)).toBe(false);
    expect(await affinityOf(other)).toBe(c.workerId);
  });

  it('a relay reported lost that still holds the call lets it go when the taker announces it', async () => {
    // Prepare
    const callId = await liveCall();
    const a = relay();
    const b = relay();
    await a.membership.connected(callId);
    await b.membership.connected(callId);
    b.membership.onControl({ type: 'relay-lost', workerId: a.workerId });
    await vi.waitFor(() => expect(b.host.announced).toHaveLength(1), { timeout: 2_000, interval: 5 });

    // Act
    for (const message of b.host.announced) a.membership.onControl(message);

    // Assess
    expect(a.host.owns(callId)).toBe(false);
    expect(a.host.events).toContain(`let go ${callId}: claimed by another relay`);
  });
});

describe('recovery from the registry of live media calls on the first beat', () => {
  it('claims unheld calls, takes over dead holders, watches live holders and prunes ended calls', async () => {
    // Prepare: a store on its own key prefix, so the registry holds only these calls
    const own = await openSharedStore();
    try {
      const unheld = await liveCall(own.store);
      const deadHolder = await liveCall(own.store);
      const liveHolder = await liveCall(own.store);
      const gone = randomId('call');
      await own.leases.registerMediaCall(unheld, 'conn-unheld');
      await own.leases.registerMediaCall(deadHolder, 'conn-dead');
      await own.leases.registerMediaCall(liveHolder, 'conn-live');
      await own.leases.registerMediaCall(gone, 'conn-gone');
      await own.raw.set(own.keys.call(deadHolder, 'affinity'), 'relay-dead', 'EX', 60);
      await own.raw.set(own.keys.call(liveHolder, 'affinity'), 'relay-alive', 'EX', 60);
      await own.leases.heartbeat('relay-alive', {}, { ttlSeconds: 30 });
      const r = relay({ handle: own });

      // Act
      await r.membership.start();

      // Assess
      expect([...r.host.ownedCalls()].sort()).toEqual([unheld, deadHolder].sort());
      expect(await affinityOf(unheld, own)).toBe(r.workerId);
      expect(await affinityOf(deadHolder, own)).toBe(r.workerId);
      expect(r.membership.stats()).toMatchObject({ claims: 2, takeovers: 1 });
      expect(r.host.announced).toEqual([{ type: 'call-claimed', callId: deadHolder, workerId: r.workerId }]);
      expect(r.membership.ownerOf(liveHolder)).toBe('relay-alive');
      expect(await affinityOf(liveHolder, own)).toBe('relay-alive');
      const registry = await own.leases.mediaCalls();
      expect([...registry.keys()].sort()).toEqual([unheld, deadHolder, liveHolder].sort());

      // Act: the registry is read once; a later beat only sweeps what is watched
      await own.leases.registerMediaCall(await liveCall(own.store), 'conn-late');
      await r.scheduler.advance(BEAT_MS);

      // Assess
      expect(r.host.ownedCalls()).toHaveLength(2);
    } finally {
      await own.close();
    }
  });

  it('remembers the media connection of a call it recovered to watch, so a stale disconnect does not drop it', async () => {
    // Prepare
    const own = await openSharedStore();
    try {
      const callId = await liveCall(own.store);
      await own.leases.registerMediaCall(callId, 'conn-live');
      await own.raw.set(own.keys.call(callId, 'affinity'), 'relay-alive', 'EX', 60);
      await own.leases.heartbeat('relay-alive', {}, { ttlSeconds: 30 });
      const r = relay({ handle: own });
      await r.membership.start();

      // Act: the disconnect of the connection ACS replaced arrives late
      await r.membership.disconnected(callId, 'conn-replaced');
      const watchedAfterStale = r.membership.ownerOf(callId);
      await r.membership.disconnected(callId, 'conn-live');

      // Assess
      expect(watchedAfterStale).toBe('relay-alive');
      expect(r.membership.ownerOf(callId)).toBeUndefined();
    } finally {
      await own.close();
    }
  });
});

describe('graceful stop', () => {
  it('ends and releases every call, announces each again with its connection, and another relay takes them', async () => {
    // Prepare
    const withConnection = await liveCall();
    const withoutConnection = await liveCall();
    const a = relay();
    const b = relay();
    await a.membership.start();
    await b.membership.start();
    await a.membership.connected(withConnection, 'conn-1');
    await a.membership.connected(withoutConnection);
    await b.membership.connected(withConnection, 'conn-1');
    await b.membership.connected(withoutConnection);

    // Act
    await a.membership.close();

    // Assess
    expect(a.host.events).toEqual([`own ${withConnection}`, `own ${withoutConnection}`, `end ${withConnection}`, `end ${withoutConnection}`]);
    expect(a.membership.stats().released).toBe(2);
    expect(await affinityOf(withConnection)).toBeNull();
    expect(await affinityOf(withoutConnection)).toBeNull();
    expect(a.host.announced).toEqual([
      { type: 'call-connected', callId: withConnection, connectionId: 'conn-1' },
      { type: 'call-connected', callId: withoutConnection },
    ]);
    expect(a.scheduler.pending()).toEqual([]);
    expect(await a.membership.connected(await liveCall())).toBe(false);

    // Act: the other relay hears the announcements
    for (const message of a.host.announced) b.membership.onControl(message);

    // Assess
    await vi.waitFor(() => expect([...b.host.ownedCalls()].sort()).toEqual([withConnection, withoutConnection].sort()), { timeout: 2_000, interval: 5 });
    expect(await affinityOf(withConnection)).toBe(b.workerId);
  });
});
