import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { RedisUnavailableError, StateLostError } from '../../src/lib/state/errors.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { randomId, type StoreHandle } from '../state/support/store.js';
import { openClusterStore, timed, turnsIn } from './support.js';

const BREAKER = { failureThreshold: 2, probeIntervalMs: 50 };
const COMMAND_TIMEOUT_MS = 250;

/**
 * The state layer on a real local Redis Cluster (3 masters + 3 replicas), one per file: each test
 * takes it apart in its own way and waits until it is healthy again before the next one.
 */
describe('the state layer on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const open: StoreHandle[] = [];
  const store = async (options: Parameters<typeof openClusterStore>[1] = {}) => {
    const h = await openClusterStore(cluster, { breaker: BREAKER, commandTimeoutMs: COMMAND_TIMEOUT_MS, ...options });
    open.push(h);
    return h;
  };
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  });
  afterEach(async () => {
    for (const n of cluster.nodes) n.thaw();
    for (const h of open.splice(0)) await h.close();
    for (const n of cluster.nodes) if (!n.running) await n.start();
    await cluster.waitForHealthy();
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it('follows a slot moved live: 30 flushes after the move all land in Redis, none journaled', async () => {
    // Prepare: a conversation, then its slot moves to another master
    const h = await store();
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    cm.appendToHistory('user', 'before the move');
    await cm.flush();
    const historyKey = h.keys.conversation(callId, 'history');
    const source = await cluster.masterOf(historyKey);
    const target = (await cluster.masters()).find((m) => m.port !== source.port)!;
    await cluster.migrateSlot(await cluster.slotOf(historyKey), target);

    // Act
    const durable: boolean[] = [];
    for (let i = 1; i <= 30; i++) {
      cm.appendToHistory('user', `after the move ${i}`);
      durable.push((await cm.flush()).durable);
    }

    // Assess
    expect(durable.filter((d) => !d)).toHaveLength(0);
    expect((await cluster.masterOf(historyKey)).port).toBe(target.port);
    expect((await turnsIn(h.raw, historyKey)).map((t) => t.content)).toEqual(['before the move', ...Array.from({ length: 30 }, (_, i) => `after the move ${i + 1}`)]);
  });

  it('a dead master degrades only its own calls: they journal, the others do not; its breaker opens, names its slots, and closes once the replica is promoted', async () => {
    // Prepare: 24 calls spread over the three masters, one turn each. A timeout of a second: slow
    // answers from healthy masters on a loaded machine are not what this test is about.
    const h = await store({ commandTimeoutMs: 1000 });
    const calls = await Promise.all(
      Array.from({ length: 24 }, async () => {
        const callId = randomId();
        const cm = await ConversationManager.fromRedis(callId, h.store);
        cm.appendToHistory('user', 'turn 0');
        await cm.flush();
        return { callId, cm, master: await cluster.masterOf(h.keys.conversation(callId, 'history')) };
      }),
    );
    const victim = calls[0]!.master;
    const victimSlots = (await cluster.topology()).find((v) => v.port === victim.port)!.slots;

    // Act: kill it and keep writing until the replica has taken over
    await cluster.kill(victim);
    const failover = cluster.waitForFailover(victim);
    let done = false;
    void failover.finally(() => (done = true));
    const journaledBy = new Map<string, number>();
    let sawDegradedShard: string | undefined;
    let healthyWhileDown = false;
    for (let turn = 1; !done || turn <= 3; turn++) {
      await Promise.all(
        calls.map(async ({ callId, cm }) => {
          cm.appendToHistory('user', `turn ${turn}`);
          if (!(await cm.flush()).durable) journaledBy.set(callId, (journaledBy.get(callId) ?? 0) + 1);
        }),
      );
      const health = h.store.health();
      sawDegradedShard ??= health.degradedShards[0]?.slots;
      // Once open, the shard stays degraded until its replica has taken over (no early "ok").
      if (sawDegradedShard !== undefined && !done && health.status === 'ok') {
        const owner = await cluster.masterOf(victimSlots[0]![0]).catch(() => undefined);
        if (!owner || owner.port === victim.port) healthyWhileDown = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await failover;
    const left = await h.store.flushJournal(10_000);

    // Assess
    const onVictim = new Set(calls.filter((c) => c.master.port === victim.port).map((c) => c.callId));
    expect([...journaledBy.keys()].filter((id) => !onVictim.has(id))).toEqual([]);
    expect(journaledBy.size).toBeGreaterThan(0);
    expect(healthyWhileDown).toBe(false);
    expect(sawDegradedShard).toBe(victimSlots.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(','));
    expect(left).toBe(0);
    expect(h.store.health()).toMatchObject({ status: 'ok', degradedShards: [] });
    for (const { callId, cm } of calls) {
      const contents = (await turnsIn(h.raw, h.keys.conversation(callId, 'history'))).map((t) => t.content);
      expect(contents).toEqual(Array.from({ length: cm.length }, (_, i) => `turn ${i}`));
    }
  });

  it('fails fast within the command timeout (+50 ms) on a frozen master, and a read it cannot answer is "unavailable", never an empty conversation', async () => {
    // Prepare: a call whose conversation this process does not hold, and one on a healthy master
    // Set up through a store with a patient timeout: a loaded machine must not fail the preparation.
    const setup = await store({ commandTimeoutMs: 1000 });
    const writer = await store({ prefix: setup.keys.prefix });
    const reader = await store({ prefix: setup.keys.prefix });
    const frozenCall = randomId();
    let healthyCall = randomId();
    const frozen = await cluster.masterOf(writer.keys.conversation(frozenCall, 'history'));
    while ((await cluster.masterOf(writer.keys.conversation(healthyCall, 'history'))).port === frozen.port) healthyCall = randomId();
    for (const id of [frozenCall, healthyCall]) {
      const cm = await ConversationManager.fromRedis(id, setup.store);
      for (let i = 0; i < 6; i++) cm.appendToHistory('user', `turn ${i}`);
      await cm.flush();
    }

    // Act
    cluster.node(frozen.port).freeze();
    const write = await timed(() => writer.store.updateCallSession(frozenCall, { state: 'x' }));
    const read = await timed(() => ConversationManager.fromRedis(frozenCall, reader.store));
    const healthy = await ConversationManager.fromRedis(healthyCall, reader.store);
    cluster.node(frozen.port).thaw();
    console.log(`fail-fast on a frozen master (timeout ${COMMAND_TIMEOUT_MS} ms): write journaled after ${write.ms.toFixed(1)} ms, read unavailable after ${read.ms.toFixed(1)} ms`);

    // Assess
    expect(write.value).toEqual({ durable: false });
    expect(write.ms).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 50);
    expect(read.error).toBeInstanceOf(RedisUnavailableError);
    expect(read.ms).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 50);
    expect(healthy.getHistory()).toHaveLength(6);
    expect(await writer.store.flushJournal(5_000)).toBe(0);
  });

  it('rewrites call state from memory when its master comes back empty, and reports a loss it holds no copy of', async () => {
    // Prepare: a call session and a conversation, written through this process
    const h = await store();
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'connected', callConnectionId: 'cc-1' });
    const cm = await ConversationManager.fromRedis(callId, h.store);
    for (let i = 0; i < 4; i++) cm.appendToHistory('user', `turn ${i}`);
    await cm.flush();
    const forgetful = await store();
    const lostCall = randomId();
    await forgetful.store.createCallSession(lostCall, { state: 'connected' });
    forgetful.store.memory.clear();
    const master = await cluster.masterOf(h.keys.call(callId, 'session'));
    const otherMaster = await cluster.masterOf(h.keys.call(lostCall, 'session'));

    // Act: the master restarts without its data (faster than the node timeout: no failover)
    await cluster.restart(master);
    if (otherMaster.port !== master.port) await cluster.restart(otherMaster);
    await cluster.waitForHealthy();
    expect(await h.raw.exists(h.keys.call(callId, 'session'))).toBe(0);
    // On a loaded machine the nodes may still be settling a late election: a read that meets that is
    // "unavailable", rightly, and is asked again; what this test is about is what answers it then.
    const session = await whenAvailable(() => h.store.getCallSession(callId));
    const reloaded = await whenAvailable(() => ConversationManager.fromRedis(callId, h.store));
    const lost = whenAvailable(() => forgetful.store.getCallSession(lostCall));

    // Assess
    expect(session).toEqual({ state: 'connected', callConnectionId: 'cc-1' });
    expect(reloaded.getHistory().map((t) => t.content)).toEqual(['turn 0', 'turn 1', 'turn 2', 'turn 3']);
    expect(await h.raw.hget(h.keys.call(callId, 'session'), 'state')).toBe('"connected"');
    expect((await turnsIn(h.raw, h.keys.conversation(callId, 'history'))).map((t) => t.content)).toEqual(['turn 0', 'turn 1', 'turn 2', 'turn 3']);
    expect(await h.raw.ttl(h.keys.call(callId, 'session'))).toBeGreaterThan(0);
    expect(h.store.health().loss.restored).toBeGreaterThanOrEqual(1);
    await expect(lost).rejects.toBeInstanceOf(StateLostError);
    expect(forgetful.store.health().loss.unrecoverable).toBe(1);
  });

  it('a call finalised elsewhere is not resurrected: its keys are gone on purpose while the summary stays', async () => {
    const h = await store();
    const other = await store({ prefix: h.keys.prefix });
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'connected' });
    await other.store.setCallSummary(callId, { outcome: 'resolved' });
    await other.store.deleteCall(callId, { keepSummary: true });

    expect(await h.store.getCallSession(callId)).toBeUndefined();
    expect(await h.raw.exists(h.keys.call(callId, 'session'))).toBe(0);
    expect(h.store.health().loss).toEqual({ restored: 0, unrecoverable: 0 });
  });

  it('a turn lease and an affinity claim whose writes time out are fenced: applied late, they do not hold finalisation', async () => {
    // Prepare
    const h = await store();
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'connected' });
    const master = await cluster.masterOf(h.keys.call(callId, 'turns'));

    // Act: the master freezes (shorter than the node timeout), the lease and the claim time out,
    // and the frozen master applies them when it wakes up
    master.freeze();
    const turn = await h.fencing.claimTurnEvent(callId, 'event-1', 'turn-1');
    const claim = await h.leases.claimAffinity(callId, 'relay-a').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    master.thaw();
    expect(await h.store.flushJournal(5_000)).toBe(0);
    const quiescence = await h.fencing.closeAndAwaitWriters(callId, { timeoutMs: 3_000 });

    // Assess
    expect(turn.lease).toBe('none');
    expect(claim).toBeInstanceOf(RedisUnavailableError);
    expect(quiescence).toMatchObject({ openTurns: 0, relay: null });
    expect(quiescence.waitedMs).toBeLessThan(1_000);
    expect(await h.raw.hget(h.keys.call(callId, 'events'), 'event-1')).not.toBeNull();
  });

  it('a turn claim that timed out and landed before its fallback is the turn’s own, not a duplicate; a second handling still is one', async () => {
    // Prepare
    const h = await store();
    const callId = randomId();
    await h.store.createCallSession(callId, { state: 'connected' });
    const master = await cluster.masterOf(h.keys.call(callId, 'events'));

    // Act: the master freezes past the claim's deadline and wakes while the fallback claim is in
    // flight, so the timed-out MULTI lands first and the fallback finds its event id taken
    master.freeze();
    const turn = h.fencing.claimTurnEvent(callId, 'event-1', 'turn-1');
    await new Promise((r) => setTimeout(r, COMMAND_TIMEOUT_MS + 100));
    master.thaw();
    const first = await turn;
    const redelivered = await h.fencing.claimTurnEvent(callId, 'event-1', 'turn-2');

    // Assess
    expect(h.store.journaled(callId)).toBe(0);
    expect(first).toEqual({ claimed: true, lease: 'none' });
    expect(redelivered.claimed).toBe(false);
    expect(await h.raw.hget(h.keys.call(callId, 'events'), 'event-1')).toBe('turn-1');
  });
});

/** Runs `read` again while it fails with RedisUnavailableError (at most 10 s); any other outcome is returned. */
async function whenAvailable<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof RedisUnavailableError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
