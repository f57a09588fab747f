import type { RedisCluster } from '../../emulators/redis/cluster.js';
import type { AppProcess } from './app-client.js';

/** What a fault did and how long the system took to be whole again (ms on this process's clock). */
export interface FaultRecord {
  readonly fault: string;
  readonly atMs: number;
  readonly detail: string;
  readonly recoveredMs?: number;
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
  await cluster.kill(victim);
  const promoted = await cluster.waitForFailover(victim, 30_000);
  const recoveredMs = Math.round(performance.now() - atMs);
  await cluster.restart(victim);
  await cluster.waitForHealthy(30_000);
  return { fault: 'master kill -9', atMs, detail: `master ${victim.port} killed, replica ${promoted.port} promoted, ${victim.port} restarted empty as a replica`, recoveredMs };
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
  await app.startRelay();
  return { fault: 'relay kill', atMs, detail: `relay owning ${calls} of ${owned(before)} media calls terminated${recoveredMs === undefined ? '; its calls were not all taken over within 15 s' : ''}; a replacement started`, ...(recoveredMs === undefined ? {} : { recoveredMs }) };
}
