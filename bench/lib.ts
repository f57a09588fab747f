import type { MessageMeter } from '../emulators/webpubsub/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import * as hdr from 'hdr-histogram-js';

/** Microsecond-resolution latency recorder; percentiles are reported in milliseconds. */
export class LatencyRecorder {
  private readonly histogram = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): { count: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; meanMs: number } {
    const at = (p: number) => round(this.histogram.getValueAtPercentile(p) / 1000);
    return { count: this.histogram.totalCount, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs: round(this.histogram.maxValue / 1000), meanMs: round(this.histogram.mean / 1000) };
  }
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function machine(): Record<string, unknown> {
  return { node: process.version, platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model };
}

/** How busy the machine was around a run: what makes a figure from a shared VM comparable or not. */
export interface MachineLoad {
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: readonly number[];
  /** Share of CPU time the hypervisor gave to other guests over `sampleMs` (Linux /proc/stat); undefined elsewhere. */
  readonly stealPercent: number | undefined;
  /** Share of CPU time busy (not idle or iowait) over the same window. */
  readonly busyPercent: number | undefined;
  readonly sampleMs: number;
}

/** CPU counters of the `cpu` line of /proc/stat: total and its steal and idle parts, in clock ticks. */
export function cpuTimes(stat: string): { total: number; steal: number; idle: number } | undefined {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already inside user and nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, steal, idle: idle + iowait };
}

function readCpuTimes(): ReturnType<typeof cpuTimes> {
  try {
    return cpuTimes(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Load averages now, and CPU steal and busy share over the next `sampleMs`. */
export async function machineLoad(sampleMs = 1_000): Promise<MachineLoad> {
  const before = readCpuTimes();
  await sleep(sampleMs);
  const after = readCpuTimes();
  const ticks = before && after ? after.total - before.total : 0;
  const share = (part: number) => (ticks > 0 ? round((part / ticks) * 100, 1) : undefined);
  return {
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    stealPercent: before && after ? share(after.steal - before.steal) : undefined,
    busyPercent: before && after ? share(ticks - (after.idle - before.idle)) : undefined,
    sampleMs,
  };
}

/** A budget a benchmark judges itself on; `npm run bench` exits non-zero when one fails. */
export interface Budget {
  readonly value: unknown;
  readonly budget: string;
  readonly pass: boolean;
}

/** The failed budgets of a result (`budgets: {name: Budget}`). */
export function failedBudgets(result: Record<string, unknown>): string[] {
  const budgets = (result.budgets ?? {}) as Record<string, Budget>;
  return Object.entries(budgets)
    .filter(([, b]) => b.pass === false)
    .map(([name, b]) => `${name}: ${JSON.stringify(b.value)} against ${b.budget}`);
}

export function writeResult(name: string, result: Record<string, unknown>, load?: { before: MachineLoad; after: MachineLoad }): string {
  // BENCH_RESULTS_DIR keeps a trial run (e.g. a test's) away from the committed results.
  const dir = process.env.BENCH_RESULTS_DIR ? pathToFileURL(`${process.env.BENCH_RESULTS_DIR.replace(/\/+$/, '')}/`) : new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  writeFileSync(file, `${JSON.stringify({ benchmark: name, time: new Date().toISOString(), machine: { ...machine(), ...(load ? { load } : {}) }, ...result }, null, 2)}\n`);
  return file.pathname;
}

/** A readable table on stdout. */
export function printTable(rows: readonly Record<string, unknown>[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] ?? {});
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i] ?? 0)).join('  ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

/** user+system CPU time of a process in ms, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface EmulatorProcess {
  readonly connectionString: string;
  readonly pid: number | undefined;
  /** The emulator's message meter (inbound, outbound, billed 2 KB units), over IPC. */
  meter(): Promise<MessageMeter>;
  stop(): Promise<void>;
}

/** The Web PubSub emulator in its own process, started the way `npm run emulators` would, with one hub. */
export async function startWebPubSubEmulatorProcess(hub: string): Promise<EmulatorProcess> {
  const main = fileURLToPath(new URL('../emulators/webpubsub/main.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main, '--json', '--hub', hub], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
  });
  const { connectionString } = JSON.parse(first) as { connectionString: string };
  return {
    connectionString,
    pid: child.pid,
    meter: () =>
      new Promise<MessageMeter>((resolve) => {
        child.once('message', (m) => resolve(m as MessageMeter));
        child.send('meter');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
