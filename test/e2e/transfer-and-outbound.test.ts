import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { transferHoldPrompt } from '../../src/lib/agents/built-in.js';
import { userIdFromPhoneNumber } from '../../src/lib/archive/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, operationContextOf, phoneNumber, redisKeysOf, startE2eStack } from './support.js';

/**
 * The two other ways a call goes: handed to a person (transfer to the configured number), and placed
 * by the app itself through `POST /api/calls`, followed by the same callbacks and lifecycle.
 */

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startE2eStack();
});

afterAll(async () => {
  await stack?.close();
});

async function placeCall(body: unknown, options: { key?: boolean; raw?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(stack.placeCallUrl);
  if (options.key === false) url.searchParams.delete('code');
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: options.raw ?? JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}

describe('transfer to a human', () => {
  it('plays the hold message, transfers to the configured number and archives the call as transferred', async () => {
    // Prepare
    const target = stack.config.acs.transferTargetNumber!;
    expect(target).toBeTruthy();

    // Act
    const call = await stack.acs.placeCall(
      { from: phoneNumber(5001), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { say: 'Can I speak to a real person please?' }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(call.operations).toEqual(['answerCall', 'recognize', 'play', 'transferToParticipant']);
    const [play, transfer] = call.requests.slice(-2);
    expect(operationContextOf(play!)).toBe('transfer-hold');
    expect(call.heardText.at(-1)).toBe(transferHoldPrompt());
    expect(transfer!.body).toMatchObject({ targetParticipant: { rawId: `4:${target}`, phoneNumber: { value: target } } });
    expect(call.eventTypes).toContain('CallTransferAccepted');
    expect(call.endedBy).toBe('transfer');

    const callId = callIdForIncoming(call.serverCallId);
    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.header.outcome).toBe('transferred');
    expect(transcript!.turns.at(-1)!.meta?.tools).toEqual(['transfer_to_human']);
    const audit = await archive.audit.list(callId);
    expect(audit.map((a) => a.action)).toEqual(['answered', 'transferred', 'ended']);
    expect(output).toMatchObject({ endReason: 'disconnected', warnings: [] });
  });
});

describe('an outbound call', () => {
  it('is placed by POST /api/calls, converses with the callee and is archived by the lifecycle', async () => {
    // Prepare
    const target = phoneNumber(5002);
    const callee = stack.acs.answerNextOutboundCall({ steps: [{ waitFor: 'greeting' }, { say: 'Yes, what are your opening hours?' }, { say: 'Great, bye' }] });

    // Act
    const placed = await placeCall({ target, purpose: 'your recent order' });
    const call = await callee;
    const { status, output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(placed.status).toBe(202);
    const { callId, callConnectionId } = placed.json as { callId: string; callConnectionId: string };
    expect(callConnectionId).toBe(call.callConnectionId);
    expect(callId).toMatch(/^out-/);
    expect(call.operations).toEqual(['createCall', 'recognize', 'recognize', 'play', 'terminateCall']);
    expect(call.requests[0]!.body).toMatchObject({ targets: [{ rawId: `4:${target}` }], sourceCallerIdNumber: { value: stack.config.acs.sourceNumber } });
    expect(call.heardText[0]).toMatch(/your recent order/);
    expect(call.said.map((s) => s.via)).toEqual(['recognize', 'recognize']);
    expect(call.endedBy).toBe('app');

    const archive = await archiveOf(stack);
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.header).toMatchObject({ callId, outcome: 'completed', turnCount: 5, caller: userIdFromPhoneNumber(target, stack.config.archive.userIdSalt) });
    expect(transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['Yes, what are your opening hours?', 'Great, bye']);
    expect((await archive.audit.list(callId)).map((a) => a.action)).toEqual(['call_placed', 'ended']);
    expect(status.input).toMatchObject({ callId, direction: 'outbound' });
    expect(output).toMatchObject({ direction: 'outbound', endReason: 'disconnected', turnsArchived: 5, warnings: [] });
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);
  });

  it('acknowledges every callback when the callee hangs up the moment the call connects', async () => {
    // Prepare: the callee puts the phone down as the call connects, while the app is still greeting.
    const next = stack.acs.nextOutboundCall();
    const hungUp = next.then((call) => {
      call.once('connected', () => call.hangUpByCaller());
      return call;
    });

    // Act
    const placed = await placeCall({ target: phoneNumber(5003), purpose: 'a delivery update' });
    const call = await hungUp;
    await lifecycleOf(stack, call.callConnectionId);
    await call.callbacksSettled();

    // Assess: the greeting's recognize found the call gone; no event was refused for ACS to retry.
    expect(placed.status).toBe(202);
    expect(call.events.map((e) => e.type)).toContain('CallDisconnected');
    for (const sent of call.events) expect(sent.attempts.map((a) => a.status), sent.type).toEqual([200]);
    const transcript = await (await archiveOf(stack)).transcripts.read((placed.json as { callId: string }).callId);
    expect(transcript!.header.outcome).toBe('abandoned');
  });

  it('answers 400 with the reason for a bad body and 401 without the function key', async () => {
    // Act
    const notJson = await placeCall(undefined, { raw: '{"target":' });
    const noTarget = await placeCall({ purpose: 'billing' });
    const notE164 = await placeCall({ target: '0555 0100', purpose: 'billing' });
    const noPurpose = await placeCall({ target: phoneNumber(5004), purpose: '   ' });
    const withoutKey = await placeCall({ target: phoneNumber(5004), purpose: 'billing' }, { key: false });

    // Assess
    expect(notJson).toMatchObject({ status: 400, json: { error: 'bad_request', reason: 'body: not JSON' } });
    expect(noTarget.status).toBe(400);
    expect(noTarget.json.reason).toMatch(/^target:/);
    expect(notE164.status).toBe(400);
    expect(notE164.json.reason).toMatch(/^target: an E\.164/);
    expect(noPurpose.status).toBe(400);
    expect(noPurpose.json.reason).toMatch(/^purpose:/);
    expect(withoutKey.status).toBe(401);
    expect(stack.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(2);
  });
});
