import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import type { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../src/lib/config/index.js';
import { ConversationManager } from '../src/lib/state/conversation/conversation-manager.js';
import { RedisKeys } from '../src/lib/state/keys.js';
import { createRedis, type ManagedRedis } from '../src/lib/state/redis-client.js';
import { SessionStore } from '../src/lib/state/session-store.js';
import { LatencyRegistry } from '../src/lib/telemetry/histograms.js';
import { RedisServer } from '../test/support/redis-server.js';
import { RedisCluster } from '../test/support/redis-cluster.js';
import { TcpProxy } from '../test/state/support/tcp-proxy.js';
import { baseEnv } from '../test/support/env.js';
import { LatencyRecorder, printTable, round } from './lib.js';

/**
 * `npm run bench -- state [--closed-ms 4000] [--open-seconds 15] [--cluster]`
 *
 * Everything against one redis-server this run starts on a free port:
 * - closed loop: 50 and 200 simulated calls doing turns back to back (user + agent turn, context
 *   update, flush), ours and the bare ioredis MULTI floor, alternated;
 * - open loop: 1,000 calls each persisting a turn every 3 s at a random phase, in alternating 3 s
 *   windows of ours and the floor (persistence latency of each turn; the event loop's timer lag is
 *   reported beside it: it is the harness's and the machine's, not the store's);
 * - growth: round trips and bytes per turn at history length 10 and 1,000 (counted by a TCP proxy).
 *
 * `--cluster` also runs the closed and open loops on a local Redis Cluster (3 masters + 3 replicas,
 * REDIS_CLUSTER=true), ours and the bare ioredis cluster MULTI floor in the same run, and reports the
 * ours/floor ratio on both topologies.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({ args, options: { 'closed-ms': { type: 'string', default: '4000' }, 'open-seconds': { type: 'string', default: '15' }, cluster: { type: 'boolean', default: false } } });
  const closedMs = Number(values['closed-ms']);
  const openSeconds = Number(values['open-seconds']);
  const server = await RedisServer.start();
  const proxy = await TcpProxy.start(server.port);
  const ours = await connect(server.port);
  const floorRedis = await connect(server.port);
  const viaProxy = await connect(proxy.port);
  const keys = new RedisKeys('bench', 'test');
  const store = new SessionStore(ours.client, keys, { latency: new LatencyRegistry() });
  const proxiedStore = new SessionStore(viaProxy.client, keys, { latency: new LatencyRegistry() });
  const floor = floorRedis.client as Redis;
  try {
    // Warm up both paths (JIT, connections, Redis allocations).
    await closedLoop('ours', 50, 1000, () => oursTurn(store));
    await closedLoop('floor', 50, 1000, () => floorTurn(floor, keys));

    // The open loop first, on a clean heap (its tail is what it measures), in alternating 3-second
    // windows (one turn per call per window), so noise on a shared machine falls on both sides alike.
    const openFloor = new OpenLoopResult('floor');
    const openOursResult = new OpenLoopResult('ours');
    const floorOpen = await prepareOpen(1000, () => floorTurn(floor, keys));
    const oursOpen = await prepareOpen(1000, () => oursTurn(store));
    for (let w = 0; w < Math.max(1, Math.round(openSeconds / 3)); w++) {
      collectGarbage();
      await openWindow(floorOpen, 3000, openFloor);
      collectGarbage();
      await openWindow(oursOpen, 3000, openOursResult);
    }
    const openRows = [openFloor.row(), openOursResult.row()];
    const openOurs = openRows[1] as Record<string, unknown>;

    const closed: ClosedResult[] = [];
    for (const calls of [50, 200]) {
      // Short alternating rounds, so noise on a shared machine falls on both sides alike.
      for (let round = 0; round < ROUNDS; round++) {
        closed.push(await closedLoop('floor', calls, closedMs / ROUNDS, () => floorTurn(floor, keys)));
        closed.push(await closedLoop('ours', calls, closedMs / ROUNDS, () => oursTurn(store)));
      }
    }
    const closedRows = summariseClosed(closed);

    const growth = [await growthAt(proxiedStore, proxy, 10), await growthAt(proxiedStore, proxy, 1000)];

    const ratio200 = ratioAt(closedRows, 200);
    const budgets = {
      closedLoopRatioAt200: { value: ratio200, budget: '>= 0.70', pass: ratio200 >= 0.7 },
      openLoopP99MsAt1000: { value: openOurs.p99Ms, budget: '<= 2', pass: (openOurs.p99Ms as number) <= 2, floorP99Ms: openRows[0]?.p99Ms },
      noTurnJournaled: { value: journaledTurns, budget: '0', pass: journaledTurns === 0 },
      bytesPerTurnEqual: { value: growth.map((g) => g.bytesPerTurn), budget: 'equal at 10 and 1000', pass: growth[0]?.bytesPerTurn === growth[1]?.bytesPerTurn },
      roundTripsPerTurn: { value: growth.map((g) => g.roundTripsPerTurn), budget: '1', pass: growth.every((g) => g.roundTripsPerTurn === 1) },
    };

    console.log('\nclosed loop (turn = user + agent turn, context update, one flush)');
    printTable(closedRows);
    console.log('\nopen loop: 1,000 calls, one turn every 3 s each, random phase');
    printTable(openRows);
    console.log('\ngrowth');
    printTable(growth);
    console.log('\nbudgets');
    printTable(Object.entries(budgets).map(([name, b]) => ({ name, value: JSON.stringify(b.value), budget: b.budget, pass: b.pass, floor: 'floorP99Ms' in b ? b.floorP99Ms : '' })));
    const health = store.health();
    console.log(`\nstore: ${health.status}, breaker opened ${health.breaker.opens} times, journal replayed ${health.journal.replayed}`);
    const cluster = values.cluster ? await onCluster(closedMs, openSeconds) : undefined;
    if (cluster) {
      console.log('\nours/floor ratio (closed loop)');
      printTable([50, 200].map((calls) => ({ calls, singleNode: ratioAt(closedRows, calls), cluster: ratioAt(cluster.closedLoop, calls) })));
    }
    return { closedLoop: closedRows, openLoop: openRows, growth, budgets, storeHealth: health, ...(cluster ? { cluster } : {}), settings: { closedMs, openSeconds, cluster: values.cluster } };
  } finally {
    await store.close();
    await proxiedStore.close();
    await Promise.all([ours.close(), floorRedis.close(), viaProxy.close()]);
    await proxy.close();
    await server.dispose();
  }
}

/** The closed and open loops again on a local Redis Cluster: ours over a cluster client, the floor a bare cluster MULTI. */
async function onCluster(closedMs: number, openSeconds: number): Promise<{ closedLoop: Record<string, unknown>[]; openLoop: Record<string, unknown>[]; journaledTurns: number }> {
  const cluster = await RedisCluster.start();
  const ours = await connect(cluster.nodes[0]!.port, true);
  const floorRedis = await connect(cluster.nodes[0]!.port, true);
  const keys = new RedisKeys('benchc', 'test');
  const store = new SessionStore(ours.client, keys, { latency: new LatencyRegistry() });
  const floor = floorRedis.client as Cluster;
  const journaledBefore = journaledTurns;
  try {
    await closedLoop('ours', 50, 1000, () => oursTurn(store));
    await closedLoop('floor', 50, 1000, () => floorTurn(floor, keys));
    const openFloor = new OpenLoopResult('floor');
    const openOurs = new OpenLoopResult('ours');
    const floorOpen = await prepareOpen(1000, () => floorTurn(floor, keys));
    const oursOpen = await prepareOpen(1000, () => oursTurn(store));
    for (let w = 0; w < Math.max(1, Math.round(openSeconds / 3)); w++) {
      collectGarbage();
      await openWindow(floorOpen, 3000, openFloor);
      collectGarbage();
      await openWindow(oursOpen, 3000, openOurs);
    }
    const closed: ClosedResult[] = [];
    for (const calls of [50, 200]) {
      for (let round = 0; round < ROUNDS; round++) {
        closed.push(await closedLoop('floor', calls, closedMs / ROUNDS, () => floorTurn(floor, keys), 'cluster'));
        closed.push(await closedLoop('ours', calls, closedMs / ROUNDS, () => oursTurn(store), 'cluster'));
      }
    }
    const closedRows = summariseClosed(closed);
    const openRows = [openFloor.row(), openOurs.row()];
    console.log('\ncluster (3 masters + 3 replicas): closed loop');
    printTable(closedRows);
    console.log('\ncluster: open loop, 1,000 calls');
    printTable(openRows);
    return { closedLoop: closedRows, openLoop: openRows, journaledTurns: journaledTurns - journaledBefore };
  } finally {
    await store.close();
    await Promise.all([ours.close(), floorRedis.close()]);
    await cluster.dispose();
  }
}

const gc = (() => {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function collectGarbage(): void {
  gc();
}

async function connect(port: number, cluster = false): Promise<ManagedRedis> {
  const config = loadConfig(baseEnv({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), REDIS_COMMAND_TIMEOUT_MS: '1000', REDIS_CLUSTER: String(cluster) }));
  const redis = await createRedis(config.redis);
  await redis.ready();
  return redis;
}

// ── the two implementations of one turn ──────────────────────────────────────────────────────

const ROUNDS = 4;

const USER_TEXT = 'I would like to check the status of my last order, the one I placed on Monday.';
const AGENT_TEXT = 'Of course. Your order shipped on Tuesday and should arrive tomorrow before noon.';

interface SimCall {
  readonly id: string;
  turn: number;
  cm?: ConversationManager;
}

async function oursTurn(store: SessionStore): Promise<(call: SimCall) => Promise<void>> {
  return async (call) => {
    call.cm ??= await ConversationManager.fromRedis(call.id, store, { migrateLegacy: false });
    const cm = call.cm;
    call.turn++;
    cm.appendToHistory('user', USER_TEXT);
    cm.appendToHistory('assistant', AGENT_TEXT);
    cm.updateContext({ turn: call.turn, stage: 'order-status' });
    if (!(await cm.flush()).durable) journaledTurns++;
  };
}

/** Turns our store journaled instead of writing (Redis too slow or away): a run with any is not a clean measurement. */
let journaledTurns = 0;

async function floorTurn(client: Redis | Cluster, keys: RedisKeys): Promise<(call: SimCall) => Promise<void>> {
  let counter = 0;
  const writer = randomBytes(4).toString('hex');
  return async (call) => {
    call.turn++;
    const at = new Date().toISOString();
    const user = JSON.stringify({ id: `${writer}-${(counter++).toString(36)}`, role: 'user', content: USER_TEXT, at });
    const agent = JSON.stringify({ id: `${writer}-${(counter++).toString(36)}`, role: 'assistant', content: AGENT_TEXT, at });
    const hist = keys.conversation(`f${call.id}`, 'history');
    const ctx = keys.conversation(`f${call.id}`, 'context');
    await client
      .multi()
      .rpush(hist, user, agent)
      .hset(ctx, 'turn', String(call.turn), 'stage', '"order-status"', '_v', '2')
      .expire(hist, 7200)
      .expire(ctx, 1800)
      .exec();
  };
}

// ── loads ────────────────────────────────────────────────────────────────────────────────────

interface ClosedResult {
  impl: 'ours' | 'floor';
  calls: number;
  turns: number;
  seconds: number;
  latency: LatencyRecorder;
}

const recorders = new Map<string, LatencyRecorder>();

async function closedLoop(impl: 'ours' | 'floor', calls: number, durationMs: number, make: () => Promise<(call: SimCall) => Promise<void>>, topology = 'single'): Promise<ClosedResult> {
  const turn = await make();
  const sims: SimCall[] = Array.from({ length: calls }, () => ({ id: randomBytes(6).toString('hex'), turn: 0 }));
  await warmUp(sims, turn); // load/create each conversation outside the measurement
  // Rounds of one (impl, calls) pair share a histogram, so percentiles cover all of them.
  const name = `${topology}:${impl}:${calls}:${durationMs}`;
  const latency = recorders.get(name) ?? new LatencyRecorder();
  recorders.set(name, latency);
  let turns = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    sims.map(async (sim) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await turn(sim);
        latency.recordMs(performance.now() - t0);
        turns++;
      }
    }),
  );
  return { impl, calls, turns, seconds: (performance.now() - started) / 1000, latency };
}

