import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { RedisUnavailableError } from '../../src/lib/state/errors.js';
import { RedisCluster, type ClusterNode } from '../support/redis-cluster.js';
import { randomId, type StoreHandle } from '../state/support/store.js';
import { openClusterStore, turnsIn } from './support.js';

/**
 * The fault suite: 100 concurrent calls write turns (one every 100 ms each) on a real local Redis
 * Cluster while one fault happens to it, with real processes and real signals. After each fault:
 * every turn whose flush returned (acknowledged or journaled) is in Redis exactly once and in order;
 * calls whose slots live on healthy masters never journal; a dead shard's breaker opens and closes
 * again once its replica is promoted. Lost and duplicated turns, time to detect and time to recover
 * are printed per fault.
 */
const CALLS = 100;
const TURN_EVERY_MS = 100;
// The suite is about faults, not speed: on a loaded CI machine a 250 ms timeout turns slow answers
// from healthy masters into journaled writes. Fail-fast is tested on its own (state-on-cluster).
const COMMAND_TIMEOUT_MS = 1000;

interface FaultReport {
  fault: string;
  turns: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  journaledCalls: number;
  /** Times this process rewrote call state Redis had lost (empty restart). */
  restored: number;
  detectMs: number | null;
  recoverMs: number | null;
}

const reports: FaultReport[] = [];

