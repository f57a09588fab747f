import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { BUILT_IN_PROMPTS } from '../../src/lib/agents/call-core.js';
import { utcDay } from '../../src/lib/archive/ids.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { AzureOpenAIStandIn, slow, textReply } from '../agent/aoai-server.js';
import { APP_NUMBER, archiveOf, lifecycleOf, operationContextOf, phoneNumber, standInModelSettings, startE2eStack } from './support.js';

/**
 * A model that stalls. The caller must not wait for it: when the turn's budget (TURN_BUDGET_MS) runs
 * out, the caller hears the apology, the turn is recorded as timed out, and the call goes on. The model
 * is the Azure OpenAI stand-in (Azure OpenAI cannot run offline), answering far later than the budget;
 * the SDK under test is the real one, over a socket.
 */

const TURN_BUDGET_MS = 1_000;
const MODEL_DELAY_MS = 5_000;

let stack: OfflineStack;
let model: AzureOpenAIStandIn;

beforeAll(async () => {
  model = await AzureOpenAIStandIn.start();
  stack = await startE2eStack({ env: { ...standInModelSettings(model.endpoint), TURN_BUDGET_MS: String(TURN_BUDGET_MS) } });
});

afterAll(async () => {
  await stack?.close();
  await model?.close();
});

describe('a turn whose model stalls past the turn budget', () => {
  it('apologises within the budget, records the turn as timed out, and carries on with the call', { timeout: 30_000 }, async () => {
    // Prepare: the first answer comes long after the budget; the next one at once.
    model.script(slow(textReply('We open at nine.'), MODEL_DELAY_MS), textReply('You are welcome, goodbye.'));

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8701), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'When do you open?' }, { say: 'Thank you' }, { pause: 200 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the apology was asked for once the budget ran out, well before the model would have answered.
    const turn = call.events.find((e) => e.type === 'RecognizeCompleted');
    const turnRecognizes = call.requests.filter((r) => r.operation === 'recognize' && operationContextOf(r) === 'turn');
    expect(turn?.attempts.map((a) => a.status)).toEqual([200]);
    const waitedMs = turnRecognizes[0]!.atMs - turn!.queuedAtMs;
    expect(waitedMs).toBeGreaterThanOrEqual(TURN_BUDGET_MS - 50);
    expect(waitedMs).toBeLessThan(MODEL_DELAY_MS - 1_000);
    expect(call.heardText[1]).toBe(BUILT_IN_PROMPTS.trouble());

    // The call went on: the caller's next words were answered by the model.
    expect(call.heardText[2]).toBe('You are welcome, goodbye.');
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    const assistant = transcript!.turns.filter((t) => t.role === 'assistant');
    expect(assistant.map((t) => [t.content, t.meta?.timedOut])).toEqual([
      [call.heardText[0], undefined],
      [BUILT_IN_PROMPTS.trouble(), true],
      ['You are welcome, goodbye.', undefined],
    ]);
    expect(transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['When do you open?', 'Thank you']);

    // The call's analytics count the timed-out turn.
    const analytics = await archive.analytics.get(callId, utcDay('test', transcript!.header.startedAt));
    expect(analytics).toMatchObject({ callId, timedOutTurns: 1, outcome: 'completed' });
  });
});
