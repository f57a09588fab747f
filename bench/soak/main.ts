/**
 * `npm run soak [-- --help]`: whole scripted calls, many at once, through the offline stack on a
 * local Redis Cluster, with the app (dev host + function registrations + relays) in a process of its
 * own. Two phases:
 *
 * 1. ramp: recognize/play calls only, no faults, at rising loads (calls live at once per app
 *    process); the caller's p99 wait at each load, and the first load at which it passes 1 s;
 * 2. soak: `--calls` recognize/play and `--media-calls` media calls live at once for `--duration`,
 *    with a master killed (kill -9, its replica promoted, the old master restarted empty as a
 *    replica) and the relay owning the most media calls terminated in the middle.
 *
 * Every call of both phases is then checked in Cosmos DB: archived exactly once, with the caller
 * turns equal to what the caller said (0 lost, 0 duplicated). Prints tables, writes
 * bench/results/soak.json, and exits 1 when any check fails.
 */
import { parseArgs } from 'node:util';
import type { SoakOptions } from './run.js';

const HELP = `usage: npm run soak -- [options]

Whole scripted calls through the offline stack (ACS emulator callers, the dev host with the app's
function registrations, relays, Web PubSub and realtime emulators, embedded Cosmos DB) on a local
Redis Cluster (3 masters + 3 replicas). The app runs in a child process of its own.

  --calls N           recognize/play calls live at once during the soak (default 200)
  --media-calls N     media-path calls live at once during the soak (default 50; 0 = none)
  --duration S        seconds during which callers keep placing calls in the soak (default 45)
  --ramp LIST         loads (calls per app process) for the ramp, comma-separated (default 50,100,200,300,400)
  --ramp-seconds S    seconds per ramp load (default 20)
  --no-ramp           skip the ramp
  --no-faults         no master failover and no relay kill
  --questions N       caller questions per call (default 3, plus the goodbye on the recognize path)
  --think-ms MS       the caller's pause before answering each prompt (default 800)
  --relays N          relays in the media app process (default 2)
  --no-standby        the media relays run without RELAY_STANDBY (on by default: a standby relay per call)
  --node-timeout-ms MS  cluster-node-timeout (default 3000: a loaded machine does not fail masters over by itself)
  --p99-limit-ms MS   the caller wait the ramp looks for (default 1000)
  --out NAME          result file bench/results/NAME.json (default soak)
  --help              this text

Exit status: 0 when every call was archived exactly once with every caller turn, 1 otherwise.`;
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '200' },
      'media-calls': { type: 'string', default: '50' },
      duration: { type: 'string', default: '45' },
      ramp: { type: 'string', default: '50,100,200,300,400' },
      'ramp-seconds': { type: 'string', default: '20' },
      'no-ramp': { type: 'boolean', default: false },
      'no-faults': { type: 'boolean', default: false },
      questions: { type: 'string', default: '3' },
      'think-ms': { type: 'string', default: '800' },
      relays: { type: 'string', default: '2' },
      'no-standby': { type: 'boolean', default: false },
      'node-timeout-ms': { type: 'string', default: '3000' },
      'p99-limit-ms': { type: 'string', default: '1000' },
      out: { type: 'string', default: 'soak' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const calls = positiveInt(values.calls, '--calls');
  const mediaCalls = nonNegativeInt(values['media-calls'], '--media-calls');
  const durationMs = positiveInt(values.duration, '--duration') * 1000;
  const rampLoads = values['no-ramp'] ? [] : values.ramp.split(',').map((v) => positiveInt(v.trim(), '--ramp'));
  const rampMs = positiveInt(values['ramp-seconds'], '--ramp-seconds') * 1000;
  const questions = positiveInt(values.questions, '--questions');
  const thinkMs = nonNegativeInt(values['think-ms'], '--think-ms');
  const relays = positiveInt(values.relays, '--relays');
  const limitMs = positiveInt(values['p99-limit-ms'], '--p99-limit-ms');
  const faults = !values['no-faults'];
  const nodeTimeoutMs = positiveInt(values['node-timeout-ms'], '--node-timeout-ms');
  const relayStandby = !values['no-standby'];
  const options: SoakOptions = { calls, mediaCalls, durationMs, rampLoads, rampMs, questions, thinkMs, relays, relayStandby, limitMs, faults, nodeTimeoutMs, out: values.out };
  // Loaded only now: --help and a bad flag answer at once, without loading the whole stack.
  const { runSoak } = await import('./run.js');
  return runSoak(options);
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number ≥ 1, not "${value}"`);
  return n;
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} takes a whole number ≥ 0, not "${value}"`);
  return n;
}

class UsageError extends Error {}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`soak: ${(error as Error).message}\n\n${HELP}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
