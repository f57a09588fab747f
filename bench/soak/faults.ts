import type { ClusterNode, RedisCluster } from '../../emulators/redis/cluster.js';
import type { AppProcess } from './app-client.js';
import type { AppStats } from './protocol.js';

/** What a fault did and how long the system took to be whole again (ms on this process's clock). */
export interface FaultRecord {
  readonly fault: string;
  readonly atMs: number;
  readonly detail: string;
  readonly recoveredMs?: number;
  /** Wall-clock span of the fault (Date.now()), to find the calls that were live during it. */
  readonly fromWallMs: number;
  readonly toWallMs: number;
}

/**
 * A master dies (kill -9) and its replica is promoted; the old master is then restarted, empty, and
 * rejoins as a replica, so the cluster is 3 + 3 again. `recoveredMs` runs from the kill to the
 * replica serving the dead master's slots.
 */
export async function masterFailover(cluster: RedisCluster): Promise<FaultRecord> {
  const [victim] = await cluster.masters();
  if (!victim) throw new Error('the cluster has no master');
  // The slot is read before the kill: afterwards the cluster's view of the dead master may already have changed.
  const slot = (await cluster.topology()).find((v) => v.port === victim.port)?.slots[0]?.[0];
  if (slot === undefined) throw new Error(`master ${victim.port} serves no slots`);
  const atMs = performance.now();
  const fromWallMs = Date.now();
  await cluster.kill(victim);
  const promoted = await servedElsewhere(cluster, slot, victim.port, 60_000);
  const recoveredMs = Math.round(performance.now() - atMs);
  // A loaded machine can be slow to bring a redis-server up: try the restart again before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.restart(victim);
      break;
    } catch (error) {
      if (attempt >= 3) throw new Error(`the killed master ${victim.port} could not be restarted: ${(error as Error).message}`);
    }
  }
  await cluster.waitForHealthy(30_000);
  return { fault: 'master kill -9', atMs, fromWallMs, toWallMs: fromWallMs + recoveredMs, detail: `master ${victim.port} killed, replica ${promoted.port} promoted, ${victim.port} restarted empty as a replica`, recoveredMs };
}

/** Waits until a master other than `deadPort` serves `slot`; returns it. */
async function servedElsewhere(cluster: RedisCluster, slot: number, deadPort: number, timeoutMs: number): Promise<ClusterNode> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const owner = await cluster.masterOf(slot);
      if (owner.port !== deadPort) return owner;
    } catch (error) {
      last = error; // no master serves the slot yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no replica took over slot ${slot} within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
}

/**
 * The relay owning the most media calls is terminated as a killed process looks to the others (its
 * Web PubSub socket closes, heartbeats stop, nothing is flushed or released); the other relay takes
 * its calls over. A replacement relay is started once the survivors own the orphaned calls (or after
 * 15 s), as a supervisor would restart the process.
 */
export async function relayKill(app: AppProcess): Promise<FaultRecord> {
  const before = await app.stats();
  const owned = (s: typeof before) => s.relays.filter((r) => !r.terminated).reduce((n, r) => n + r.calls, 0);
  const atMs = performance.now();
  const fromWallMs = Date.now();
  const { workerId, calls } = await app.terminateRelay();
  let recoveredMs: number | undefined;
  const deadline = atMs + 15_000;
  while (performance.now() < deadline) {
    const now = await app.stats();
    const takeovers = now.relays.filter((r) => !r.terminated).reduce((n, r) => n + r.takeovers, 0) - before.relays.filter((r) => r.workerId !== workerId).reduce((n, r) => n + r.takeovers, 0);
    if (takeovers >= calls || owned(now) >= owned(before)) {
      recoveredMs = Math.round(performance.now() - atMs);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const toWallMs = Date.now();
  const replacement = await startReplacement(app);
  // Read once the replacement runs: takeovers still finishing when recovery was seen are counted too.
  const after = await app.stats();
  return {
    fault: 'relay kill',
    atMs,
    fromWallMs,
    toWallMs,
    detail: `relay owning ${calls} of ${owned(before)} media calls terminated${recoveredMs === undefined ? '; its calls were not all taken over within 15 s' : ''}${standbyReplays(before, after, workerId)}; ${replacement}`,
    ...(recoveredMs === undefined ? {} : { recoveredMs }),
  };
}

/** With RELAY_STANDBY: how many of the dead relay's calls a standby took over with the caller audio it kept. */
function standbyReplays(before: AppStats, after: AppStats, deadWorkerId: string): string {
  const replays = (s: AppStats) => s.relays.filter((r) => r.workerId !== deadWorkerId).reduce((n, r) => n + (r.standby?.replays ?? 0), 0);
  const frames = (s: AppStats) => s.relays.filter((r) => r.workerId !== deadWorkerId).reduce((n, r) => n + (r.standby?.framesReplayed ?? 0), 0);
  if (!after.relays.some((r) => r.standby)) return '';
  return `; ${replays(after) - replays(before)} taken over by a standby that replayed what it kept (${frames(after) - frames(before)} caller frames)`;
}

/** A supervisor restarting the relay: a start that fails (Redis not ready yet) is tried again. */
async function startReplacement(app: AppProcess): Promise<string> {
  let last: unknown;
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await app.startRelay();
      return attempt === 1 ? 'a replacement started' : `a replacement started at attempt ${attempt} (${(last as Error).message})`;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  return `no replacement could start: ${(last as Error).message}`;
}
