import { parseCallAutomationEvent } from '@azure/communication-call-automation';
import { describe, expect, it } from 'vitest';
import {
  ACS_SUBCODES,
  isEvent,
  isNoMatch,
  isSilenceTimeout,
  parseCallAutomationEvents,
  parseEventGridEvents,
  phoneNumberOf,
  recognizedText,
  webhookHandshake,
} from '../../src/lib/acs/events.js';
import { CALLER, CONNECTION_ID, cloudEvent, incomingCallEventGrid, ok, recognizeFailed, recognizeSpeech } from './fixtures.js';

describe('Call Automation callback events', () => {
  it('parses every event of the array with typed data', () => {
    // Prepare
    const body = JSON.stringify([
      cloudEvent('CallConnected', { resultInformation: ok }),
      recognizeSpeech('What are your opening hours?'),
      cloudEvent('ParticipantsUpdated', {
        sequenceNumber: 3,
        participants: [{ identifier: { kind: 'phoneNumber', rawId: `4:${CALLER}`, phoneNumber: { value: CALLER } }, isMuted: false }],
      }),
      cloudEvent('PlayCompleted', { operationContext: 'greeting', resultInformation: ok }),
      cloudEvent('CallDisconnected'),
    ]);
    // Act
    const parsed = parseCallAutomationEvents(body);
    // Assess
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.map((e) => e.kind)).toEqual(['CallConnected', 'RecognizeCompleted', 'ParticipantsUpdated', 'PlayCompleted', 'CallDisconnected']);
    const recognized = parsed.value[1]!;
    expect(isEvent(recognized, 'RecognizeCompleted') && recognizedText(recognized.data)).toBe('What are your opening hours?');
    const participants = parsed.value[2]!;
    expect(isEvent(participants, 'ParticipantsUpdated') && participants.data.participants.length).toBe(1);
    expect(parsed.value[0]!.id).toMatch(/^evt-/);
  });

  it('agrees with the SDK’s own parser on kind and identifiers for every known type', () => {
    // Prepare: one body per type the SDK knows, with the extra fields its models declare
    const samples = [
      cloudEvent('CallConnected'),
      cloudEvent('CallDisconnected'),
      cloudEvent('CallTransferAccepted', { transferee: { rawId: `4:${CALLER}` }, transferTarget: { rawId: '4:+15550100777' } }),
      cloudEvent('CallTransferFailed', { resultInformation: { code: 500, subCode: 7000, message: 'x' } }),
      cloudEvent('ParticipantsUpdated', { participants: [] }),
      cloudEvent('AddParticipantSucceeded', { participant: { rawId: '8:acs:u1', communicationUser: { id: '8:acs:u1' } } }),
      cloudEvent('AddParticipantFailed', { participant: { rawId: '8:acs:u1', communicationUser: { id: '8:acs:u1' } } }),
      cloudEvent('CancelAddParticipantSucceeded', { invitationId: 'inv-1' }),
      cloudEvent('CancelAddParticipantFailed', { invitationId: 'inv-1' }),
      cloudEvent('PlayStarted'),
      cloudEvent('PlayCompleted'),
      cloudEvent('PlayFailed', { failedPlaySourceIndex: 0, resultInformation: { code: 400, subCode: 8565, message: 'tts' } }),
      cloudEvent('PlayCanceled'),
      recognizeSpeech('hi'),
      cloudEvent('RecognizeCompleted', { recognitionType: 'dtmf', dtmfResult: { tones: ['one', 'two'] } }),
      cloudEvent('RecognizeCompleted', { recognitionType: 'choices', choiceResult: { label: 'billing', recognizedPhrase: 'Billing please' } }),
      recognizeFailed(8510),
      cloudEvent('RecognizeCanceled'),
      cloudEvent('ContinuousDtmfRecognitionToneReceived', { tone: 'five', sequenceId: 1 }),
      cloudEvent('ContinuousDtmfRecognitionToneFailed'),
      cloudEvent('ContinuousDtmfRecognitionStopped'),
      cloudEvent('SendDtmfTonesCompleted'),
      cloudEvent('SendDtmfTonesFailed'),
      cloudEvent('HoldFailed'),
      cloudEvent('MediaStreamingStarted', {
        mediaStreamingUpdate: { contentType: 'Audio', mediaStreamingStatus: 'mediaStreamingStarted', mediaStreamingStatusDetails: 'subscriptionStarted' },
      }),
      cloudEvent('MediaStreamingStopped', { mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingStopped' } }),
      cloudEvent('MediaStreamingFailed', { mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingFailed' } }),
    ];
    // Act
    const ours = samples.map((s) => parseCallAutomationEvents([s]));
    const sdk = samples.map((s) => parseCallAutomationEvent(JSON.stringify([s])));
    // Assess
    for (const [i, result] of ours.entries()) {
      expect(result.ok, JSON.stringify(samples[i]!.type)).toBe(true);
      if (!result.ok) continue;
      expect(result.value[0]!.kind).toBe(sdk[i]!.kind);
      expect((result.value[0]!.data as { callConnectionId: string }).callConnectionId).toBe(sdk[i]!.callConnectionId);
    }
  });

  it('keeps unknown event types as unknown instead of failing the delivery', () => {
    // Prepare
    const body = [cloudEvent('SomethingNew', { extra: 1 }), cloudEvent('CallConnected')];
    // Act
    const parsed = parseCallAutomationEvents(body);
    // Assess
    expect(parsed.ok && parsed.value.map((e) => [e.kind, e.type])).toEqual([
      ['unknown', 'Microsoft.Communication.SomethingNew'],
      ['CallConnected', 'Microsoft.Communication.CallConnected'],
    ]);
  });

  it('gives a precise reason for each kind of malformed body', () => {
    // Prepare
    const missingConnection = cloudEvent('CallConnected');
    delete (missingConnection.data as Record<string, unknown>).callConnectionId;
    const speechWithoutResult = cloudEvent('RecognizeCompleted', { recognitionType: 'speech' });
    const badType = cloudEvent('RecognizeCompleted', { recognitionType: 'telepathy', speechResult: { speech: 'x' } });
    const noId = { ...cloudEvent('CallConnected'), id: undefined };
    const wrongSpec = { ...cloudEvent('CallConnected'), specversion: '0.3' };
    const badResult = cloudEvent('PlayFailed', { resultInformation: { code: 'four hundred' } });
    const cases: [unknown, string][] = [
      ['{not json', 'body: not valid JSON'],
      ['"text"', 'events: expected an array of CloudEvents'],
      ['[]', 'events: empty array'],
      [[cloudEvent('CallConnected'), cloudEvent('PlayCompleted'), missingConnection], 'events[2].data.callConnectionId: required'],
      [[speechWithoutResult], 'events[0].data.speechResult: required when recognitionType is speech'],
      [[badType], 'events[0].data.recognitionType: expected one of "speech", "dtmf", "choices"'],
      [[noId], 'events[0].id: required'],
      [[wrongSpec], 'events[0].specversion: expected one of "1.0"'],
      [[badResult], 'events[0].data.resultInformation.code: expected number'],
      [[{ ...cloudEvent('CallConnected'), data: 'x' }], 'events[0].data: expected record'],
      [Array.from({ length: 101 }, () => cloudEvent('PlayCompleted')), 'events: more than 100 events'],
    ];
    // Act
    const reasons = cases.map(([body]) => {
      const parsed = parseCallAutomationEvents(body);
      return parsed.ok ? 'ok' : parsed.reason;
    });
    // Assess
    expect(reasons).toEqual(cases.map(([, reason]) => reason));
  });

  it('classifies recognize failures by the verified ACS sub-codes', () => {
    // Prepare
    const silence = recognizeFailed(ACS_SUBCODES.recognizeInitialSilenceTimeout).data as never;
    const noMatch = recognizeFailed(ACS_SUBCODES.recognizeSpeechNotRecognized).data as never;
    const promptFailed = recognizeFailed(ACS_SUBCODES.recognizePlayPromptFailed).data as never;
    // Act + Assess
    expect([isSilenceTimeout(silence), isNoMatch(silence)]).toEqual([true, false]);
    expect([isSilenceTimeout(noMatch), isNoMatch(noMatch)]).toEqual([false, true]);
    expect([isSilenceTimeout(promptFailed), isNoMatch(promptFailed)]).toEqual([false, false]);
  });

  it('reads the recognized text of speech, choice and DTMF results', () => {
    // Prepare
    const parsed = parseCallAutomationEvents([
      recognizeSpeech('  billing question  '),
      cloudEvent('RecognizeCompleted', { recognitionType: 'choices', choiceResult: { label: 'billing' } }),
      cloudEvent('RecognizeCompleted', { recognitionType: 'dtmf', dtmfResult: { tones: ['one', 'pound'] } }),
    ]);
    // Act
    const texts = parsed.ok ? parsed.value.map((e) => (isEvent(e, 'RecognizeCompleted') ? recognizedText(e.data) : '')) : [];
    // Assess
    expect(texts).toEqual(['billing question', 'billing', 'one pound']);
  });
});

describe('Event Grid deliveries', () => {
  it('answers subscription validation with its code', () => {
    // Prepare
    const body = [
      {
        id: 'v1',
        topic: '/subscriptions/x',
        subject: '',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: '2026-11-25T17:00:00Z',
        data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6', validationUrl: 'https://rp-eastus2.eventgrid.azure.net/...' },
        dataVersion: '2',
        metadataVersion: '1',
      },
    ];
    // Act
    const parsed = parseEventGridEvents(JSON.stringify(body));
    // Assess
    expect(parsed.ok && parsed.value[0]).toMatchObject({ kind: 'subscriptionValidation', validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  });

  it('parses IncomingCall in the Event Grid and the CloudEvents schema alike', () => {
    // Prepare
    const eg = incomingCallEventGrid('eg-7');
    const ce = { id: 'ce-7', source: eg.topic, type: eg.eventType, time: eg.eventTime, specversion: '1.0', data: eg.data };
    // Act
    const fromEg = parseEventGridEvents([eg]);
    const fromCe = parseEventGridEvents(ce);
    // Assess
    for (const parsed of [fromEg, fromCe]) {
      expect(parsed.ok).toBe(true);
      const event = parsed.ok ? parsed.value[0] : undefined;
      expect(event?.kind).toBe('incomingCall');
      if (event?.kind === 'incomingCall') {
        expect(phoneNumberOf(event.data.from)).toBe(CALLER);
        expect(event.data.incomingCallContext).toBe(eg.data.incomingCallContext);
      }
    }
    expect(fromEg.ok && fromEg.value[0]!.id).toBe('eg-7');
  });

  it('names the missing IncomingCall field and never echoes the caller number', () => {
    // Prepare
    const eg = incomingCallEventGrid();
    const { incomingCallContext: _omitted, ...data } = eg.data;
    const wrongFrom = { ...eg, data: { ...eg.data, from: CALLER } };
    // Act
    const missing = parseEventGridEvents([{ ...eg, data }]);
    const wrong = parseEventGridEvents([wrongFrom]);
    const neither = parseEventGridEvents([{ hello: 'world' }]);
    // Assess
    expect(missing).toEqual({ ok: false, reason: 'events[0].data.incomingCallContext: required' });
    expect(wrong).toEqual({ ok: false, reason: 'events[0].data.from: expected object' });
    expect(JSON.stringify(wrong)).not.toContain(CALLER);
    expect(neither.ok).toBe(false);
  });

  it('keeps other event types as unknown and answers the CloudEvents OPTIONS handshake', () => {
    // Prepare
    const other = { ...incomingCallEventGrid(), eventType: 'Microsoft.Communication.CallEnded' };
    const handshake = new Headers({ 'WebHook-Request-Origin': 'eventgrid.azure.net' });
    // Act
    const parsed = parseEventGridEvents([other]);
    const allowed = webhookHandshake(handshake);
    const notHandshake = webhookHandshake(new Headers());
    // Assess
    expect(parsed.ok && parsed.value[0]!.kind).toBe('unknown');
    expect(allowed).toEqual({ 'WebHook-Allowed-Origin': 'eventgrid.azure.net', 'WebHook-Allowed-Rate': '*' });
    expect(notHandshake).toBeUndefined();
  });

  it('keeps the connection id of the callback source for routing', () => {
    const parsed = parseCallAutomationEvents([cloudEvent('CallConnected')]);
    expect(parsed.ok && parsed.value[0]!.source).toBe(`calling/callConnections/${CONNECTION_ID}`);
  });
});
