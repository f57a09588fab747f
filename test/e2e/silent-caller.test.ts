import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { repromptPrompt, silenceGoodbyePrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, count, lifecycleOf, operationContextOf, phoneNumber, startE2eStack } from './support.js';

/**
 * A caller who never says anything. Each recognize ends with the initial-silence timeout (8 s of real
 * time in the emulator, as the app asks ACS for), so this file takes about half a minute.
 */

const SILENCE_REPROMPTS = 2;

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack({ env: { SILENCE_REPROMPTS: String(SILENCE_REPROMPTS) } });
});

afterAll(async () => {
  await stack?.close();
});

describe('a silent caller', () => {
  it(`is re-prompted ${SILENCE_REPROMPTS} times, told goodbye, hung up on, and archived as caller_silent`, { timeout: 60_000 }, async () => {
    // Prepare
    const silences = Array.from({ length: SILENCE_REPROMPTS + 1 }, () => ({ silence: true as const, timeoutMs: 15_000 }));

    // Act
    const call = await stack.acs.placeCall({ from: phoneNumber(4001), to: APP_NUMBER, steps: silences }, { eventGridUrl: stack.eventGridUrl });
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: greeting and every re-prompt are recognizes that time out; the goodbye is a play, then the hang-up.
    expect(call.operations).toEqual(['answerCall', ...silences.map(() => 'recognize'), 'play', 'terminateCall']);
    expect(call.requests.filter((r) => r.operation === 'recognize').map(operationContextOf)).toEqual(['greeting', 'reprompt', 'reprompt']);
    expect(count(call.eventTypes, 'RecognizeFailed')).toBe(SILENCE_REPROMPTS + 1);
    expect(call.said).toEqual([]);
    expect(call.heardText.slice(1)).toEqual([repromptPrompt(1), repromptPrompt(2), silenceGoodbyePrompt()]);
    expect(call.endedBy).toBe('app');

    const callId = callIdForIncoming(call.serverCallId);
    const transcript = await (await archiveOf(stack)).transcripts.read(callId);
    expect(transcript!.header.outcome).toBe('caller_silent');
    expect(transcript!.turns.map((t) => t.role)).toEqual(['assistant', 'assistant', 'assistant', 'assistant']);
    expect(transcript!.turns.map((t) => t.meta?.kind)).toEqual(['greeting', 'reprompt', 'reprompt', 'silence-goodbye']);
    expect(output).toMatchObject({ endReason: 'disconnected', warnings: [] });
  });
});
