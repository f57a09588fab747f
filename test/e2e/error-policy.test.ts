import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, operationContextOf, phoneNumber, startE2eStack } from './support.js';

/**
 * The callback handler's error policy, through the real handler, the ACS emulator and the SDK over a
 * socket: only a failure a redelivery can fix answers 500 (turn-redelivery.test.ts shows the 400 call
 * state race redelivered). A refusal no retry can change (403: our identity lacks the role) is logged,
 * audited and acknowledged once, so ACS does not redeliver it for nothing.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack();
});

afterAll(async () => {
  await stack?.close();
});

/** Once the greeting's recognize of a new call has gone through, the next recognize is refused. */
async function refuseNextRecognize(knownCalls: ReadonlySet<string>, refusal: { status: number; code: string }): Promise<void> {
  await vi.waitFor(
    () => {
      if (![...stack.acs.calls.values()].some((c) => !knownCalls.has(c.callConnectionId) && c.requests.some((r) => r.operation === 'recognize'))) throw new Error('no greeting yet');
    },
    { timeout: 10_000, interval: 5 },
  );
  stack.acs.faults.refuseRequests('recognize', { ...refusal, count: 1 });
}

describe('a callback whose ACS operation is refused for good', () => {
  it('acknowledges the event once, audits it, and does not redo the operation', { timeout: 30_000 }, async () => {
    // Prepare
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(8601), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { pause: 300 }, { say: 'What are your opening hours?' }, { pause: 600 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    await refuseNextRecognize(known, { status: 403, code: 'Forbidden' });

    // Act
    const call = await recording;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: one refused recognize, never retried; the event acknowledged at once; the refusal audited.
    const recognizes = call.requests.filter((r) => r.operation === 'recognize');
    expect(recognizes.map((r) => [operationContextOf(r), r.status])).toEqual([
      ['greeting', 202],
      ['turn', 403],
    ]);
    const turn = call.events.find((e) => e.type === 'RecognizeCompleted');
    expect(turn?.attempts.map((a) => a.status)).toEqual([200]);
    const callId = callIdForIncoming(call.serverCallId);
    const failures = (await (await archiveOf(stack)).audit.list(callId)).filter((a) => a.action === 'event_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]?.details).toMatchObject({ eventType: 'Microsoft.Communication.RecognizeCompleted', eventId: expect.any(String), error: 'RestError', code: 'Forbidden', status: 403 });
  });
});
