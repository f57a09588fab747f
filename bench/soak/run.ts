/** The soak itself (see main.ts for what it does and its options). */
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatencyRecorder, printTable, round, writeResult } from '../lib.js';
import { runPopulation, type CallOutcome, type PopulationOptions } from './callers.js';
import { startSoakEnvironment, type SoakEnvironment } from './environment.js';
import { masterFailover, relayKill, type FaultRecord } from './faults.js';
import { verifyCalls } from './verify.js';
import type { AppStats } from './protocol.js';
import type { AppProcess } from './app-client.js';

export interface SoakOptions {
  readonly calls: number;
  readonly mediaCalls: number;
  readonly durationMs: number;
  readonly rampLoads: readonly number[];
  readonly rampMs: number;
  readonly questions: number;
  readonly thinkMs: number;
  readonly relays: number;
  /** RELAY_STANDBY for the media app's relays. */
  readonly relayStandby: boolean;
  readonly limitMs: number;
  readonly faults: boolean;
  readonly nodeTimeoutMs: number;
  /** Result file name under bench/results/. */
  readonly out: string;
}

interface PhaseResult {
  readonly phase: string;
  readonly callsLive: number;
  readonly mediaCallsLive: number;
  readonly calls: number;
  readonly waits: ReturnType<LatencyRecorder['summary']>;
  readonly mediaWaits?: ReturnType<LatencyRecorder['summary']>;
  readonly app: AppStats;
  readonly mediaApp?: AppStats;
  readonly driverLoopDelayP99Ms: number;
  readonly loadavgBefore: number[];
  readonly loadavgAfter: number[];
  readonly faults: FaultRecord[];
  /** Every change of the set of masters seen (planned by a fault or not), polled each second. */
  readonly masterChanges: { atS: number; masters: number[] }[];
}
/** Runs the ramp and the soak, checks every call, prints and writes the results; resolves to the exit status. */
export async function runSoak(options: SoakOptions): Promise<number> {
  const { calls, mediaCalls, durationMs, rampLoads, rampMs, questions, thinkMs, relays, relayStandby, limitMs, faults, nodeTimeoutMs } = options;
  const loadBefore = loadavg().map((l) => round(l, 2));
  console.log(`soak: ramp ${rampLoads.join(', ') || 'skipped'} (${rampMs / 1000} s each); soak ${calls} recognize/play + ${mediaCalls} media calls live for ${durationMs / 1000} s${faults ? ', master kill -9 and relay kill midway' : ', no faults'}`);
  console.log(`machine load (1/5/15 min) before: ${loadBefore.join(' / ')}`);

  const appLogFile = join(tmpdir(), `rtvoice-soak-app-${process.pid}.log`);
  console.log(`app log: ${appLogFile}`);
  const env = await startSoakEnvironment({ media: mediaCalls > 0, relays, relayStandby, speechMsPerChar: 10, speechMsPerWord: 60, nodeTimeoutMs, appLogFile });
  // Interrupted: the app processes, the Cosmos server and the cluster's redis-servers go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`soak: ${signal}, shutting down`);
      void env.close().finally(() => process.exit(130));
    });
  }
  const outcomes: CallOutcome[] = [];
  const phases: PhaseResult[] = [];
  let exitCode = 0;
  try {
    console.log(`app processes: recognize/play pid ${env.app.pid}${env.mediaApp ? `, media pid ${env.mediaApp.pid}` : ''}; Redis Cluster on ports ${env.cluster.nodes.map((n) => n.port).join(', ')}`);
    const population = (phase: string, path: PopulationOptions['path'], concurrency: number, ms: number): PopulationOptions => ({
      acs: env.acs,
      eventGridUrl: (path === 'media' ? (env.mediaApp as AppProcess) : env.app).eventGridUrl,
      phase,
      path,
      concurrency,
      durationMs: ms,
      questions,
      thinkMs,
      staggerMs: Math.min(5_000, ms / 4),
    });

    // Warm-up: JIT, connections, containers; its calls are checked like the others.
    await runPhase(env, 'warm-up', [population('warm-up', 'recognize', 5, 3_000)], [], outcomes);

    let passedAt: number | undefined;
    for (const load of rampLoads) {
      const result = await runPhase(env, `ramp ${load}`, [population(`ramp-${load}`, 'recognize', load, rampMs)], [], outcomes);
      phases.push(result);
      if (result.waits.p99Ms > limitMs) {
        passedAt = load;
        break;
      }
    }

    const soakPopulations = [population('soak', 'recognize', calls, durationMs), ...(mediaCalls > 0 ? [population('soak', 'media', mediaCalls, durationMs)] : [])];
    const scheduled = faults
      ? [
          { atMs: durationMs / 4, run: () => masterFailover(env.cluster) },
          ...(mediaCalls > 0 ? [{ atMs: durationMs / 2, run: () => relayKill(env.mediaApp as AppProcess) }] : []),
        ]
      : [];
    phases.push(await runPhase(env, 'soak', soakPopulations, scheduled, outcomes));

    console.log('\nverifying every call in Cosmos DB…');
    const statuses = async (ids: readonly string[]) => ({ ...(await env.mediaApp?.statuses(ids)), ...pickKnown(await env.app.statuses(ids)) });
    const { summary, checks } = await verifyCalls(env.archive, statuses, outcomes, { timeoutMs: 90_000 });

    console.log('\nphases (waits: caller spoke or connected → the agent\'s next prompt reached ACS; media: end of speech → first agent audio)');
    printTable(phases.map(phaseRow));
    const faultRows = phases.flatMap((p) => p.faults);
    if (faultRows.length > 0) {
      console.log('\nfaults');
      printTable(faultRows.map((f) => ({ fault: f.fault, atS: round(f.atMs / 1000, 1), detail: f.detail, recoveredMs: f.recoveredMs ?? '' })));
    }
    const byPhase = [...new Set(checks.map((c) => `${c.phase}/${c.path}`))].map((key) => {
      const rows = checks.filter((c) => `${c.phase}/${c.path}` === key);
      return {
        phase: key,
        calls: rows.length,
        saidTurns: rows.reduce((n, c) => n + c.saidTurns, 0),
        archivedCallerTurns: rows.reduce((n, c) => n + c.archivedCallerTurns, 0),
        lost: rows.reduce((n, c) => n + c.lostTurns, 0),
        duplicated: rows.reduce((n, c) => n + c.duplicatedTurns, 0),
        callsWithProblems: rows.filter((c) => c.problems.length > 0).length,
      };
    });
    console.log('\nchecks');
    printTable(byPhase);
    for (const problem of summary.problems) console.log(`  ✘ ${problem}`);
    if (summary.callsWithProblems > 0) {
      console.log('\nproblems by kind (calls)');
      printTable(Object.entries(summary.problemKinds).slice(0, 20).map(([kind, calls]) => ({ calls, kind: kind.slice(0, 150) })));
    }
    const faultImpact = faultRows.map((f) => {
      const live = outcomes.filter((o) => o.startedAt <= f.toWallMs && o.startedAt + o.durationMs >= f.fromWallMs).map((o) => o.callId);
      const hit = checks.filter((c) => live.includes(c.callId));
      return { fault: f.fault, callsLive: hit.length, callsWithProblems: hit.filter((c) => c.problems.length > 0).length, lost: hit.reduce((n, c) => n + c.lostTurns, 0), duplicated: hit.reduce((n, c) => n + c.duplicatedTurns, 0) };
    });
    if (faultImpact.length > 0) {
      console.log('\ncalls live during each fault');
      printTable(faultImpact);
    }
    const appErrors = { recognize: env.app.errors(), ...(env.mediaApp ? { media: env.mediaApp.errors() } : {}) };
    const errorRows = Object.entries(appErrors).flatMap(([app, byMessage]) => Object.entries(byMessage).map(([message, count]) => ({ app, count, message: message.slice(0, 140) })));
    if (errorRows.length > 0) {
      console.log(`\napp errors logged (full log: ${appLogFile})`);
      printTable(errorRows.sort((a, b) => b.count - a.count).slice(0, 15));
    }

    const threshold = passedAt === undefined
      ? rampLoads.length > 0
        ? `caller p99 wait stayed ≤ ${limitMs} ms up to ${rampLoads.at(-1)} calls per app process`
        : 'not measured (--no-ramp)'
      : `caller p99 wait passes ${limitMs} ms at ${passedAt} calls per app process`;
    const loadAfter = loadavg().map((l) => round(l, 2));
    console.log(`\n${threshold}`);
    console.log(`machine load (1/5/15 min) after: ${loadAfter.join(' / ')}`);
    // A fault that could not be injected (or a relay that could not be restarted) fails the run too.
    const faultFailures = faultRows.filter((f) => f.fault === 'fault injection failed' || f.detail.includes('no replacement could start'));
    for (const f of faultFailures) console.log(`  ✘ ${f.fault}: ${f.detail}`);
    const ok = summary.callsWithProblems === 0 && summary.lostTurns === 0 && summary.duplicatedTurns === 0 && summary.calls > 0 && faultFailures.length === 0;
    console.log(ok ? `PASS: ${summary.calls} calls, ${summary.saidTurns} caller turns said = ${summary.archivedCallerTurns} archived; 0 lost, 0 duplicated` : `FAIL: ${summary.callsWithProblems} of ${summary.calls} calls have problems; ${summary.lostTurns} turns lost, ${summary.duplicatedTurns} duplicated`);
    exitCode = ok ? 0 : 1;

    const file = writeResult(options.out, {
      parameters: { calls, mediaCalls, durationMs, rampLoads, rampMs, questions, thinkMs, relays, relayStandby, realtimeTailTranscription: 'unintelligible', faults, nodeTimeoutMs, p99LimitMs: limitMs, redis: 'local Redis Cluster, 3 masters + 3 replicas' },
      loadavgBefore: loadBefore,
      loadavgAfter: loadAfter,
      p99PassesLimitAtCallsPerAppProcess: passedAt ?? null,
      threshold,
      phases,
      checks: { ...summary, byPhase },
      faultImpact,
      appErrors,
      pass: ok,
    });
    console.log(`results: ${file}`);
  } finally {
    await env.close();
  }
  return exitCode;
}

