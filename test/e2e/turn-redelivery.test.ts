import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { repromptPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, operationContextOf, phoneNumber, startE2eStack } from './support.js';

/**
 * A turn whose ACS follow-up is refused. The turn's writes land, the follow-up (recognize) fails, the
 * callback answers 500 and ACS redelivers the same event. The redelivery must find the turn already
 * written and redo only the follow-up: nothing appended twice, no silence counted twice.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack();
});

afterAll(async () => {
  await stack?.close();
});

/** Refuses the next recognize once the call's greeting recognize has gone through. */
async function refuseTheRecognizeAfterTheGreeting(knownCalls: ReadonlySet<string>): Promise<void> {
  await vi.waitFor(
    () => {
      const call = [...stack.acs.calls.values()].find((c) => !knownCalls.has(c.callConnectionId) && c.requests.some((r) => r.operation === 'recognize'));
      if (!call) throw new Error('greeting not asked yet');
    },
    { timeout: 10_000, interval: 5 },
  );
  // 400 is a status the SDK does not retry itself, so the refusal reaches the callback handler.
  stack.acs.faults.refuseRequests('recognize', { status: 400, code: 'BadRequest', count: 1 });
}

describe('a turn redelivered after its recognize was refused', () => {
  it('answers the question once and only asks again', { timeout: 30_000 }, async () => {
    // Prepare
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(8101), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { pause: 300 }, { say: 'What are your opening hours?' }, { say: 'Thanks, goodbye' }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await refuseTheRecognizeAfterTheGreeting(known);

    // Act
    const call = await recording;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the first answer's recognize was refused, the event redelivered, the recognize redone.
    const recognizes = call.requests.filter((r) => r.operation === 'recognize');
    expect(recognizes.map((r) => [operationContextOf(r), r.status])).toEqual([
      ['greeting', 202],
      ['turn', 400],
      ['turn', 202],
    ]);
    const answered = call.events.find((e) => e.type === 'RecognizeCompleted');
    expect(answered?.attempts.map((a) => a.status)).toEqual([500, 200]);
    const transcript = await (await archiveOf(stack)).transcripts.read(callIdForIncoming(call.serverCallId));
    expect(transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['What are your opening hours?', 'Thanks, goodbye']);
    expect(transcript!.turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant']);
    // The re-asked recognize carries the same answer the transcript holds.
    expect(call.heardText[1]).toBe(transcript!.turns[2]!.content);
    expect(output.turnsArchived).toBe(5);
  });

  it('counts a silence once when its re-prompt is redelivered', { timeout: 40_000 }, async () => {
    // Prepare: the caller stays silent through the greeting; the re-prompt's recognize is refused once.
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(8102), to: APP_NUMBER, steps: [{ silence: true, timeoutMs: 15_000 }, { waitFor: 'greeting' }, { say: 'Sorry, I am here' }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await refuseTheRecognizeAfterTheGreeting(known);

    // Act
    const call = await recording;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: one re-prompt, the first one, heard once and archived once.
    const recognizes = call.requests.filter((r) => r.operation === 'recognize');
    expect(recognizes.slice(0, 3).map((r) => [operationContextOf(r), r.status])).toEqual([
      ['greeting', 202],
      ['reprompt', 400],
      ['reprompt', 202],
    ]);
    expect(call.heardText[1]).toBe(repromptPrompt(1));
    const transcript = await (await archiveOf(stack)).transcripts.read(callIdForIncoming(call.serverCallId));
    const reprompts = transcript!.turns.filter((t) => t.meta?.kind === 'reprompt');
    expect(reprompts.map((t) => t.content)).toEqual([repromptPrompt(1)]);
  });
});
