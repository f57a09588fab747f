import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatedCall } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, count, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * At-least-once delivery from both of ACS's channels: Event Grid redelivers the IncomingCall event, and
 * this stack's ACS emulator POSTs every callback twice (same event id), as ACS does when it retries.
 * Neither may answer twice, speak twice or write a turn twice.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack({ acs: { duplicateCallbacks: true } });
});

afterAll(async () => {
  await stack?.close();
});

async function answeredCall(serverCallId: string): Promise<EmulatedCall> {
  for (let i = 0; i < 400; i += 1) {
    const call = stack.acs.callByServerCallId(serverCallId);
    if (call && call.state !== 'connecting') return call;
    await sleep(5);
  }
  throw new Error('the app never answered the incoming call');
}

function answersOf(incomingCallContext: string): number {
  return stack.acs.requests.filter((r) => r.operation === 'answerCall' && (r.body as { incomingCallContext?: string }).incomingCallContext === incomingCallContext).length;
}

describe('Event Grid redelivers IncomingCall', () => {
  it('acknowledges a redelivery during the call and after it was archived without answering again', async () => {
    // Prepare: a call is announced and answered.
    const incoming = await stack.acs.eventGrid.sendIncomingCall(stack.eventGridUrl, { from: phoneNumber(2001), to: APP_NUMBER });
    expect(incoming.status).toBe(200);
    const call = await answeredCall(incoming.serverCallId);
    const callId = callIdForIncoming(incoming.serverCallId);

    // Act: the same event again while the call runs…
    const duringCall = await stack.acs.eventGrid.redeliver(stack.eventGridUrl, incoming.eventId);
    call.hangUpByCaller();
    await lifecycleOf(stack, call.callConnectionId);
    // …and once more after the lifecycle archived the call and cleaned Redis.
    const afterCall = await stack.acs.eventGrid.redeliver(stack.eventGridUrl, incoming.eventId);

    // Assess
    expect(duringCall.status).toBe(200);
    expect(JSON.parse(duringCall.body)).toEqual({ answered: [] });
    expect(afterCall.status).toBe(200);
    expect(JSON.parse(afterCall.body)).toEqual({ answered: [] });
    expect(answersOf(incoming.incomingCallContext)).toBe(1);
    const audit = await (await archiveOf(stack)).audit.list(callId);
    expect(audit.map((a) => a.action)).toEqual(['answered', 'ended']);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });
});

describe('ACS delivers every callback twice', () => {
  it('handles each event once: one greeting, one recognize per turn, no duplicate turns', async () => {
    // Prepare
    const questions = ['What are your opening hours?', 'How do I change my address?', 'Thanks, goodbye'];

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(2002), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, ...questions.map((say) => ({ say }))] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: every callback really was POSTed twice and both copies were acknowledged…
    expect(call.events.length).toBeGreaterThan(0);
    for (const sent of call.events) {
      expect(sent.duplicated, sent.type).toBe(true);
      expect(sent.attempts.map((a) => a.status), sent.type).toEqual([200, 200]);
    }
    // …yet the app acted once per event: greeting + one recognize per answered question, one goodbye.
    expect(call.operations).toEqual(['answerCall', 'recognize', 'recognize', 'recognize', 'play', 'terminateCall']);
    expect(count(call.eventTypes, 'RecognizeCompleted')).toBe(questions.length);
    expect(call.heardText).toHaveLength(questions.length + 1);

    const callId = callIdForIncoming(call.serverCallId);
    const transcript = await (await archiveOf(stack)).transcripts.read(callId);
    const userTurns = transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content);
    expect(userTurns).toEqual(questions);
    expect(transcript!.turns.filter((t) => t.role === 'assistant').map((t) => t.content)).toEqual(call.heardText);
    expect(new Set(transcript!.turns.map((t) => t.id)).size).toBe(transcript!.turns.length);
    expect(output).toMatchObject({ turnCount: 7, turnsArchived: 7, warnings: [] });
  });
});
