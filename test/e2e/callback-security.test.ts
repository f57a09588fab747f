import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallAutomationClient } from '@azure/communication-call-automation';
import { generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatedCall } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { APP_NUMBER, archiveOf, lifecycleOf, phoneNumber, startE2eStack } from './support.js';

/**
 * Who may talk to the app, over real HTTP to the dev host: ACS callbacks need both the ACS-signed JWT
 * and the call's own signed URL (the stack runs `ACS_CALLBACK_AUTH=jwt+signature`), and their events
 * must belong to that call; the Event Grid webhook needs the function key and answers both handshakes.
 * Two live calls give the callbacks something real to attack.
 */

let stack: OfflineStack;
let validToken: string;
let callA: EmulatedCall;
let callB: EmulatedCall;

beforeAll(async () => {
  stack = await startE2eStack();
  validToken = await captureAcsCallbackToken(stack);
  [callA, callB] = await Promise.all([ringAndAnswer(phoneNumber(3001)), ringAndAnswer(phoneNumber(3002))]);
});

afterAll(async () => {
  for (const call of [callA, callB]) {
    if (!call) continue;
    call.hangUpByCaller();
    await lifecycleOf(stack, call.callConnectionId).catch(() => undefined);
  }
  await stack?.close();
});

/**
 * A callback token exactly as the ACS emulator signs them: a call of our own whose callback URL is a
 * local listener that keeps the Authorization header of the first event.
 */
async function captureAcsCallbackToken(s: OfflineStack): Promise<string> {
  const seen: string[] = [];
  const listener = createServer((req, res) => {
    if (req.headers.authorization) seen.push(req.headers.authorization.replace(/^Bearer /, ''));
    req.resume();
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  try {
    const client = new CallAutomationClient(s.acs.connectionString, { allowInsecureConnection: true });
    const { port } = listener.address() as AddressInfo;
    const created = await client.createCall({ targetParticipant: { phoneNumber: '+15550109999' } }, `http://127.0.0.1:${port}/capture`);
    const id = created.callConnectionProperties.callConnectionId!;
    for (let i = 0; i < 400 && seen.length === 0; i += 1) await sleep(5);
    await client.getCallConnection(id).hangUp(true);
    await s.acs.calls.get(id)?.callbacksSettled();
  } finally {
    listener.closeAllConnections();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
  expect(seen.length).toBeGreaterThan(0);
  return seen[0]!;
}

/** A call announced through Event Grid and answered by the app; it waits in its greeting's recognize. */
async function ringAndAnswer(from: string): Promise<EmulatedCall> {
  const incoming = await stack.acs.eventGrid.sendIncomingCall(stack.eventGridUrl, { from, to: APP_NUMBER });
  expect(incoming.status).toBe(200);
  for (let i = 0; i < 400; i += 1) {
    const call = stack.acs.callByServerCallId(incoming.serverCallId);
    if (call?.ops.recognizing) return call;
    await sleep(5);
  }
  throw new Error('the call was never answered and greeted');
}

function eventFor(call: EmulatedCall, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(),
    source: `calling/callConnections/${call.callConnectionId}`,
    type: 'Microsoft.Communication.ParticipantsUpdated',
    time: new Date().toISOString(),
    specversion: '1.0',
    datacontenttype: 'application/json',
    subject: `calling/callConnections/${call.callConnectionId}`,
    data: { callConnectionId: call.callConnectionId, serverCallId: call.serverCallId, correlationId: call.correlationId, sequenceNumber: 9, participants: [] },
    ...overrides,
  };
}

async function postCallback(url: string, body: string, authorization?: string): Promise<{ status: number; json: { error?: string; reason?: string; handled?: number } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}

async function authFailures(call: EmulatedCall): Promise<(string | number | boolean | null | undefined)[]> {
  const audit = await (await archiveOf(stack)).audit.list(callIdForIncoming(call.serverCallId));
  return audit.filter((a) => a.action === 'auth_failed').map((a) => a.details?.reason);
}

/** An RS256 token with the emulator's issuer, audience and (optionally) key id, signed by a key ACS never had. */
async function forgedToken(kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(stack.acs.jwt.issuer)
    .setAudience(stack.acs.jwt.audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

describe('ACS callbacks', () => {
  it('accepts a callback carrying the ACS token on the call’s own signed URL (the control case)', async () => {
    // Act
    const result = await postCallback(callA.callbackUri, JSON.stringify([eventFor(callA)]), `Bearer ${validToken}`);

    // Assess
    expect(result).toEqual({ status: 200, json: { handled: 1 } });
  });

  it('rejects a missing or foreign token with 401 and audits each rejection on the call', async () => {
    // Prepare
    const body = JSON.stringify([eventFor(callA)]);
    const jwks = (await (await fetch(stack.acs.jwt.jwksUrl)).json()) as { keys: JWK[] };
    const emulatorKid = jwks.keys[0]!.kid!;
    const before = (await authFailures(callA)).length;

    // Act
    const unsigned = await postCallback(callA.callbackUri, body);
    const unknownKey = await postCallback(callA.callbackUri, body, `Bearer ${await forgedToken(randomUUID())}`);
    const wrongKeySameKid = await postCallback(callA.callbackUri, body, `Bearer ${await forgedToken(emulatorKid)}`);

    // Assess
    expect(unsigned).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'missing_token' } });
    expect(unknownKey).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'unknown_key' } });
    expect(wrongKeySameKid).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'invalid_token' } });
    // Sorted: entries made within the same millisecond have no defined order.
    expect((await authFailures(callA)).slice(before).sort()).toEqual(['invalid_token', 'missing_token', 'unknown_key']);
  });

  it('rejects a valid token on a URL whose signature was tampered with or was minted for another call', async () => {
    // Prepare
    const urlA = new URL(callA.callbackUri);
    const urlB = new URL(callB.callbackUri);
    const tampered = new URL(urlA);
    const sig = tampered.searchParams.get('sig')!;
    tampered.searchParams.set('sig', `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`);
    const otherCallsSignature = new URL(urlA);
    otherCallsSignature.searchParams.set('sig', urlB.searchParams.get('sig')!);
    otherCallsSignature.searchParams.set('exp', urlB.searchParams.get('exp')!);
    const beforeA = (await authFailures(callA)).length;
    const beforeB = (await authFailures(callB)).length;

    // Act
    const tamperedResult = await postCallback(tampered.toString(), JSON.stringify([eventFor(callA)]), `Bearer ${validToken}`);
    const borrowedResult = await postCallback(otherCallsSignature.toString(), JSON.stringify([eventFor(callA)]), `Bearer ${validToken}`);
    // Call B's genuine URL carrying call A's events.
    const crossCall = await postCallback(urlB.toString(), JSON.stringify([eventFor(callA)]), `Bearer ${validToken}`);

    // Assess
    expect(tamperedResult).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'bad_signature' } });
    expect(borrowedResult).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'bad_signature' } });
    expect(crossCall).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'call_mismatch' } });
    expect((await authFailures(callA)).slice(beforeA)).toEqual(['bad_signature', 'bad_signature']);
    expect((await authFailures(callB)).slice(beforeB)).toEqual(['call_mismatch']);
  });

  it('audits no rejection for a call the app does not have', async () => {
    // Prepare: a well-formed URL naming a call that never existed (nothing signed it).
    const stranger = new URL(callA.callbackUri);
    const unknownCallId = callIdForIncoming(`unknown-${randomUUID()}`);
    stranger.searchParams.set('callId', unknownCallId);

    // Act
    const result = await postCallback(stranger.toString(), JSON.stringify([eventFor(callA)]), `Bearer ${validToken}`);

    // Assess
    expect(result).toEqual({ status: 401, json: { error: 'unauthorized', reason: 'bad_signature' } });
    expect(await (await archiveOf(stack)).audit.list(unknownCallId)).toEqual([]);
  });

  it('answers 400 with the reason for a malformed body or an event without its callConnectionId', async () => {
    // Prepare
    const incomplete = eventFor(callA);
    const { callConnectionId: _dropped, ...dataWithoutConnection } = incomplete.data as Record<string, unknown>;

    // Act
    const notJson = await postCallback(callA.callbackUri, '[{"id": "1", "type": ', `Bearer ${validToken}`);
    const missingId = await postCallback(callA.callbackUri, JSON.stringify([{ ...incomplete, data: dataWithoutConnection }]), `Bearer ${validToken}`);

    // Assess
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toBe('bad_request');
    expect(notJson.json.reason).toMatch(/json/i);
    expect(missingId.status).toBe(400);
    expect(missingId.json.reason).toMatch(/events\[0\]\.data\.callConnectionId/);
  });
});

