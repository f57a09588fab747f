/**
 * Child process of test/deploy/package.test.ts: the dev host serving the functions of an extracted
 * deployment package (RTVOICE_APP_DIR), whose own modules resolve only its production node_modules.
 * Prints one JSON line with the host's URL, key and served functions; closes when stdin ends.
 */
import { join } from 'node:path';
import { startDevHost } from '../../emulators/devhost/index.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';

const appDir = process.env.RTVOICE_APP_DIR;
if (!appDir) throw new Error('RTVOICE_APP_DIR is not set');

const host = await startDevHost({
  functionsDir: join(appDir, 'dist', 'src', 'functions'),
  logger: consoleLogger('error', { component: 'package-host' }),
  // The app reads its callback base URL on first use; it is this host's own address.
  onListening: (baseUrl) => {
    process.env.ACS_CALLBACK_BASE_URL = baseUrl;
  },
});
process.stdout.write(`${JSON.stringify({ baseUrl: host.baseUrl, functionKey: host.keys.function, served: Object.fromEntries(host.served) })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void host.close().finally(() => process.exit(0));
});
