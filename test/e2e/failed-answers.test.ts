import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { classifyAnswerFailure } from '../../src/lib/calls/incoming-call.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * Calls that never connect. An answer ACS accepted and then failed (AnswerFailed) ends the lifecycle
 * at once instead of at the max-duration timer (an hour here); an IncomingCall whose context has
 * expired is acknowledged (Event Grid must not retry it for a day) and leaves only its summary.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack({ env: { MAX_CALL_DURATION_SECONDS: '3600' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('an answer that fails after ACS accepted it', () => {
  it('ends the lifecycle at once as answer_failed, audited, with Redis cleaned', async () => {
    // Prepare
    stack.acs.faults.failAnswers(1);

    // Act
    const incoming = await stack.acs.eventGrid.sendIncomingCall(stack.eventGridUrl, { from: phoneNumber(8301), to: APP_NUMBER });
    const call = await vi.waitFor(() => {
      const found = stack.acs.callByServerCallId(incoming.serverCallId);
      if (!found?.events.some((e) => e.type === 'AnswerFailed')) throw new Error('no AnswerFailed yet');
      return found;
    });
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(incoming.status).toBe(200);
    expect(output).toMatchObject({ endReason: 'answer_failed', turnCount: 0, hungUpByLifecycle: false });
    const callId = callIdForIncoming(incoming.serverCallId);
    const archive = await archiveOf(stack);
    expect((await archive.transcripts.read(callId))?.header.outcome).toBe('answer_failed');
    expect((await archive.audit.list(callId)).map((a) => a.action).sort()).toEqual(['answer_failed', 'answered', 'ended']);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });
});

describe('an IncomingCall whose context has expired', () => {
  it('is acknowledged with 200, audited once, and leaves only its summary, redelivered or not', async () => {
    // Act
    const incoming = await stack.acs.eventGrid.sendIncomingCall(stack.eventGridUrl, { from: phoneNumber(8302), to: APP_NUMBER }, { expired: true });
    const again = await stack.acs.eventGrid.redeliver(stack.eventGridUrl, incoming.eventId);

    // Assess
    expect(incoming.status).toBe(200);
    expect(JSON.parse(incoming.body)).toEqual({ answered: [] });
    expect(again.status).toBe(200);
    const callId = callIdForIncoming(incoming.serverCallId);
    const answers = stack.acs.requests.filter((r) => r.operation === 'answerCall' && (r.body as { incomingCallContext?: string }).incomingCallContext === incoming.incomingCallContext);
    expect(answers.map((r) => r.status)).toEqual([400]);
    const audit = await (await archiveOf(stack)).audit.list(callId);
    expect(audit.map((a) => [a.action, a.details?.retried])).toEqual([['answer_failed', false]]);
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });
});

describe('an answer ACS refuses for a moment', () => {
  it('answers 500 to Event Grid, and the call is answered on Event Grid’s redelivery 10 s later while it still rings', { timeout: 40_000 }, async () => {
    // Prepare: four refusals, so the SDK's own three retries of the first delivery fail too
    stack.acs.faults.refuseRequests('answerCall', { status: 503, code: 'ServiceUnavailable', count: 4 });

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(8303), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl, answerTimeoutMs: 20_000 },
    );
    await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(call.notes).toEqual(['IncomingCall redelivered by Event Grid after status 500; now 200']);
    expect(call.incomingCallStatus).toBe(200);
    expect(call.heardText.length).toBeGreaterThan(0);
    const audit = await (await archiveOf(stack)).audit.list(callIdForIncoming(call.serverCallId));
    expect(audit.filter((a) => a.action === 'answer_failed').map((a) => [a.details?.status, a.details?.retried])).toEqual([[503, true]]);
    expect(audit.map((a) => a.action)).toContain('answered');
  });
});

describe('classifying a failed answer', () => {
  it('retries what can succeed later and acknowledges what never will', () => {
    const failure = (status: number | undefined) => classifyAnswerFailure(new RestError('refused', status === undefined ? {} : { statusCode: status, code: 'X' }));
    expect([400, 404, 409, 410].map((s) => failure(s).transient)).toEqual([false, false, false, false]);
    expect([undefined, 401, 403, 408, 429, 500, 503].map((s) => failure(s).transient)).toEqual([true, true, true, true, true, true, true]);
  });
});
