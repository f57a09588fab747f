import { readdirSync } from 'node:fs';
import { writeResult } from './lib.js';

/**
 * `npm run bench -- <name> [args]` runs bench/<name>.bench.ts and writes its JSON result to
 * bench/results/<name>.json. Without a name it lists the benchmarks.
 */
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [args]`);
  process.exit(name ? 2 : 0);
}

const bench = (await import(`./${name}.bench.ts`)) as { run(args: string[]): Promise<Record<string, unknown>> };
const result = await bench.run(args);
const file = writeResult(name, result);
console.log(`\nresults: ${file}`);
process.exit(0);
