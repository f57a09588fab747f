import { inject } from 'vitest';
import { startOfflineStack, type OfflineMediaOptions, type OfflineStack, type OfflineStackOptions } from '../../emulators/offline-stack.js';
import type { CallerStep } from '../../emulators/acs/index.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { onCluster } from '../support/topology.js';

/**
 * The realtime media path offline: ACS emulator → Web PubSub emulator → relay(s) → Azure OpenAI realtime
 * emulator and back, with the dev host serving the app's real registrations (incomingCall, callEvents,
 * the webPubSubTrigger functions, the lifecycle orchestration). Real sockets and SDKs everywhere.
 */
export async function startMediaStack(media: OfflineMediaOptions = {}, options: OfflineStackOptions = {}): Promise<OfflineStack> {
  return startOfflineStack({
    redis: { host: inject('redisHost'), port: inject('redisPort'), cluster: onCluster() },
    env: { LOG_LEVEL: 'error' },
    logger: consoleLogger('error', { component: 'media-e2e' }),
    ...options,
    // Shorter words keep the test quick; audio is still paced in real time on both sides.
    media: { realtime: { speechMsPerWord: 60 }, ...media },
  });
}

/** A question, then wait until the agent has answered and gone quiet. */
export function ask(say: string): CallerStep[] {
  // quietMs spans the VAD's 500 ms end-of-speech window and the relay's first coalesced message (140 ms
  // of a model that streams at real time, as the emulator does), so the wait does not end before the
  // answer starts.
  return [{ say, audioMs: 400 }, { waitFor: 'agentSilence', quietMs: 900, timeoutMs: 10_000 }];
}

export const CALLER = '+15550107001';
export const APP_NUMBER = '+15550100000';

/** What the realtime emulator's default responder answers to a caller's words. */
export function echoAnswer(question: string): string {
  return `You said: ${question.replace(/[.!?]+$/, '')}.`;
}

/** The transcript of a whole call that asked `questions`: the greeting, then each question and its echoed answer. */
export function wholeCall(questions: readonly string[]): string[][] {
  return [['assistant', greetingPrompt()], ...questions.flatMap((q) => [['user', q], ['assistant', echoAnswer(q)]])];
}
