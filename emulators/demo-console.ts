/**
 * `npm run demo -- --console`: the offline stack on the real-time media path stays up with the
 * operations console, and a scripted caller phones in again and again (a new call every few seconds
 * after the last one ends) until Ctrl-C. Open the printed URL to watch calls, transcripts, baselines
 * and latency by stage.
 */

import type { CallerStep } from './acs/index.js';
import { startOfflineStack, type OfflineStack } from './offline-stack.js';
import { consoleLogger } from '../src/lib/telemetry/logger.js';

const SAY_MS = 1_200;

/** The scripted caller of the console demo and its browser tests: two questions, a barge-in, goodbye. */
export const CONSOLE_DEMO_STEPS: readonly CallerStep[] = [
  { waitFor: 'greeting', quietMs: 600, timeoutMs: 15_000 },
  { say: 'What are your opening hours on Saturday', audioMs: SAY_MS },
  { waitFor: 'agentSilence', quietMs: 1_000, timeoutMs: 15_000 },
  { say: 'I would like to know where my order is', audioMs: SAY_MS },
  { bargeInAfterMs: 700, say: 'Sorry, actually it is about my bill', audioMs: SAY_MS },
  { waitFor: 'agentSilence', quietMs: 1_000, timeoutMs: 15_000 },
  { say: 'Thanks, that is all, goodbye', audioMs: SAY_MS },
  { waitFor: 'agentSilence', quietMs: 3_000, timeoutMs: 15_000 },
];

export async function startConsoleStack(): Promise<{ stack: OfflineStack; consoleUrl: string }> {
  const stack = await startOfflineStack({
    logger: consoleLogger('error', { component: 'demo-console' }),
    env: { LOG_LEVEL: 'error' },
    media: { realtime: { speechMsPerWord: 180 } },
  });
  return { stack, consoleUrl: `${stack.host.baseUrl}/api/console?code=${stack.host.keys.function}` };
}

/** Places one scripted media call; resolves when it has ended. */
export async function placeConsoleDemoCall(stack: OfflineStack, from = '+15550100123'): Promise<void> {
  await stack.acs.placeCall({ from, to: '+15550100000', steps: [...CONSOLE_DEMO_STEPS] }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 60_000 });
}

export async function runConsoleDemo(): Promise<number> {
  const { stack, consoleUrl } = await startConsoleStack();
  console.log(`Operations console: ${consoleUrl}`);
  console.log('A scripted caller phones in every few seconds; Ctrl-C stops the stack.');
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      stopping = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const calls = (async () => {
    for (let n = 1; !stopping; n += 1) {
      await placeConsoleDemoCall(stack).catch((error: unknown) => console.error(`call ${n} failed: ${(error as Error).message}`));
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, 4_000));
    }
  })();
  await stopped;
  console.log('stopping…');
  await Promise.race([calls, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  await stack.close();
  return 0;
}