function summariseClosed(results: ClosedResult[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const calls of [50, 200]) {
    for (const impl of ['floor', 'ours'] as const) {
      const mine = results.filter((r) => r.calls === calls && r.impl === impl);
      const turns = mine.reduce((n, r) => n + r.turns, 0);
      const seconds = mine.reduce((n, r) => n + r.seconds, 0);
      const s = mine[0]?.latency.summary();
      rows.push({ impl, calls, turnsPerSec: Math.round(turns / seconds), p50Ms: s?.p50Ms, p95Ms: s?.p95Ms, p99Ms: s?.p99Ms });
    }
    const floor = rows.find((r) => r.calls === calls && r.impl === 'floor')?.turnsPerSec as number;
    const ours = rows.find((r) => r.calls === calls && r.impl === 'ours') as Record<string, unknown>;
    ours.ratioToFloor = round((ours.turnsPerSec as number) / floor, 3);
  }
  return rows;
}

function ratioAt(rows: Record<string, unknown>[], calls: number): number {
  return (rows.find((r) => r.calls === calls && r.impl === 'ours')?.ratioToFloor as number) ?? 0;
}

interface OpenLoad {
  readonly sims: SimCall[];
  readonly turn: (call: SimCall) => Promise<void>;
}

async function prepareOpen(calls: number, make: () => Promise<(call: SimCall) => Promise<void>>): Promise<OpenLoad> {
  const turn = await make();
  const sims: SimCall[] = Array.from({ length: calls }, () => ({ id: randomBytes(6).toString('hex'), turn: 0 }));
  await warmUp(sims, turn); // load/create each conversation outside the measurement
  return { sims, turn };
}

