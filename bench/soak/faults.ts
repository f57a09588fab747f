import type { RedisCluster } from '../../emulators/redis/cluster.js';
import type { AppProcess } from './app-client.js';

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
  const atMs = performance.now();
  const fromWallMs = Date.now();
  await cluster.kill(victim);
  const promoted = await cluster.waitForFailover(victim, 30_000);
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
  return {
    fault: 'relay kill',
    atMs,
    fromWallMs,
    toWallMs,
    detail: `relay owning ${calls} of ${owned(before)} media calls terminated${recoveredMs === undefined ? '; its calls were not all taken over within 15 s' : ''}; ${replacement}`,
    ...(recoveredMs === undefined ? {} : { recoveredMs }),
  };
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