/** A new process's first commands open its node connections: a caller retries a load that timed out. */
async function loadRetrying(callId: string, h: StoreHandle): Promise<ConversationManager> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ConversationManager.fromRedis(callId, h.store);
    } catch (err) {
      if (attempt >= 20 || !(err instanceof RedisUnavailableError)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('fault suite: 100 calls on a Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  });
  afterAll(async () => {
    await cluster?.dispose();
    if (reports.length > 0) {
      console.log('\nfault suite (100 calls, a turn per call every 100 ms)');
      console.table(reports);
    }
  });

  /** A master that has a replica (so it can fail over), and every call whose keys it serves. */
  async function victimWithReplica(): Promise<ClusterNode> {
    for (const m of await cluster.masters()) if ((await cluster.replicasOf(m)).length > 0) return m;
    throw new Error('no master with a replica');
  }

  /**
   * Runs the workload around `fault` and checks the outcome. `mayJournal` says which calls may journal
   * (those on the shard the fault hits); `expectBreaker` whether that shard's breaker must open.
   */
  async function underFault(
    name: string,
    fault: (ctx: { h: StoreHandle; calls: { callId: string; historyKey: string }[] }) => Promise<{ mayJournal: (callId: string) => boolean; expectBreaker: boolean }>,
  ): Promise<FaultReport> {
    const h = await openClusterStore(cluster, { breaker: { failureThreshold: 2, probeIntervalMs: 50 }, commandTimeoutMs: COMMAND_TIMEOUT_MS, memory: { maxListItems: 512 } });
    try {
      const calls = await Promise.all(
        Array.from({ length: CALLS }, async () => {
          const callId = randomId();
          return { callId, historyKey: h.keys.conversation(callId, 'history'), cm: await loadRetrying(callId, h), turns: 0, journaled: false };
        }),
      );
      let writing = true;
      const writers = calls.map(async (call) => {
        while (writing) {
          call.cm.appendToHistory('user', `turn ${call.turns++}`);
          try {
            if (!(await call.cm.flush()).durable) call.journaled = true;
          } catch {
            // Not kept (journal full): the manager stages the turns again for the next flush.
          }
          await new Promise((r) => setTimeout(r, TURN_EVERY_MS));
        }
        await call.cm.flush();
      });
      // Watch health every 10 ms: when the store first notices, when it is whole again.
      let faultAt = 0;
      let detectedAt: number | undefined;
      let recoveredAt: number | undefined;
      let sawOpenShard = false;
      const watcher = setInterval(() => {
        if (faultAt === 0) return;
        const health = h.store.health();
        if (health.status !== 'ok') {
          detectedAt ??= performance.now();
          recoveredAt = undefined;
        } else if (detectedAt !== undefined) recoveredAt ??= performance.now();
        if (health.degradedShards.some((s) => s.state === 'open')) sawOpenShard = true;
      }, 10);

      await new Promise((r) => setTimeout(r, 500));
      faultAt = performance.now();
      const { mayJournal, expectBreaker } = await fault({ h, calls });
      await new Promise((r) => setTimeout(r, 1000));
      writing = false;
      await Promise.all(writers);
      const left = await h.store.flushJournal(15_000);
      await new Promise((r) => setTimeout(r, 30));
      clearInterval(watcher);

      let lost = 0;
      let duplicated = 0;
      let outOfOrder = 0;
      let turns = 0;
      for (const call of calls) {
        turns += call.turns;
        const stored = (await turnsIn(h.raw, call.historyKey)).map((t) => t.content);
        const expected = Array.from({ length: call.turns }, (_, i) => `turn ${i}`);
        const counts = new Map<string, number>();
        for (const c of stored) counts.set(c, (counts.get(c) ?? 0) + 1);
        for (const e of expected) if (!counts.has(e)) lost++;
        for (const n of counts.values()) if (n > 1) duplicated += n - 1;
        const firsts = stored.filter((c, i) => stored.indexOf(c) === i);
        if (firsts.join('\n') !== expected.filter((e) => counts.has(e)).join('\n')) outOfOrder++;
      }
      const journaledCalls = calls.filter((c) => c.journaled);
      const report: FaultReport = {
        fault: name,
        turns,
        lost,
        duplicated,
        outOfOrder,
        journaledCalls: journaledCalls.length,
        restored: h.store.health().loss.restored,
        detectMs: detectedAt === undefined ? null : Math.round(detectedAt - faultAt),
        recoverMs: recoveredAt === undefined || detectedAt === undefined ? null : Math.round(recoveredAt - faultAt),
      };
      reports.push(report);

      expect(left).toBe(0);
      expect({ lost, duplicated, outOfOrder }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
      expect(journaledCalls.filter((c) => !mayJournal(c.callId)).map((c) => c.callId)).toEqual([]);
      if (expectBreaker) expect(sawOpenShard).toBe(true);
      expect(h.store.health()).toMatchObject({ status: 'ok', degradedShards: [], journalDepth: 0 });
      return report;
    } finally {
      await h.close();
      for (const n of cluster.nodes) n.thaw();
      for (const n of cluster.nodes) if (!n.running) await n.start();
      await cluster.waitForHealthy(30_000);
    }
  }

  /** Calls whose history key the given master served when the fault began. */
  async function callsOn(master: ClusterNode, calls: { callId: string; historyKey: string }[]): Promise<Set<string>> {
    const slots = (await cluster.topology()).find((v) => v.port === master.port)?.slots ?? [];
    const out = new Set<string>();
    for (const c of calls) {
      const slot = await cluster.slotOf(c.historyKey);
      if (slots.some(([a, b]) => slot >= a && slot <= b)) out.add(c.callId);
    }
    return out;
  }

  it('(a) a master killed with kill -9, its replica promoted', { timeout: 60_000 }, async () => {
    await underFault('(a) master kill -9', async ({ calls }) => {
      const victim = await victimWithReplica();
      const affected = await callsOn(victim, calls);
      await cluster.kill(victim);
      await cluster.waitForFailover(victim);
      return { mayJournal: (id) => affected.has(id), expectBreaker: true };
    });
  });

  it('(b) a master stopped gracefully', { timeout: 60_000 }, async () => {
    await underFault('(b) master stopped (SIGTERM)', async ({ calls }) => {
      const victim = await victimWithReplica();
      const affected = await callsOn(victim, calls);
      await cluster.stop(victim);
      await cluster.waitForFailover(victim);
      return { mayJournal: (id) => affected.has(id), expectBreaker: true };
    });
  });

  it('(c) a slot migrated live', { timeout: 60_000 }, async () => {
    await underFault('(c) slot migrated live', async ({ calls }) => {
      const moved = calls[0]!;
      const slot = await cluster.slotOf(moved.historyKey);
      const source = await cluster.masterOf(slot);
      const target = (await cluster.masters()).find((m) => m.port !== source.port)!;
      await cluster.migrateSlot(slot, target, { batch: 1, pauseBetweenBatchesMs: 20 });
      const sameSlot = new Set<string>();
      for (const c of calls) if ((await cluster.slotOf(c.historyKey)) === slot) sameSlot.add(c.callId);
      return { mayJournal: (id) => sameSlot.has(id), expectBreaker: false };
    });
  });

  it('(d) a master added and slots resharded onto it', { timeout: 90_000 }, async () => {
    await underFault('(d) master added + reshard', async ({ calls }) => {
      const added = await cluster.addMaster();
      const slots = new Set(await cluster.reshard(added, 300));
      const movedCalls = new Set<string>();
      for (const c of calls) if (slots.has(await cluster.slotOf(c.historyKey))) movedCalls.add(c.callId);
      return { mayJournal: (id) => movedCalls.has(id), expectBreaker: false };
    });
  });

  it('(e) a master restarts empty (no persistence) mid-call', { timeout: 60_000 }, async () => {
    await underFault('(e) master restarts empty', async ({ calls }) => {
      const victim = await victimWithReplica();
      const affected = await callsOn(victim, calls);
      await cluster.restart(victim);
      await cluster.waitForHealthy();
      return { mayJournal: (id) => affected.has(id), expectBreaker: false };
    });
  });

  it('(f) a master frozen for 5 s (SIGSTOP, SIGCONT)', { timeout: 60_000 }, async () => {
    await underFault('(f) master frozen 5 s', async ({ calls }) => {
      const victim = await victimWithReplica();
      const affected = await callsOn(victim, calls);
      await cluster.freeze(victim, 5000);
      await cluster.waitForHealthy();
      return { mayJournal: (id) => affected.has(id), expectBreaker: true };
    });
  });
});