/**
 * Each call's first turn, 50 at a time: a thousand loads at once on a busy machine can outlast the
 * command timeout, and a load that Redis does not answer is an error, not an empty conversation.
 */
async function warmUp(sims: readonly SimCall[], turn: (call: SimCall) => Promise<void>): Promise<void> {
  for (let i = 0; i < sims.length; i += 50) await Promise.all(sims.slice(i, i + 50).map((s) => turn(s)));
}

class OpenLoopResult {
  readonly latency = new LatencyRecorder();
  readonly timerLag = new LatencyRecorder();
  /** V8 collections during this implementation's windows: the main source of the tail on a small VM. */
  readonly gcPauses = new LatencyRecorder();
  seconds = 0;
  constructor(readonly impl: 'ours' | 'floor') {}
  row(): Record<string, unknown> {
    const s = this.latency.summary();
    const gc = this.gcPauses.summary();
    return { impl: this.impl, calls: 1000, turns: s.count, turnsPerSec: Math.round(s.count / this.seconds), p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, timerLagP99Ms: this.timerLag.summary().p99Ms, gcPauses: gc.count, gcMaxMs: gc.maxMs };
  }
}

/**
 * One period: every call persists one turn at a random moment within it. One timer walks a sorted
 * schedule (rather than a timer and a promise per call), so the harness adds little garbage of its
 * own to the heap whose collections the latency tail measures.
 */