interface Scheduled {
  readonly atMs: number;
  run(): Promise<FaultRecord>;
}

/** Runs populations together (and faults at their times), and measures the app process and this one meanwhile. */
async function runPhase(env: SoakEnvironment, label: string, populations: PopulationOptions[], scheduled: Scheduled[], outcomes: CallOutcome[]): Promise<PhaseResult> {
  const loadavgBefore = loadavg().map((l) => round(l, 2));
  const driverLoop = monitorEventLoopDelay({ resolution: 10 });
  driverLoop.enable();
  await env.app.stats(true);
  await env.mediaApp?.stats(true);
  const started = performance.now();
  const faults: FaultRecord[] = [];
  const masterChanges = watchMasters(env, started);
  const runFault = async (s: Scheduled): Promise<void> => {
    const record = await s.run().catch((error: unknown): FaultRecord => {
      const now = performance.now();
      return { fault: 'fault injection failed', atMs: now, fromWallMs: Date.now(), toWallMs: Date.now(), detail: (error as Error).message };
    });
    faults.push({ ...record, atMs: record.atMs - started });
    console.log(`  ${label}: ${record.fault} at ${round((record.atMs - started) / 1000, 1)} s: ${record.detail}${record.recoveredMs === undefined ? '' : `, recovered in ${record.recoveredMs} ms`}`);
  };
  // One fault at a time, so each one's effect can be told apart: a fault starts at its time, and
  // not before the one before it has recovered and 3 s have passed.
  const faultRuns = (async () => {
    for (const s of scheduled) {
      const wait = Math.max(started + s.atMs - performance.now(), faults.length > 0 ? 3_000 : 0);
      await new Promise((resolve) => setTimeout(resolve, wait));
      await runFault(s);
    }
  })();

  let done = 0;
  const results = await Promise.all(
    populations.map((p) =>
      runPopulation({
        ...p,
        onOutcome: () => {
          done += 1;
          if (done % 100 === 0) console.log(`  ${label}: ${done} calls done`);
        },
      }),
    ),
  );
  await faultRuns;
  masterChanges.stop();
  driverLoop.disable();
  const app = await env.app.stats();
  const mediaApp = await env.mediaApp?.stats();
  const phaseOutcomes = results.flat();
  outcomes.push(...phaseOutcomes);
  const waits = new LatencyRecorder();
  const mediaWaits = new LatencyRecorder();
  for (const o of phaseOutcomes) for (const ms of o.waitsMs) (o.path === 'media' ? mediaWaits : waits).recordMs(ms);
  const result: PhaseResult = {
    phase: label,
    callsLive: populations.filter((p) => p.path === 'recognize').reduce((n, p) => n + p.concurrency, 0),
    mediaCallsLive: populations.filter((p) => p.path === 'media').reduce((n, p) => n + p.concurrency, 0),
    calls: phaseOutcomes.length,
    waits: waits.summary(),
    ...(mediaWaits.count > 0 ? { mediaWaits: mediaWaits.summary() } : {}),
    app,
    ...(mediaApp ? { mediaApp } : {}),
    driverLoopDelayP99Ms: round(driverLoop.percentile(99) / 1e6, 1),
    loadavgBefore,
    loadavgAfter: loadavg().map((l) => round(l, 2)),
    faults,
    masterChanges: masterChanges.changes,
  };
  for (const change of result.masterChanges) console.log(`  ${label}: masters became ${change.masters.join(', ')} at ${change.atS} s`);
  console.log(`  ${label}: ${result.calls} calls, caller wait p50 ${result.waits.p50Ms} ms / p99 ${result.waits.p99Ms} ms; app CPU ${result.app.cpuShare} core, loop p99 ${result.app.loopDelayP99Ms} ms`);
  return result;
}