describe('the Event Grid webhook', () => {
  const webhook = () => stack.eventGridUrl;

  it('echoes the subscription validation code', async () => {
    // Prepare
    const validationCode = randomUUID();
    const event = {
      id: randomUUID(),
      topic: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Communication/communicationServices/z',
      subject: '',
      data: { validationCode, validationUrl: 'https://rp-eastus.eventgrid.azure.net/validate?id=1' },
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date().toISOString(),
      metadataVersion: '1',
      dataVersion: '2',
    };

    // Act
    const response = await fetch(webhook(), { method: 'POST', headers: { 'aeg-event-type': 'SubscriptionValidation' }, body: JSON.stringify([event]) });

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: validationCode });
  });

  it('answers the CloudEvents OPTIONS handshake with the allowed origin and rate', async () => {
    // Act
    const response = await fetch(webhook(), { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    const withoutOrigin = await fetch(webhook(), { method: 'OPTIONS' });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
    expect(response.headers.get('webhook-allowed-rate')).toBe('*');
    expect(withoutOrigin.status).toBe(400);
  });

  it('answers 400 with the reason for a malformed body', async () => {
    // Act
    const notJson = await fetch(webhook(), { method: 'POST', body: '{"eventType":' });
    const notEvents = await fetch(webhook(), { method: 'POST', body: JSON.stringify([{ hello: 'world' }]) });

    // Assess
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { reason: string }).reason).toMatch(/json/i);
    expect(notEvents.status).toBe(400);
    expect(((await notEvents.json()) as { reason: string }).reason).toBeTruthy();
  });

  it('refuses a request without the function key with 401', async () => {
    // Prepare
    const withoutKey = new URL(webhook());
    withoutKey.searchParams.delete('code');
    const wrongKey = new URL(webhook());
    wrongKey.searchParams.set('code', 'not-the-key');

    // Act
    const missing = await fetch(withoutKey, { method: 'POST', body: '[]' });
    const wrong = await fetch(wrongKey, { method: 'POST', body: '[]' });

    // Assess
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
  });
});
