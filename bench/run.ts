import { readdirSync } from 'node:fs';
import { failedBudgets, machineLoad, writeResult } from './lib.js';

/**
 * `npm run bench -- <name> [args]` runs bench/<name>.bench.ts and writes its JSON result to
 * bench/results/<name>.json, with the machine's load before and after (load averages, CPU steal).
 * It exits 1 when a budget of the benchmark failed, 2 on a usage error. Without a name it lists them.
 */
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();

const usage = `usage: npm run bench -- <${available.join('|')}> [args]

Runs one benchmark, prints its table and writes bench/results/<name>.json with the machine and its load
(load averages, CPU steal before and after). Exits 1 when one of its budgets failed.
Benchmark arguments: state [--closed-ms N --open-seconds N], archive [--endpoint <url> --key <key>],
wps [--calls 100 --fps 50 --seconds 10 --relays 4 --in-process],
callbacks [--calls 50 --turns 10 --interval-ms 1000 --waves 3 --loads serial,open,closed], relay [--calls 100,300,500 --seconds 8 --fps 50 --no-direct],
coldstart [--runs 15 --budget-ms N (stricter only)]. See README "Benchmarks". --help prints this.`;

const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  console.log(usage);
  process.exit(0);
}
if (!available.includes(name)) {
  console.error(`bench: no benchmark "${name}" (${available.join(', ')}); see --help`);
  process.exit(2);
}
if (args.includes('--help')) {
  console.log(usage);
  process.exit(0);
}

const before = await machineLoad();
const bench = (await import(`./${name}.bench.ts`)) as { run(args: string[]): Promise<Record<string, unknown>> };
const result = await bench.run(args);
const after = await machineLoad();
const file = writeResult(name, result, { before, after });
const steal = (l: typeof before) => (l.stealPercent === undefined ? 'n/a' : `${l.stealPercent} %`);
console.log(`\nmachine load: 1-min average ${before.loadAverage[0]} → ${after.loadAverage[0]}, CPU steal ${steal(before)} → ${steal(after)}`);
console.log(`results: ${file}`);
const failed = failedBudgets(result);
if (failed.length > 0) {
  console.error(`\nbudget failed:\n  ${failed.join('\n  ')}`);
  process.exit(1);
}
process.exit(0);
