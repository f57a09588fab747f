import { CallAutomationClient, type CallAutomationEvent } from '@azure/communication-call-automation';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { createLogger, type LogFields } from '../../src/lib/telemetry/logger.js';
import { startTestApp, type TestApp } from './acs-test-app.js';

/**
 * The Call Automation REST surface and the callback side, driven only by the real
 * `@azure/communication-call-automation` client (an http endpoint needs `allowInsecureConnection`).
 */

const CALLER = '+15550100123';
const SERVICE_NUMBER = '+15550100999';
const caller = { phoneNumber: CALLER };

async function restErrorOf(promise: Promise<unknown>): Promise<RestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof RestError)) throw new Error(`expected a RestError, got ${String(error)}`);
  return error;
}

/** Keeps the emulator's warnings for assertions instead of printing them. */
function collectingLogger(): { logger: ReturnType<typeof createLogger>; warnings: { message: string; fields?: LogFields }[] } {
  const warnings: { message: string; fields?: LogFields }[] = [];
  const logger = createLogger((level, message, fields) => {
    if (level === 'warn' || level === 'error') warnings.push({ message, fields });
  }, 'warn');
  return { logger, warnings };
}

describe('ACS emulator: Call Automation REST and callbacks', () => {
  let acs: AcsEmulator;
  let client: CallAutomationClient;
  let app: TestApp | undefined;

  beforeAll(async () => {
    // Apps are closed between tests while their calls may still send events: keep those warnings quiet.
    acs = await startAcsEmulator({ speechMsPerChar: 5, logger: collectingLogger().logger });
    client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true, retryOptions: { retryDelayInMs: 20, maxRetryDelayInMs: 50 } });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await acs.close();
  });

  async function ringAndAnswer(onEvent?: (e: CallAutomationEvent, a: TestApp) => void): Promise<{ app: TestApp; callConnectionId: string; serverCallId: string }> {
    app = await startTestApp({ client, jwt: acs.jwt, onEvent });
    const incoming = await acs.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: SERVICE_NUMBER, callerDisplayName: 'Test Caller' });
    const connected = await app.waitForEvent('CallConnected');
    return { app, callConnectionId: connected.callConnectionId, serverCallId: incoming.serverCallId };
  }

  it('answers an incoming call, reports it connected and signs every callback with its RS256 key', async () => {
    // Prepare
    const { app, callConnectionId, serverCallId } = await ringAndAnswer();

    // Act
    const properties = await client.getCallConnection(callConnectionId).getCallConnectionProperties();
    const participants = await app.waitForEvent('ParticipantsUpdated');

    // Assess
    expect(properties.callConnectionState).toBe('connected');
    expect(properties.serverCallId).toBe(serverCallId);
    // The 1.6.0 SDK spreads the wire model, so the property arrives under its wire name.
    expect((properties as { callbackUri?: string }).callbackUri).toBe(app.callbackUrl);
    expect(participants.participants.map((p: any) => p.identifier.rawId ?? p.identifier.phoneNumber)).toContain(`4:${CALLER}`);
    expect(app.incoming[0]?.headers['aeg-event-type']).toBe('Notification');
    expect(app.incoming[0]?.body[0]).toMatchObject({ eventType: 'Microsoft.Communication.IncomingCall', data: { serverCallId, callerDisplayName: 'Test Caller' } });
    for (const callback of app.callbacks) {
      expect(callback.verifyError).toBeUndefined();
      expect(callback.claims?.iss).toBe(acs.jwt.issuer);
      expect(callback.claims?.aud).toBe(acs.jwt.audience);
      expect((callback.claims?.exp ?? 0) - (callback.claims?.iat ?? 0)).toBe(300);
      expect(callback.raw).toMatchObject({ specversion: '1.0', datacontenttype: 'application/json', source: `calling/callConnections/${callConnectionId}` });
      expect(callback.raw.data).toMatchObject({ callConnectionId, serverCallId, correlationId: expect.any(String), resultInformation: { code: 200 } });
    }
  });

  it('refuses a client holding the wrong access key with 401 and a clear error body', async () => {
    // Prepare
    const wrong = new CallAutomationClient(acs.connectionString.replace(/accesskey=.*/, `accesskey=${Buffer.from('w'.repeat(32)).toString('base64')}`), {
      allowInsecureConnection: true,
    });

    // Act
    const error = await restErrorOf(wrong.getCallConnection('any-call').getCallConnectionProperties());

    // Assess
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe('Unauthorized');
    expect(error.message).toMatch(/signature/i);
    expect(acs.requests.at(-1)).toMatchObject({ status: 401, operation: 'unauthorized' });
  });

  it('answers 404 with ACS error 8522 for a call it does not know', async () => {
    // Act
    const error = await restErrorOf(client.getCallConnection('no-such-call').getCallMedia().playToAll([{ kind: 'textSource', text: 'hi' }]));

    // Assess
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('8522');
  });

  it('lists the participants: the caller and the app', async () => {
    // Prepare
    const { callConnectionId } = await ringAndAnswer();

    // Act
    const participants = await client.getCallConnection(callConnectionId).listParticipants();

    // Assess
    expect(participants.values).toHaveLength(2);
    expect(participants.values?.[0]?.identifier).toMatchObject({ phoneNumber: CALLER });
    expect(participants.values?.[1]?.identifier).toMatchObject({ communicationUserId: expect.stringMatching(/^8:acs:/) });
  });

  it('plays text and reports PlayCompleted with the operation context after the text was heard', async () => {
    // Prepare
    const { app, callConnectionId } = await ringAndAnswer();
    const media = client.getCallConnection(callConnectionId).getCallMedia();

    // Act
    await media.playToAll([{ kind: 'textSource', text: 'Welcome to the emulator.', voiceName: 'en-US-JennyNeural' }], { operationContext: 'greeting' });
    const completed = await app.waitForEvent('PlayCompleted');

    // Assess
    expect(completed).toMatchObject({ operationContext: 'greeting', resultInformation: { code: 200, subCode: 0 } });
    expect(acs.calls.get(callConnectionId)?.heardPlays).toMatchObject([{ text: 'Welcome to the emulator.', outcome: 'completed' }]);
  });

  it('sends an operation\'s events to its operationCallbackUrl when the app gives one', async () => {
    // Prepare
    const { app, callConnectionId } = await ringAndAnswer();
    const media = client.getCallConnection(callConnectionId).getCallMedia();

    // Act
    await media.playToAll([{ kind: 'textSource', text: 'One moment.' }], { operationContext: 'hold', operationCallbackUrl: `${app.callbackUrl}?operation=hold` });
    await app.waitForEvent('PlayCompleted');

    // Assess
    expect(app.callbacks.find((c) => c.event.kind === 'PlayCompleted')?.url).toBe('/api/callbacks?operation=hold');
    expect(app.callbacks.find((c) => c.event.kind === 'CallConnected')?.url).toBe('/api/callbacks');
    expect(acs.calls.get(callConnectionId)?.requests.at(-1)?.apiVersion).toBe('2026-03-12');
  });

  it('fails a recognize the caller never answers with RecognizeFailed 8510 (initial silence timeout)', async () => {
    // Prepare
    const { app, callConnectionId } = await ringAndAnswer();
    const media = client.getCallConnection(callConnectionId).getCallMedia();

    // Act
    await media.startRecognizing(caller, {
      kind: 'callMediaRecognizeSpeechOptions',
      initialSilenceTimeoutInSeconds: 1,
      playPrompt: { kind: 'textSource', text: 'How can I help?' },
      operationContext: 'ask',
    });
    const failed = await app.waitForEvent('RecognizeFailed');

    // Assess
    expect(failed).toMatchObject({ operationContext: 'ask', resultInformation: { code: 400, subCode: 8510 } });
    expect(acs.calls.get(callConnectionId)?.heardPlays[0]).toMatchObject({ text: 'How can I help?', prompt: true, outcome: 'completed' });
  });

  it('cancels running media operations with PlayCanceled and RecognizeCanceled', async () => {
    // Prepare
    const { app, callConnectionId } = await ringAndAnswer();
    const media = client.getCallConnection(callConnectionId).getCallMedia();
    await media.playToAll([{ kind: 'textSource', text: 'x'.repeat(2000) }], { operationContext: 'long' });
    await media.startRecognizing(caller, { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 1, initialSilenceTimeoutInSeconds: 30, operationContext: 'menu' });

    // Act
    await media.cancelAllOperations();

    // Assess
    await expect(app.waitForEvent('PlayCanceled')).resolves.toMatchObject({ operationContext: 'long', resultInformation: { subCode: 8508 } });
    await expect(app.waitForEvent('RecognizeCanceled')).resolves.toMatchObject({ operationContext: 'menu' });
    expect(acs.calls.get(callConnectionId)?.heardPlays[0]?.outcome).toBe('canceled');
  });

  it('transfers the call: 202 with the operation context, CallTransferAccepted, then the leg disconnects', async () => {
    // Prepare
    const { app, callConnectionId } = await ringAndAnswer();
    const connection = client.getCallConnection(callConnectionId);

    // Act
    const result = await connection.transferCallToParticipant({ phoneNumber: '+15550100777' }, { operationContext: 'to-human' });
    const accepted = await app.waitForEvent('CallTransferAccepted');
    await app.waitForEvent('CallDisconnected');
    const afterwards = await restErrorOf(connection.getCallConnectionProperties());

    // Assess
    expect(result.operationContext).toBe('to-human');
    expect(accepted.operationContext).toBe('to-human');
    expect(accepted.transferTarget).toMatchObject({ kind: 'phoneNumber', phoneNumber: { value: '+15550100777' } });
    expect(afterwards.statusCode).toBe(404);
    expect(acs.calls.get(callConnectionId)?.endedBy).toBe('transfer');
  });

  it('hangs up (204) and terminates for everyone (204), each ending in CallDisconnected', async () => {
    // Prepare
    const first = await ringAndAnswer();
    await first.app.close();
    const second = await ringAndAnswer();

    // Act
    await client.getCallConnection(first.callConnectionId).hangUp(false);
    await client.getCallConnection(second.callConnectionId).hangUp(true);
    await second.app.waitForEvent('CallDisconnected');

    // Assess
    expect(acs.calls.get(first.callConnectionId)?.state).toBe('disconnected');
    expect(acs.calls.get(second.callConnectionId)?.events.at(-1)?.type).toBe('CallDisconnected');
    expect(acs.calls.get(first.callConnectionId)?.requests.at(-1)).toMatchObject({ operation: 'hangupCall', status: 204 });
    expect(acs.calls.get(second.callConnectionId)?.requests.at(-1)).toMatchObject({ operation: 'terminateCall', status: 204 });
  });

  it('honours Repeatability-Request-ID: a retried answer whose response was lost answers the call once', async () => {
    // Prepare
    acs.faults.loseResponses('answerCall');
    const before = acs.calls.size;

    // Act
    const { callConnectionId } = await ringAndAnswer();

    // Assess
    const answers = acs.requests.filter((r) => r.operation === 'answerCall' && r.callConnectionId === callConnectionId);
    expect(answers).toHaveLength(2);
    expect(answers[0]?.repeatabilityRequestId).toBe(answers[1]?.repeatabilityRequestId);
    expect(answers[1]?.replayed).toBe(true);
    expect(acs.calls.size).toBe(before + 1);
    expect(app?.errors).toEqual([]);
    expect(acs.calls.get(callConnectionId)?.state).toBe('connected');
  });

  it('refuses to answer the same incoming call twice when Event Grid redelivers it', async () => {
    // Prepare
    const { app, serverCallId } = await ringAndAnswer();
    const eventId = app.incoming[0]?.body[0].id as string;

    // Act
    const redelivery = await acs.eventGrid.redeliver(app.eventGridUrl, eventId);

    // Assess
    expect(redelivery.status).toBe(200);
    expect(app.incoming.map((i) => i.body[0].id)).toEqual([eventId, eventId]);
    expect(app.errors).toHaveLength(1);
    expect((app.errors[0] as RestError).statusCode).toBe(400);
    expect([...acs.calls.values()].filter((c) => c.serverCallId === serverCallId)).toHaveLength(1);
  });

  it('completes the Event Grid subscription validation handshake', async () => {
    // Prepare
    app = await startTestApp({ client, jwt: acs.jwt });

    // Act
    const result = await acs.eventGrid.validate(app.eventGridUrl);

    // Assess
    expect(result).toMatchObject({ status: 200, validated: true });
    expect(app.incoming[0]?.headers['aeg-event-type']).toBe('SubscriptionValidation');
    expect(app.incoming[0]?.body[0].eventType).toBe('Microsoft.EventGrid.SubscriptionValidationEvent');
  });

  it('places an outbound call: 201, then CallConnected once the callee answers', async () => {
    // Prepare
    app = await startTestApp({ client, jwt: acs.jwt });
    const created = acs.nextOutboundCall();

    // Act
    const result = await client.createCall({ targetParticipant: { phoneNumber: '+15550100555' }, sourceCallIdNumber: { phoneNumber: SERVICE_NUMBER } }, app.callbackUrl);
    const connected = await app.waitForEvent('CallConnected');

    // Assess
    expect(result.callConnectionProperties.callConnectionState).toBe('connecting');
    expect(connected.callConnectionId).toBe(result.callConnectionProperties.callConnectionId);
    expect((await created).direction).toBe('outbound');
  });
});

