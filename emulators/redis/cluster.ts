import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisServerBinary, waitForRedis } from './server.js';

/**
 * A real local Redis Cluster for tests, benchmarks and the soak: the machine's `redis-server`,
 * `cluster-enabled yes`, created with `redis-cli --cluster create … --cluster-replicas N --cluster-yes`.
 * No persistence: a restarted node keeps its cluster identity (nodes.conf) and slots but comes
 * back without data, which is how "Redis came back empty" is produced.
 *
 *   const cluster = await RedisCluster.start();            // 3 masters + 3 replicas, free ports
 *   cluster.seeds                                          // [{ host, port }] of every node
 *   const m = await cluster.masterOf('{call-1}:session');  // node serving the key's slot
 *   await cluster.kill(m);                                 // kill -9
 *   await cluster.stop(m);                                 // graceful (SIGTERM; no save)
 *   await cluster.restart(m);                              // same port and identity, empty
 *   await cluster.freeze(m, 5000);                         // SIGSTOP, SIGCONT after 5 s (or thaw(m))
 *   await cluster.failover(m);                             // CLUSTER FAILOVER on its replica
 *   await cluster.waitForFailover(m);                      // a replica took over m's slots
 *   await cluster.migrateSlot(slot, target);               // live: IMPORTING/MIGRATING, MIGRATE keys, SETSLOT NODE
 *   const n = await cluster.addMaster(); await cluster.reshard(n, 100);
 *   await cluster.flushAll();                              // FLUSHALL on every master (between tests)
 *   await cluster.dispose();                               // kills every process, removes the dirs
 *
 * Defaults are chosen for fast fault tests: `cluster-node-timeout` 1000 ms (a dead master is
 * failed over in 2–3 s) and `cluster-require-full-coverage no`, so one dead master answers
 * CLUSTERDOWN for its own slots only and the healthy masters keep serving. Every process is also
 * killed when the Node process exits, so a crashed test file leaves no redis-server behind.
 */
export interface RedisClusterOptions {
  /** @default 3 */
  readonly masters?: number;
  /** @default 1 */
  readonly replicasPerMaster?: number;
  /** @default 1000 */
  readonly nodeTimeoutMs?: number;
  /** `cluster-require-full-coverage`. @default false */
  readonly requireFullCoverage?: boolean;
  /** `requirepass` and `masterauth` on every node. */
  readonly password?: string;
}

export interface ClusterNodeView {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  readonly masterId: string | undefined;
  readonly failing: boolean;
  readonly slots: readonly [number, number][];
}

const SLOTS = 16384;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** One redis-server process of the cluster. Its port and identity survive stop and restart. */
export class ClusterNode {
  private child: ChildProcess | undefined;
  readonly dir: string;
  frozen = false;

  constructor(
    readonly port: number,
    readonly busPort: number,
    private readonly args: readonly string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `rtvoice-cluster-${port}-`));
  }

  get host(): string {
    return '127.0.0.1';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    // Data files a replica got from its master's sync would be loaded at start: remove them, so
    // every start is empty (nodes.conf, the node's cluster identity, is kept).
    rmSync(join(this.dir, 'dump.rdb'), { force: true });
    rmSync(join(this.dir, 'appendonlydir'), { recursive: true, force: true });
    const child = spawn(redisServerBinary(), ['--port', String(this.port), '--cluster-port', String(this.busPort), '--dir', this.dir, ...this.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.child = child;
    this.frozen = false;
    const failed = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`redis-server on ${this.port} exited with ${code}: ${stderr.trim()}`)));
    });
    failed.catch(() => undefined);
    await Promise.race([waitForRedis(this.port, 5000, () => this.running), failed]);
  }

  /** kill -9: no shutdown, connections reset. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERM: Redis shuts down cleanly (no save, persistence is off) and closes its connections. */
  async stop(): Promise<void> {
    if (this.frozen) this.thaw();
    await this.signalAndWait('SIGTERM');
  }

  freeze(): void {
    if (!this.running || this.frozen) return;
    this.child?.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (!this.frozen) return;
    this.child?.kill('SIGCONT');
    this.frozen = false;
  }

  /** A connection to this node alone (not cluster-aware); the caller disconnects it. */
  connect(password?: string): Redis {
    const client = new Redis({ host: this.host, port: this.port, ...(password ? { password } : {}), lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: true, retryStrategy: () => null, commandTimeout: 5000 });
    client.on('error', () => undefined);
    return client;
  }

  async dispose(): Promise<void> {
    await this.signalAndWait('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    this.frozen = false;
    const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timeout);
  }
}

