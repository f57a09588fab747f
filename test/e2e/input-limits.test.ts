import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { reasonFrom } from '../../src/lib/agent/tools.js';
import { boundedRecognition, limitText } from '../../src/lib/calls/limits.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { AzureOpenAIStandIn, textReply } from '../agent/aoai-server.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, startE2eStack } from './support.js';

/**
 * Limits on external text. A 5 MB recognized phrase once became a 6.3 MB turn in Redis; now the
 * caller's words, DTMF, tool arguments, the model's output and context fields are bounded by
 * settings, and a cut is recorded on the turn (`truncatedFrom`, the original length).
 */

const RECOGNIZED_LIMIT = 100;
const OUTPUT_LIMIT = 200;

let stack: OfflineStack;
let model: AzureOpenAIStandIn;

beforeAll(async () => {
  model = await AzureOpenAIStandIn.start();
  stack = await startE2eStack({
    env: {
      AGENT_MODE: 'azure-openai',
      AZURE_OPENAI_ENDPOINT: model.endpoint,
      AZURE_OPENAI_API_KEY: 'local-test-key',
      AZURE_OPENAI_CHAT_DEPLOYMENT: 'gpt-4o-mini',
      LIMIT_RECOGNIZED_TEXT_CHARS: String(RECOGNIZED_LIMIT),
      LIMIT_MODEL_OUTPUT_CHARS: String(OUTPUT_LIMIT),
    },
  });
});

afterAll(async () => {
  await stack?.close();
  await model?.close();
});

describe('external text over its limit', () => {
  it('cuts an overlong utterance and an overlong reply, speaks the cut reply, and records both cuts', async () => {
    // Prepare
    const utterance = 'word '.repeat(4_000).trim();
    const longReply = 'Sure. '.repeat(1_000).trim();
    model.script(textReply(longReply));

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8601), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: utterance }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await lifecycleOf(stack, call.callConnectionId);

    // Assess
    const transcript = await (await archiveOf(stack)).transcripts.read(callIdForIncoming(call.serverCallId));
    const [, user, agent] = transcript!.turns;
    expect(user).toMatchObject({ role: 'user', content: utterance.slice(0, RECOGNIZED_LIMIT), meta: { truncatedFrom: utterance.length } });
    expect(agent).toMatchObject({ role: 'assistant', content: longReply.slice(0, OUTPUT_LIMIT), meta: { truncatedFrom: longReply.length } });
    const lastPrompt = call.requests.filter((r) => r.operation === 'recognize').at(-1)?.body as { recognizeOptions?: { playPrompt?: { text?: { text?: string } } } };
    expect(JSON.stringify(lastPrompt).length).toBeLessThan(OUTPUT_LIMIT * 4);
  });

  it('bounds DTMF by tones, text on a code-point boundary, and tool arguments before parsing', () => {
    const limits = { ...stack.config.limits, dtmfTones: 3 };
    expect(boundedRecognition({ recognitionType: 'dtmf', dtmfResult: { tones: ['one', 'two', 'three', 'four', 'five'] } } as never, limits)).toEqual({ text: 'one two three', truncatedFrom: 5 });
    expect(limitText('ab😀', 3)).toEqual({ text: 'ab', truncatedFrom: 4 });
    expect(reasonFrom(JSON.stringify({ reason: 'done' }))).toBe('done');
    expect(reasonFrom(JSON.stringify({ reason: 'x', pad: 'y'.repeat(5_000) }))).toBe('unspecified');
  });
});
