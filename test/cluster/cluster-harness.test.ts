import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { RedisCluster } from '../support/redis-cluster.js';

/** The local Redis Cluster the cluster topology and the fault suite run on: real processes, real faults. */
describe('local Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = new Cluster(cluster.seeds, { clusterRetryStrategy: () => 100 });
    client.on('error', () => undefined);
  });
  afterAll(async () => {
    client.disconnect();
    const pids = cluster.nodes.map((n) => n.pid);
    await cluster.dispose();
    for (const pid of pids) expect(() => process.kill(pid as number, 0)).toThrow();
  });

  it('has 3 masters, each with one replica, covering every slot', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    for (const m of masters) expect(await cluster.replicasOf(m)).toHaveLength(1);
    const covered = (await cluster.topology()).flatMap((v) => v.slots).reduce((n, [a, b]) => n + b - a + 1, 0);
    expect(covered).toBe(16384);
  });

  it('promotes the replica of a master killed with kill -9, and the restarted node rejoins empty as a replica', async () => {
    await client.set('{k1}a', 'v');
    const master = await cluster.masterOf('{k1}a');
    await cluster.kill(master);
    const promoted = await cluster.waitForFailover(master);
    expect(promoted.port).not.toBe(master.port);
    expect(await client.get('{k1}a')).toBe('v');
    await cluster.restart(master);
    await cluster.waitForHealthy();
    expect((await cluster.replicasOf(promoted)).map((n) => n.port)).toContain(master.port);
  });

  it('a master restarted faster than the node timeout keeps its slots and comes back without its data', async () => {
    await client.set('{k2}a', 'v');
    const master = await cluster.masterOf('{k2}a');
    await cluster.restart(master);
    // Its replica resyncs from the empty master, so the key is gone from the cluster.
    await cluster.waitForHealthy();
    expect((await cluster.masterOf('{k2}a')).port).toBe(master.port);
    expect(await client.get('{k2}a')).toBeNull();
  });

  it('fails over by hand (CLUSTER FAILOVER on the replica) and migrates a slot live', async () => {
    await client.set('{k3}a', 'v');
    const master = await cluster.masterOf('{k3}a');
    const replica = await cluster.failover(master);
    await cluster.waitForHealthy();
    expect((await cluster.masterOf('{k3}a')).port).toBe(replica.port);
    const slot = await cluster.slotOf('{k3}a');
    const target = (await cluster.masters()).find((m) => m.port !== replica.port) as NonNullable<Awaited<ReturnType<RedisCluster['masters']>>[number]>;
    await cluster.migrateSlot(slot, target);
    expect((await cluster.masterOf(slot)).port).toBe(target.port);
    expect(await client.get('{k3}a')).toBe('v');
  });

  it('adds a master and reshards slots onto it; a frozen node answers nothing until thawed; FLUSHALL empties every master', async () => {
    const added = await cluster.addMaster();
    const moved = await cluster.reshard(added, 20);
    expect(moved).toHaveLength(20);
    await cluster.waitForHealthy();
    expect((await cluster.masters()).map((m) => m.port)).toContain(added.port);

    const frozen = await cluster.masterOf('{k4}a');
    await client.set('{k4}a', 'v');
    await cluster.freeze(frozen);
    const direct = frozen.connect();
    const reply = Promise.race([direct.get('{k4}a'), new Promise((r) => setTimeout(() => r('no answer'), 300))]);
    expect(await reply).toBe('no answer');
    cluster.thaw(frozen);
    expect(await direct.get('{k4}a')).toBe('v');
    direct.disconnect();

    await cluster.flushAll();
    for (const m of await cluster.masters()) expect(Number(await cluster.command(m, 'DBSIZE'))).toBe(0);
  });
});
