import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { AzureOpenAIStandIn, slow, textReply } from '../agent/aoai-server.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * The transcript at a hang-up in the middle of a turn. ACS's callbacks can overtake one another, so
 * the caller's last words may arrive after CallDisconnected: they are archived, marked late. And an
 * answer made for a caller who hung up while the model was thinking is archived as unheard.
 */

let stack: OfflineStack;
let model: AzureOpenAIStandIn;

beforeAll(async () => {
  model = await AzureOpenAIStandIn.start();
  stack = await startE2eStack({
    env: { AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: model.endpoint, AZURE_OPENAI_API_KEY: 'local-test-key', AZURE_OPENAI_CHAT_DEPLOYMENT: 'gpt-4o-mini' },
  });
});

afterAll(async () => {
  await stack?.close();
  await model?.close();
});

describe('a hang-up in the middle of a turn', () => {
  it("archives the caller's last words delivered after the hang-up, marked late, without answering them", async () => {
    // Prepare: the caller's utterance is delivered 300 ms late, after the CallDisconnected behind it.
    stack.acs.faults.delayCallbacks('RecognizeCompleted', 300);
    const modelRequestsBefore = model.requests.length;

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8501), to: APP_NUMBER, overlappingCallbacks: true, steps: [{ waitFor: 'greeting' }, { say: 'Cancel my order please' }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    const deliveredAt = (type: string) => call.events.find((e) => e.type === type)?.attempts[0]?.atMs ?? Number.NaN;
    expect(deliveredAt('RecognizeCompleted')).toBeGreaterThan(deliveredAt('CallDisconnected'));
    expect(model.requests).toHaveLength(modelRequestsBefore);
    const callId = callIdForIncoming(call.serverCallId);
    const transcript = await (await archiveOf(stack)).transcripts.read(callId);
    expect(transcript?.turns.map((t) => [t.role, t.content, t.meta?.late ?? false])).toEqual([
      ['assistant', call.heardText[0], false],
      ['user', 'Cancel my order please', true],
    ]);
    expect(output.turnsArchived).toBe(2);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });

  it('archives an answer made after the caller hung up as unheard', async () => {
    // Prepare: the model answers after the caller has gone.
    model.script(slow(textReply('Your order ships tomorrow.'), 800));

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8502), to: APP_NUMBER, overlappingCallbacks: true, steps: [{ waitFor: 'greeting' }, { say: 'Where is my order?' }, { pause: 100 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the answer is in the transcript, flagged as never heard; the greeting was heard.
    const transcript = await (await archiveOf(stack)).transcripts.read(callIdForIncoming(call.serverCallId));
    expect(transcript?.turns.map((t) => [t.role, t.content, t.meta?.unheard ?? false])).toEqual([
      ['assistant', call.heardText[0], false],
      ['user', 'Where is my order?', false],
      ['assistant', 'Your order ships tomorrow.', true],
    ]);
  });
});