async function openWindow(load: OpenLoad, periodMs: number, into: OpenLoopResult): Promise<void> {
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) into.gcPauses.recordMs(entry.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  const schedule = load.sims.map((sim) => ({ sim, due: started + Math.random() * periodMs })).sort((x, y) => x.due - y.due);
  let next = 0;
  let outstanding = schedule.length;
  await new Promise<void>((resolve) => {
    const finish = (t0: number) => () => {
      into.latency.recordMs(performance.now() - t0);
      if (--outstanding === 0) resolve();
    };
    const tick = () => {
      const now = performance.now();
      for (let item = schedule[next]; item && item.due <= now; item = schedule[++next]) {
        into.timerLag.recordMs(now - item.due);
        const t0 = performance.now();
        void load.turn(item.sim).then(finish(t0));
      }
      const upcoming = schedule[next];
      if (upcoming) setTimeout(tick, Math.max(0, upcoming.due - performance.now()));
    };
    tick();
  });
  // Wait out the rest of the period so the rate stays one turn per call per period.
  const rest = started + periodMs - performance.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  into.seconds += (performance.now() - started) / 1000;
  gcObserver.disconnect();
}

async function growthAt(store: SessionStore, proxy: TcpProxy, historyLength: number): Promise<Record<string, unknown>> {
  // The history is written by one writer; a fresh one measures, so turn ids have the same length at
  // both history lengths and any difference in bytes would come from the history itself.
  const id = `g${String(historyLength).padStart(5, '0')}${randomBytes(3).toString('hex')}`; // same length at every size
  const seed = await ConversationManager.fromRedis(id, store, { migrateLegacy: false, writerId: 'seed' });
  for (let i = 0; i < historyLength; i += 2) {
    seed.appendToHistory('user', USER_TEXT);
    seed.appendToHistory('assistant', AGENT_TEXT);
    if (i % 200 === 0) await seed.flush();
  }
  await seed.flush();
  const cm = await ConversationManager.fromRedis(id, store, { migrateLegacy: false, writerId: 'grow' });
  const turns = 20;
  proxy.resetCounters();
  for (let i = 0; i < turns; i++) {
    cm.appendToHistory('user', USER_TEXT);
    cm.appendToHistory('assistant', AGENT_TEXT);
    cm.updateContext({ turn: i % 10, stage: 'order-status' });
    await cm.flush();
  }
  return { historyLength: cm.length - 2 * turns, turns, roundTripsPerTurn: proxy.roundTrips / turns, bytesPerTurn: proxy.bytesToServer / turns };
}
