/**
 * `npm run agent:test [scenario]`: plays every scripted conversation of the scenarios under
 * `agents/` (or of the one named) as phone calls on the offline stack, through the real function
 * handlers, on the recognize/play path and on the media path (`--path` picks one), and prints a
 * pass/fail table. Exits 0 only when every conversation passed.
 */
import { loadAgentCatalog } from '../src/lib/agents/index.js';
import { consoleLogger } from '../src/lib/telemetry/logger.js';
import { playConversation, resultTable, startConversationStack, type ConversationPath, type ConversationResult } from './agent-conversations.js';
import { startClaimsApi } from './claims-api.js';
import { parseCli, runCli, UsageError } from './cli-support.js';

const AGENT_TEST_CLI = {
  usage: 'npm run agent:test -- [scenario] [--path both|recognize|media]',
  summary:
    'Plays every scripted conversation of the scenarios under agents/ (or of the one named) as phone calls on the offline stack,\n' +
    'through the real function handlers, prints a pass/fail table, and exits 0 only when every conversation passed.',
  options: { path: { type: 'string', default: 'both' } },
  describe: { path: 'both: the recognize/play path, then the media path (Web PubSub → relay → realtime emulator); or only one of them' },
  positionals: true,
} as const;

const PATHS: Readonly<Record<string, readonly ConversationPath[]>> = { both: ['recognize/play', 'media'], recognize: ['recognize/play'], media: ['media'] };

async function main(): Promise<number> {
  const { positionals, values } = parseCli(AGENT_TEST_CLI);
  const only = positionals[0];
  const paths = PATHS[values.path];
  if (!paths) throw new UsageError(`--path expects both, recognize or media, got "${values.path}"`);
  const claims = await startClaimsApi();
  const env = { CLAIMS_API_URL: claims.url, LOG_LEVEL: 'error' };
  try {
    const catalog = await loadAgentCatalog('agents', { settings: { ...process.env, ...env, TRANSFER_TARGET_NUMBER: '+15550100999' } });
    if (only && !catalog.scenario(only)) {
      console.error(`no scenario "${only}" (scenarios: ${[...catalog.scenarios.keys()].join(', ')})`);
      return 2;
    }
    const results: ConversationResult[] = [];
    for (const path of paths) {
      const stack = await startConversationStack(catalog, path, { env, speechMsPerChar: 1, logger: consoleLogger('error', { component: 'agent-test' }) });
      try {
        for (const loaded of catalog.scenarios.values()) {
          if (only && loaded.scenario.name !== only) continue;
          for (const test of loaded.scenario.tests) {
            const result = await playConversation(stack, catalog, loaded, test);
            console.log(`${result.passed ? '✔' : '✘'} ${loaded.scenario.name} (${path}): ${test.name}`);
            results.push(result);
          }
        }
      } finally {
        await stack.close();
      }
    }
    console.log(`\n${resultTable(results)}\n`);
    const passed = results.filter((r) => r.passed).length;
    console.log(`${passed} of ${results.length} conversations passed`);
    return results.length > 0 && passed === results.length ? 0 : 1;
  } finally {
    await claims.close();
  }
}

runCli('agent:test', main);