/** Polls the cluster's masters every second and records each change of the set. */
function watchMasters(env: SoakEnvironment, startedAt: number): { changes: { atS: number; masters: number[] }[]; stop(): void } {
  const changes: { atS: number; masters: number[] }[] = [];
  let last: string | undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    env.cluster
      .masters()
      .then((masters) => {
        const ports = masters.map((m) => m.port).sort((a, b) => a - b);
        const signature = ports.join(',');
        if (last !== undefined && signature !== last) changes.push({ atS: round((performance.now() - startedAt) / 1000, 1), masters: ports });
        last = signature;
      })
      .catch(() => undefined) // a node mid-restart: the next poll sees the outcome
      .finally(() => (busy = false));
  }, 1000);
  return { changes, stop: () => clearInterval(timer) };
}

function phaseRow(p: PhaseResult): Record<string, unknown> {
  return {
    phase: p.phase,
    live: p.mediaCallsLive > 0 ? `${p.callsLive}+${p.mediaCallsLive}m` : p.callsLive,
    calls: p.calls,
    waitP50Ms: p.waits.p50Ms,
    waitP99Ms: p.waits.p99Ms,
    waitMaxMs: p.waits.maxMs,
    mediaP50Ms: p.mediaWaits?.p50Ms ?? '',
    mediaP99Ms: p.mediaWaits?.p99Ms ?? '',
    appCpuCores: p.app.cpuShare,
    appLoopP99Ms: p.app.loopDelayP99Ms,
    appRssMb: p.app.rssMb,
    mediaAppCpuCores: p.mediaApp?.cpuShare ?? '',
    driverLoopP99Ms: p.driverLoopDelayP99Ms,
    masterChanges: p.masterChanges.length,
    load1m: `${p.loadavgBefore[0]}→${p.loadavgAfter[0]}`,
  };
}

/** Statuses the recognize app knows (it answers 'unknown' for the media app's instances). */
function pickKnown(statuses: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(statuses).filter(([, status]) => status !== 'unknown'));
}
