/** `npm run clean`: removes the build output (dist/). */
import { rmSync } from 'node:fs';
import { parseCli, runCli } from './cli-support.js';

const CLEAN_CLI = { usage: 'npm run clean', summary: 'Removes dist/, the output of npm run build.', options: {}, describe: {} } as const;

runCli('clean', async () => {
  parseCli(CLEAN_CLI);
  rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
});