describe('ACS emulator: outbound calls with a scripted callee', () => {
  it('lets a scripted person pick up the call the app places and records what they heard', async () => {
    // Prepare: an app that reads a reminder and hangs up.
    const acs = await startAcsEmulator({ speechMsPerChar: 4, logger: collectingLogger().logger });
    const client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
    const app = await startTestApp({
      client,
      jwt: acs.jwt,
      onEvent: async (event, self) => {
        const connection = self.client.getCallConnection(event.callConnectionId);
        if (event.kind === 'CallConnected') await connection.getCallMedia().playToAll([{ kind: 'textSource', text: 'Your appointment is tomorrow at nine.' }]);
        if (event.kind === 'PlayCompleted') await connection.hangUp(false);
      },
    });
    try {
      const callee = acs.answerNextOutboundCall({ steps: [{ waitFor: 'greeting' }] });

      // Act
      await client.createCall({ targetParticipant: { phoneNumber: '+15550100555' }, sourceCallIdNumber: { phoneNumber: SERVICE_NUMBER } }, app.callbackUrl);
      const run = await callee;

      // Assess
      expect(run.heardText).toEqual(['Your appointment is tomorrow at nine.']);
      expect(run.operations).toEqual(['createCall', 'play', 'hangupCall']);
      expect(run.endedBy).toBe('app');
      expect(run.incomingCallStatus).toBeUndefined();
    } finally {
      await app.close();
      await acs.close();
    }
  });
});

