/**
 * `npm run verify:azure -- [--env NAME] [--env-file FILE] [--credential default|managed] [--json]`
 *
 * A live check of a deployed environment, read from `azd env get-values` (or a file in that format):
 * the health endpoint, Redis with Entra ID in cluster mode, a Cosmos DB write and read, the Web PubSub
 * media path as ACS uses it, the Event Grid IncomingCall subscription, and the function keys. Exits 1
 * when any check fails; every failure says why.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAzdEnv } from './azd-env.js';
import { report, verifyEnvironment } from './verify-azure/run.js';

const { values } = parseArgs({
  options: {
    env: { type: 'string' },
    'env-file': { type: 'string' },
    credential: { type: 'string', default: 'default' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run verify:azure -- [--env NAME] [--env-file FILE] [--credential default|managed] [--json]');
  process.exit(0);
}

try {
  const text = values['env-file']
    ? readFileSync(values['env-file'], 'utf8')
    : execFileSync('azd', ['env', 'get-values', ...(values.env ? ['-e', values.env] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const env = parseAzdEnv(text);
  const identity = await import('@azure/identity');
  const credential =
    values.credential === 'managed' ? new identity.ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID ?? '' }) : new identity.DefaultAzureCredential();
  const results = await verifyEnvironment(env, credential);
  console.log(values.json ? JSON.stringify(results, null, 2) : report(results));
  process.exit(results.every((r) => r.ok) ? 0 : 1);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  console.error(`verify:azure: ${e.code === 'ENOENT' ? 'azd is not installed (or pass --env-file)' : e.message}`);
  process.exit(1);
}
