import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { AzureOpenAIStandIn, slow, textReply } from '../agent/aoai-server.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';
import { greetedCall } from '../support/calls.js';

/**
 * A caller who hangs up while the agent is still thinking. The model is the Azure OpenAI stand-in
 * (Azure OpenAI cannot run offline), made slow on purpose, so the turn is still in flight when ACS
 * reports the disconnect: finalisation must wait for it, and the transcript must hold the whole turn.
 */

const MODEL_DELAY_MS = 1_200;

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

describe('a caller who hangs up while the agent is answering', () => {
  it('archives the turn that was in flight, then cleans Redis', async () => {
    // Prepare: the reply takes longer than the caller stays on the line.
    model.script(slow(textReply('Your order ships ', 'tomorrow morning.'), MODEL_DELAY_MS));

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(7001), to: APP_NUMBER, overlappingCallbacks: true, steps: [{ waitFor: 'greeting' }, { say: 'Where is my order?' }, { pause: 100 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the caller was gone before the answer, and the answer is in the transcript all the same.
    expect(call.endedBy).toBe('caller');
    expect(model.requests).toHaveLength(1);
    const callId = callIdForIncoming(call.serverCallId);
    const transcript = await (await archiveOf(stack)).transcripts.read(callId);
    expect(transcript?.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', call.heardText[0]],
      ['user', 'Where is my order?'],
      ['assistant', 'Your order ships tomorrow morning.'],
    ]);
    expect(output.turnsArchived).toBe(3);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });

  it('acknowledges a turn that arrives once finalisation has closed the call, and does not answer it', async () => {
    // Prepare: the caller speaks only after the call has been closed the way finalize closes it.
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(7002), to: APP_NUMBER, overlappingCallbacks: true, steps: [{ waitFor: 'greeting' }, { pause: 300 }, { say: 'Are you still there?' }, { pause: 300 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const live = await greetedCall(stack.acs, known);
    const callId = callIdForIncoming(live.serverCallId);
    const modelRequestsBefore = model.requests.length;

    // Act
    const closed = await (await stack.runtime.turnFencing()).closeAndAwaitWriters(callId, { timeoutMs: 5_000 });
    const call = await recording;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the late turn was acknowledged once (ACS does not retry it), never answered, never archived.
    expect(closed).toMatchObject({ openTurns: 0, relay: null });
    const late = call.events.find((e) => e.type === 'RecognizeCompleted');
    expect(late?.attempts.map((a) => a.status)).toEqual([200]);
    expect(model.requests).toHaveLength(modelRequestsBefore);
    expect(call.operations).toEqual(['answerCall', 'recognize']);
    const transcript = await (await archiveOf(stack)).transcripts.read(callId);
    expect(transcript?.turns.map((t) => t.role)).toEqual(['assistant']);
    expect(output.turnsArchived).toBe(1);
  });
});