export class RedisCluster {
  private constructor(
    readonly nodes: ClusterNode[],
    private readonly options: Required<Omit<RedisClusterOptions, 'password'>> & { password: string | undefined },
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    installExitHook();
    const resolved = {
      masters: options.masters ?? 3,
      replicasPerMaster: options.replicasPerMaster ?? 1,
      nodeTimeoutMs: options.nodeTimeoutMs ?? 1000,
      requireFullCoverage: options.requireFullCoverage ?? false,
      password: options.password,
    };
    const cluster = new RedisCluster([], resolved);
    try {
      const count = resolved.masters * (1 + resolved.replicasPerMaster);
      for (let i = 0; i < count; i++) await cluster.launchNode();
      await redisCli(['--cluster', 'create', ...cluster.nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', String(resolved.replicasPerMaster), '--cluster-yes', ...cluster.cliAuth()]);
      await cluster.waitForHealthy();
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get password(): string | undefined {
    return this.options.password;
  }

  /** Every node's address: give them all to a cluster client, so any one being down does not matter. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  node(port: number): ClusterNode {
    const found = this.nodes.find((n) => n.port === port);
    if (!found) throw new Error(`no cluster node on port ${port}`);
    return found;
  }

  /** The cluster as a running node sees it (CLUSTER NODES). */
  async topology(from?: ClusterNode): Promise<ClusterNodeView[]> {
    const source = from ?? this.nodes.find((n) => n.running && !n.frozen);
    if (!source) throw new Error('no running cluster node');
    const text = (await this.command(source, 'CLUSTER', 'NODES')) as string;
    return parseClusterNodes(text);
  }

  async masters(): Promise<ClusterNode[]> {
    const views = await this.topology();
    return views.filter((v) => v.role === 'master' && !v.failing && v.slots.length > 0).map((v) => this.node(v.port));
  }

  async replicasOf(master: ClusterNode): Promise<ClusterNode[]> {
    const views = await this.topology();
    const id = views.find((v) => v.port === master.port)?.id;
    return views.filter((v) => v.role === 'replica' && v.masterId === id && !v.failing).map((v) => this.node(v.port));
  }

  /** The master serving a key (hash tags honoured) or a slot number. */
  async masterOf(keyOrSlot: string | number): Promise<ClusterNode> {
    const slot = typeof keyOrSlot === 'number' ? keyOrSlot : await this.slotOf(keyOrSlot);
    const views = await this.topology();
    const owner = views.find((v) => v.role === 'master' && !v.failing && v.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return this.node(owner.port);
  }

  async slotOf(key: string): Promise<number> {
    const source = this.nodes.find((n) => n.running && !n.frozen);
    if (!source) throw new Error('no running cluster node');
    return Number(await this.command(source, 'CLUSTER', 'KEYSLOT', key));
  }

  kill(node: ClusterNode): Promise<void> {
    return node.kill();
  }

  stop(node: ClusterNode): Promise<void> {
    return node.stop();
  }

  /** Starts a stopped or killed node again, empty, on its port with its cluster identity. */
  async restart(node: ClusterNode): Promise<void> {
    await node.kill();
    await node.start();
  }

  /** SIGSTOP; with `ms`, SIGCONT after that long (the promise resolves once thawed). */
  async freeze(node: ClusterNode, ms?: number): Promise<void> {
    node.freeze();
    if (ms === undefined) return;
    await new Promise((r) => setTimeout(r, ms));
    node.thaw();
  }

  thaw(node: ClusterNode): void {
    node.thaw();
  }

  /** Manual failover: CLUSTER FAILOVER on one of the master's replicas; waits until it is master. */
  async failover(master: ClusterNode, options: { force?: boolean; timeoutMs?: number } = {}): Promise<ClusterNode> {
    const [replica] = await this.replicasOf(master);
    if (!replica) throw new Error(`master on ${master.port} has no replica`);
    await this.command(replica, 'CLUSTER', 'FAILOVER', ...(options.force ? ['FORCE'] : []));
    await this.until(async () => (await this.roleOf(replica)) === 'master', options.timeoutMs ?? 10_000, `replica ${replica.port} to take over`);
    return replica;
  }

  /** Waits until a replica serves the slots `master` served (after a kill or stop); returns it. */
  async waitForFailover(master: ClusterNode, timeoutMs = 15_000): Promise<ClusterNode> {
    const views = await this.topology();
    const old = views.find((v) => v.port === master.port);
    if (!old) throw new Error(`unknown node ${master.port}`);
    const slot = old.slots[0]?.[0];
    if (slot === undefined) throw new Error(`node ${master.port} serves no slots`);
    let promoted: ClusterNode | undefined;
    await this.until(
      async () => {
        const now = await this.topology();
        const owner = now.find((v) => v.role === 'master' && v.port !== master.port && v.slots.some(([a, b]) => slot >= a && slot <= b));
        if (owner) promoted = this.node(owner.port);
        return owner !== undefined;
      },
      timeoutMs,
      `failover of ${master.port}`,
    );
    await this.waitForHealthy(timeoutMs);
    return promoted as ClusterNode;
  }

  /**
   * Moves one slot to `target` while clients keep using it: IMPORTING on the target, MIGRATING on
   * the source, MIGRATE of its keys in batches (clients get ASK meanwhile), then SETSLOT NODE on
   * every master. `pauseBetweenBatchesMs` stretches the migration so writes race it.
   */
  async migrateSlot(slot: number, target: ClusterNode, options: { batch?: number; pauseBetweenBatchesMs?: number } = {}): Promise<void> {
    const source = await this.masterOf(slot);
    if (source.port === target.port) return;
    const views = await this.topology();
    const sourceId = idOf(views, source.port);
    const targetId = idOf(views, target.port);
    const auth = this.password ? ['AUTH', this.password] : [];
    await this.command(target, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
    await this.command(source, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId);
    for (;;) {
      const keys = (await this.command(source, 'CLUSTER', 'GETKEYSINSLOT', slot, options.batch ?? 100)) as string[];
      if (keys.length === 0) break;
      await this.command(source, 'MIGRATE', target.host, target.port, '', 0, 5000, 'REPLACE', ...auth, 'KEYS', ...keys);
      if (options.pauseBetweenBatchesMs) await new Promise((r) => setTimeout(r, options.pauseBetweenBatchesMs));
    }
    // The target first, then the source, then everyone else (the order redis-cli uses).
    await this.command(target, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    await this.command(source, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
    for (const master of await this.masters()) {
      if (master.port !== source.port && master.port !== target.port) await this.command(master, 'CLUSTER', 'SETSLOT', slot, 'NODE', targetId).catch(() => undefined);
    }
  }

  /** Starts an empty node and joins it as a master without slots (CLUSTER MEET). */
  async addMaster(): Promise<ClusterNode> {
    const node = await this.launchNode();
    const anchor = this.nodes.find((n) => n !== node && n.running && !n.frozen) as ClusterNode;
    await this.command(node, 'CLUSTER', 'MEET', anchor.host, anchor.port, anchor.busPort);
    // Every running node must know every other before slots can be assigned to the new one.
    await this.until(
      async () => {
        const up = this.nodes.filter((n) => n.running && !n.frozen);
        for (const n of up) {
          const known = new Set((await this.topology(n)).filter((v) => !v.failing).map((v) => v.port));
          if (up.some((o) => !known.has(o.port))) return false;
        }
        return true;
      },
      10_000,
      `node ${node.port} to join`,
    );
    // A node that just joined reports the cluster down for a rejoin delay; it must accept slots first.
    await this.waitForHealthy();
    return node;
  }

  /** Moves `count` slots (taken evenly from the other masters) onto `target`, live, one by one. */
  async reshard(target: ClusterNode, count: number, options: { pauseBetweenSlotsMs?: number } = {}): Promise<number[]> {
    const views = (await this.topology()).filter((v) => v.role === 'master' && !v.failing && v.port !== target.port && v.slots.length > 0);
    const moved: number[] = [];
    for (let i = 0; moved.length < count && i < SLOTS; i++) {
      const donor = views[i % views.length] as ClusterNodeView;
      const slot = nthSlot(donor.slots, Math.floor(i / views.length));
      if (slot === undefined) continue;
      await this.migrateSlot(slot, target);
      moved.push(slot);
      if (options.pauseBetweenSlotsMs) await new Promise((r) => setTimeout(r, options.pauseBetweenSlotsMs));
    }
    return moved;
  }

  /**
   * Every running node reports cluster_state:ok, all slots are assigned, every replica is in sync, and
   * that view has held for `settleMs` (the node timeout by default). The settle window matters after a
   * restart on a loaded machine: a replica that saw its master fail may still win an election a moment
   * after the master is back, and clients then see MOVED while the nodes disagree.
   */
  async waitForHealthy(timeoutMs = 20_000, settleMs = this.options.nodeTimeoutMs): Promise<void> {
    let settled: { signature: string; since: number } | undefined;
    await this.until(
      async () => {
        const signature = await this.healthySignature();
        if (signature === undefined) {
          settled = undefined;
          return false;
        }
        if (settled?.signature !== signature) settled = { signature, since: Date.now() };
        return Date.now() - settled.since >= settleMs;
      },
      timeoutMs,
      'cluster to be healthy',
    );
  }

  /** The agreed topology when the cluster is healthy right now; undefined when it is not. */
  private async healthySignature(): Promise<string | undefined> {
    for (const node of this.nodes) {
      if (!node.running || node.frozen) continue;
      const info = (await this.command(node, 'CLUSTER', 'INFO')) as string;
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_assigned:16384/.test(info) || /cluster_slots_fail:[1-9]/.test(info)) return undefined;
      const replication = (await this.command(node, 'INFO', 'replication')) as string;
      if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return undefined;
    }
    // Every node agrees on who serves what, and no running node is thought failing.
    const up = this.nodes.filter((n) => n.running && !n.frozen);
    const views = await Promise.all(up.map((n) => this.topology(n)));
    if (views.some((v) => v.some((n) => n.failing && up.some((u) => u.port === n.port)))) return undefined;
    // Masters with their slots, and every replica with its master: gossip about a new replica
    // reaches the other nodes after it has synced.
    const signature = (v: ClusterNodeView[]) => {
      const portOf = new Map(v.map((n) => [n.id, n.port]));
      return v
        .filter((n) => !n.failing && (n.role === 'replica' || n.slots.length > 0))
        .map((n) => (n.role === 'master' ? `${n.port}:${JSON.stringify(n.slots)}` : `${n.port}>${portOf.get(n.masterId ?? '') ?? '?'}`))
        .sort()
        .join('|');
    };
    const agreed = signature(views[0] as ClusterNodeView[]);
    return views.every((v) => signature(v) === agreed) ? agreed : undefined;
  }

  /** FLUSHALL on every master: a clean cluster between tests without recreating it. */
  async flushAll(): Promise<void> {
    await Promise.all((await this.masters()).map((m) => this.command(m, 'FLUSHALL')));
  }

  /** Runs one command on one node (not cluster-aware). */
  async command(node: ClusterNode, ...args: (string | number)[]): Promise<unknown> {
    const client = node.connect(this.password);
    try {
      return await client.call(String(args[0]), ...args.slice(1).map(String));
    } finally {
      client.disconnect();
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
  }

  private async roleOf(node: ClusterNode): Promise<string> {
    const info = (await this.command(node, 'INFO', 'replication')) as string;
    return /role:master/.test(info) ? 'master' : 'replica';
  }

  private async launchNode(): Promise<ClusterNode> {
    const args = [
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(this.options.nodeTimeoutMs),
      '--cluster-require-full-coverage', this.options.requireFullCoverage ? 'yes' : 'no',
      '--save', '',
      '--appendonly', 'no',
      // A replica (re)joining syncs at once instead of after the default 5 s.
      '--repl-diskless-sync-delay', '0',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...(this.options.password ? ['--requirepass', this.options.password, '--masterauth', this.options.password] : []),
    ];
    // A port found free can be taken before redis-server binds it: try others.
    for (let attempt = 1; ; attempt++) {
      const node = new ClusterNode(await freePort(), await freePort(), args);
      try {
        await node.start();
        this.nodes.push(node);
        return node;
      } catch (error) {
        await node.dispose();
        if (attempt >= 3) throw error;
      }
    }
  }

  private cliAuth(): string[] {
    return this.password ? ['-a', this.password, '--no-auth-warning'] : [];
  }

  private async until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (error) {
        last = error;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
  }
}

export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slotSpecs] = line.split(' ');
      const flagList = (flags ?? '').split(',');
      const slots: [number, number][] = [];
      for (const spec of slotSpecs) {
        if (spec.startsWith('[')) continue; // a slot being migrated or imported
        const [a, b] = spec.split('-').map(Number);
        slots.push([a as number, (b ?? a) as number]);
      }
      return {
        id: id as string,
        port: Number((address ?? '').split('@')[0]?.split(':')[1]),
        role: flagList.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: masterId === '-' ? undefined : masterId,
        failing: flagList.some((f) => f === 'fail' || f === 'fail?' || f === 'noaddr' || f === 'handshake'),
        slots,
      };
    });
}

function idOf(views: ClusterNodeView[], port: number): string {
  const view = views.find((v) => v.port === port);
  if (!view) throw new Error(`node ${port} is not in the cluster`);
  return view.id;
}

function nthSlot(ranges: readonly [number, number][], n: number): number | undefined {
  let left = n;
  for (const [a, b] of ranges) {
    if (left <= b - a) return a + left;
    left -= b - a + 1;
  }
  return undefined;
}

function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.env.REDIS_CLI_BIN ?? 'redis-cli', args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.slice(0, 2).join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  // 'exit' does not run when a signal ends the process: kill the nodes, then let the signal do its work.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
