import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * The lifecycle's max-duration timer: a caller who keeps talking is hung up by the orchestration, and
 * the call is still archived. The dev host runs durable time 40 times faster than the wall clock, so
 * the shortest allowed maximum (60 s) passes in 1.5 s while every other part runs in real time.
 */

const MAX_CALL_DURATION_SECONDS = 60;
const TIME_SCALE = 0.025;

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack({ env: { MAX_CALL_DURATION_SECONDS: String(MAX_CALL_DURATION_SECONDS) }, timeScale: TIME_SCALE });
});

afterAll(async () => {
  await stack?.close();
});

describe('a call that reaches the maximum duration', () => {
  it('is hung up by the lifecycle while the caller still talks, and archived as timed out', async () => {
    // Prepare: far more talking than 1.5 s of real time holds; no goodbye, no hang-up of the caller's own.
    const chatter: CallerStep[] = Array.from({ length: 200 }, (_, i) => [{ say: `Tell me about billing, question ${i + 1}` }, { pause: 20 }]).flat();

    // Act
    const call = await stack.acs.placeCall({ from: phoneNumber(6001), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, ...chatter] }, { eventGridUrl: stack.eventGridUrl });
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the app ended the call, mid-conversation, with the hang-up for everyone.
    expect(call.endedBy).toBe('app');
    const hangUp = call.operations.indexOf('terminateCall');
    expect(hangUp).toBeGreaterThan(0);
    // A turn in flight when the lifecycle hung up may still ask for its recognize: ACS refuses it, the call is gone.
    expect(call.requests.slice(hangUp + 1).map((r) => [r.operation, r.status])).toEqual(call.requests.slice(hangUp + 1).map((r) => [r.operation, 404]));
    for (const sent of call.events) expect(sent.attempts.map((a) => a.status), sent.type).toEqual([200]);
    expect(call.operations).not.toContain('play'); // no goodbye was ever due
    const answered = call.said.filter((s) => s.via === 'recognize').length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(200);
    expect(output).toMatchObject({ endReason: 'max-duration', hungUpByLifecycle: true, warnings: [] });
    expect(output.durationSeconds).toBeGreaterThanOrEqual(MAX_CALL_DURATION_SECONDS);

    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.header.outcome).toBe('timed_out');
    expect(transcript!.turns.filter((t) => t.role === 'user').length).toBeGreaterThanOrEqual(answered - 1);
    expect(transcript!.turns.length).toBe(output.turnsArchived);
    const audit = await archive.audit.list(callId);
    expect(audit.map((a) => a.action)).toEqual(['answered', 'hung_up_max_duration', 'ended']);
    expect(audit[2]!.details).toMatchObject({ endReason: 'max-duration' });
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });
});