describe('ACS emulator: callback delivery faults', () => {
  let acs: AcsEmulator;
  let client: CallAutomationClient;
  let app: TestApp | undefined;
  const log = collectingLogger();

  beforeAll(async () => {
    acs = await startAcsEmulator({ callbackRetryDelaysMs: [20, 20], logger: log.logger });
    client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    await app?.close();
  });
  afterAll(async () => {
    await acs.close();
  });

  it('retries a callback the app refused, with the same event id, until it is accepted', async () => {
    // Prepare
    let refusals = 2;
    app = await startTestApp({ client, jwt: acs.jwt, callbackStatus: () => (refusals-- > 0 ? 503 : 200) });

    // Act
    const incoming = await acs.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: SERVICE_NUMBER });
    await app.waitForEvent('CallConnected');
    // The app sees the event before the emulator reads the 200 reply, so wait for the delivery record.
    const call = await waitFor(() => acs.callByServerCallId(incoming.serverCallId));
    await call.callbacksSettled();

    // Assess
    const first = call.events[0];
    expect(first?.type).toBe('CallConnected');
    expect(first?.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    expect(first?.delivered).toBe(true);
  });

  it('gives up after the retries, records the failed delivery and logs it', async () => {
    // Prepare
    app = await startTestApp({ client, jwt: acs.jwt, callbackStatus: () => 500 });

    // Act
    const incoming = await acs.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: SERVICE_NUMBER });
    const call = await waitFor(() => acs.callByServerCallId(incoming.serverCallId));
    await call.callbacksSettled();

    // Assess
    expect(call.events[0]?.attempts).toHaveLength(3);
    expect(call.events[0]?.delivered).toBe(false);
    expect(log.warnings).toContainEqual({
      message: 'ACS emulator: callback not accepted after retries',
      fields: expect.objectContaining({ eventType: 'CallConnected', attempts: 3, lastStatus: 500 }),
    });
  });

  it('delivers every callback twice with the same id when asked to, so de-duplication can be tested', async () => {
    // Prepare
    const dup = await startAcsEmulator({ duplicateCallbacks: true });
    const dupClient = new CallAutomationClient(dup.connectionString, { allowInsecureConnection: true });
    app = await startTestApp({ client: dupClient, jwt: dup.jwt });

    try {
      // Act
      await dup.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: SERVICE_NUMBER });
      await app.waitForEvent('ParticipantsUpdated');
      await waitFor(() => app!.callbacks.length >= 4 || undefined);

      // Assess
      const ids = app.callbacks.map((c) => c.raw.id as string);
      expect(ids.slice(0, 4)).toEqual([ids[0], ids[0], ids[2], ids[2]]);
      expect(ids[0]).not.toBe(ids[2]);
    } finally {
      await dup.close();
    }
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
