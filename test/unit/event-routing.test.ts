import { describe, expect, it } from 'vitest';
import { ACS_SUBCODES, EVENT_DATA, parseCallAutomationEvents, type CallAutomationEvent, type CallAutomationEventKind } from '../../src/lib/acs/events.js';
import { AppError, classify } from '../../src/lib/errors.js';
import { callbackResponse, decideCall, decideEvent, failurePolicy, OPERATION, writesConversation, type ClaimOutcome, type RoutingMode } from '../../src/lib/calls/event-routing.js';
import type { CallSession } from '../../src/lib/calls/session.js';
import { CONNECTION_ID, CORRELATION_ID, SERVER_CALL_ID, cloudEvent, recognizeFailed, recognizeSpeech } from '../acs/fixtures.js';

/** One event as the handler sees it: parsed from the wire shape by the same parser. */
function parsed(raw: Record<string, unknown>): CallAutomationEvent {
  const result = parseCallAutomationEvents(JSON.stringify([raw]));
  if (!result.ok) throw new Error(`fixture does not parse: ${result.reason}`);
  return result.value[0]!;
}

function event(name: string, data: Record<string, unknown> = {}): CallAutomationEvent {
  return parsed(cloudEvent(name, data));
}

const connected: CallSession = {
  state: 'connected',
  direction: 'inbound',
  startedAt: '2026-11-25T17:00:00.000Z',
  callConnectionId: CONNECTION_ID,
  serverCallId: SERVER_CALL_ID,
  correlationId: CORRELATION_ID,
};
const answered: CallSession = { ...connected, state: 'answered' };
const hungUp: CallSession = { ...connected, state: 'disconnected' };

const FIRST: ClaimOutcome = { claimed: true, refused: false };
const DUPLICATE: ClaimOutcome = { claimed: false, refused: false };
const CLOSED: ClaimOutcome = { claimed: true, refused: true };

const RECOGNIZE_PLAY: RoutingMode = { realtimeMedia: false, mediaTransport: false, speechFallback: true };
const REALTIME: RoutingMode = { realtimeMedia: true, mediaTransport: true, speechFallback: true };

describe('which call a callback is routed to', () => {
  const events = [event('CallConnected')];

  it('recovers a call whose state Redis lost', () => {
    expect(decideCall({ kind: 'lost' }, events)).toEqual({ kind: 'recover_lost' });
  });

  it('recovers a session holding none of the call identifiers (a write replayed onto a lost key)', () => {
    const partial = { state: 'connected', direction: 'inbound', startedAt: connected.startedAt } as CallSession;
    expect(decideCall({ kind: 'read', session: partial }, events)).toEqual({ kind: 'recover_lost' });
  });

  it('acknowledges events for a call it does not have (cleaned up, or never ours)', () => {
    expect(decideCall({ kind: 'read', session: undefined }, events)).toEqual({ kind: 'unknown_call' });
  });

  it('rejects events that name another call than the session', () => {
    const other = event('CallConnected', { correlationId: 'another-correlation-id' });
    const decision = decideCall({ kind: 'read', session: connected }, [events[0]!, other]);
    expect(decision).toEqual({ kind: 'wrong_call', detail: 'events[1].data.correlationId belongs to another call' });
  });

  it('routes events that carry the session identifiers, or only some of them', () => {
    const beforeConnected: CallSession = { ...answered, callConnectionId: undefined } as CallSession;
    expect(decideCall({ kind: 'read', session: connected }, events)).toEqual({ kind: 'route', session: connected });
    expect(decideCall({ kind: 'read', session: beforeConnected }, events)).toEqual({ kind: 'route', session: beforeConnected });
  });
});

describe('what is done with one event', () => {
  it('skips a duplicate or redelivered event id before looking at its type', () => {
    for (const e of [event('CallConnected'), parsed(recognizeSpeech('hello')), event('CallDisconnected')]) {
      expect(decideEvent(e, connected, DUPLICATE, RECOGNIZE_PLAY)).toEqual({ kind: 'duplicate' });
    }
  });

  it('acknowledges unhandled a conversation event that comes after the call was closed for finalisation', () => {
    expect(decideEvent(parsed(recognizeSpeech('one more thing')), connected, CLOSED, RECOGNIZE_PLAY)).toEqual({ kind: 'closed' });
  });

  it('greets on CallConnected on the recognize/play path, and leaves it to the relay over a live media stream', () => {
    const e = event('CallConnected');
    expect(decideEvent(e, answered, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'connected', event: e, greet: true });
    expect(decideEvent(e, answered, FIRST, REALTIME)).toEqual({ kind: 'connected', event: e, greet: false });
    // The media stream failed before CallConnected: recognize/play greets.
    expect(decideEvent(e, { ...answered, mediaFailed: '2026-11-25T17:00:01.000Z' }, FIRST, REALTIME)).toEqual({ kind: 'connected', event: e, greet: true });
    // Realtime mode but no transport wired: nobody else would greet.
    expect(decideEvent(e, answered, FIRST, { ...REALTIME, mediaTransport: false })).toEqual({ kind: 'connected', event: e, greet: true });
  });

  it('answers a recognized utterance, and archives one that arrives after the hang-up as late', () => {
    const e = parsed(recognizeSpeech('I want to change my address'));
    expect(decideEvent(e, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'converse', event: e, late: false });
    expect(decideEvent(e, hungUp, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'converse', event: e, late: true });
  });

  it('re-prompts on silence or no match, and ends the call when speech itself is broken', () => {
    const silence = parsed(recognizeFailed(ACS_SUBCODES.recognizeInitialSilenceTimeout));
    const noMatch = parsed(recognizeFailed(ACS_SUBCODES.recognizeSpeechNotRecognized));
    expect(decideEvent(silence, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'reprompt', event: silence, silent: true });
    expect(decideEvent(noMatch, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'reprompt', event: noMatch, silent: false });
    for (const subCode of [ACS_SUBCODES.cognitiveServicesConnectionError, ACS_SUBCODES.playCognitiveServicesError, ACS_SUBCODES.recognizePlayPromptFailed]) {
      const broken = parsed(recognizeFailed(subCode));
      expect(decideEvent(broken, connected, FIRST, RECOGNIZE_PLAY), `subCode ${subCode}`).toEqual({ kind: 'end_speech_failure', event: broken });
    }
  });

  it('after a play, hangs up after the goodbye, transfers after the hold prompt, and does nothing otherwise, whether it completed or failed', () => {
    const cases = [
      [OPERATION.goodbye, 'hang_up'],
      [OPERATION.transferHold, 'transfer'],
      [OPERATION.turn, 'nothing'],
      [undefined, 'nothing'],
    ] as const;
    for (const [operationContext, then] of cases) {
      for (const name of ['PlayCompleted', 'PlayFailed']) {
        const e = event(name, operationContext === undefined ? {} : { operationContext });
        expect(decideEvent(e, connected, FIRST, RECOGNIZE_PLAY), `${name} ${operationContext}`).toEqual({ kind: 'played', event: e, then, failed: name === 'PlayFailed' });
      }
    }
  });

  it('records a transfer, listens again when it fails, and ends the call on CallDisconnected', () => {
    const accepted = event('CallTransferAccepted');
    const failed = event('CallTransferFailed', { resultInformation: { code: 500, subCode: 7504 } });
    const disconnected = event('CallDisconnected');
    expect(decideEvent(accepted, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'transfer_accepted', event: accepted });
    expect(decideEvent(failed, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'transfer_failed', event: failed });
    expect(decideEvent(disconnected, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'disconnected', event: disconnected });
  });

  it('ends the lifecycle of a call that never connected', () => {
    for (const name of ['AnswerFailed', 'CreateCallFailed']) {
      const e = event(name, { resultInformation: { code: 500, subCode: 8522 } });
      expect(decideEvent(e, answered, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'never_connected', event: e });
    }
  });

  it('falls back from a failed media stream only once, in media mode, by what the call can still do', () => {
    const e = event('MediaStreamingFailed', { mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingFailed' } });
    const fallenBack = { ...connected, mediaFailed: '2026-11-25T17:00:01.000Z' };
    expect(decideEvent(e, connected, FIRST, RECOGNIZE_PLAY)).toMatchObject({ kind: 'media_failed', then: 'acknowledge' });
    expect(decideEvent(e, fallenBack, FIRST, REALTIME)).toMatchObject({ kind: 'media_failed', then: 'acknowledge' });
    expect(decideEvent(e, connected, FIRST, { ...REALTIME, speechFallback: false })).toMatchObject({ kind: 'media_failed', then: 'hang_up' });
    expect(decideEvent(e, connected, FIRST, REALTIME)).toEqual({ kind: 'media_failed', event: e, then: 'greet' });
    expect(decideEvent(e, answered, FIRST, REALTIME)).toMatchObject({ kind: 'media_failed', then: 'await_connected' });
  });

  it('acknowledges every other known event type, and one it does not know', () => {
    const routed = new Set<CallAutomationEventKind>([
      'CallConnected',
      'RecognizeCompleted',
      'RecognizeFailed',
      'PlayCompleted',
      'PlayFailed',
      'CallTransferAccepted',
      'CallTransferFailed',
      'CallDisconnected',
      'AnswerFailed',
      'CreateCallFailed',
      'MediaStreamingFailed',
    ]);
    const others = (Object.keys(EVENT_DATA) as CallAutomationEventKind[]).filter((kind) => !routed.has(kind));
    expect(others).toContain('ParticipantsUpdated');
    for (const kind of others) {
      const e = parsed(cloudEvent(kind, dataFor(kind)));
      expect(decideEvent(e, connected, FIRST, RECOGNIZE_PLAY), kind).toEqual({ kind: 'acknowledge', event: e, known: true });
    }
    const unknown = event('SomethingNewFromAcs');
    expect(unknown.kind).toBe('unknown');
    expect(decideEvent(unknown, connected, FIRST, RECOGNIZE_PLAY)).toEqual({ kind: 'acknowledge', event: unknown, known: false });
  });

  it('takes a turn lease only for the events that write the conversation', () => {
    expect(writesConversation(event('CallConnected'))).toBe(true);
    expect(writesConversation(parsed(recognizeSpeech('hi')))).toBe(true);
    expect(writesConversation(parsed(recognizeFailed(ACS_SUBCODES.recognizeInitialSilenceTimeout)))).toBe(true);
    for (const name of ['PlayCompleted', 'CallDisconnected', 'CallTransferAccepted', 'MediaStreamingFailed', 'ParticipantsUpdated']) {
      expect(writesConversation(event(name, dataFor(name))), name).toBe(false);
    }
  });
});

/** The fields a few event types require beyond the common ones. */
function dataFor(kind: string): Record<string, unknown> {
  if (kind === 'ParticipantsUpdated') return { participants: [] };
  if (kind === 'ContinuousDtmfRecognitionToneReceived') return { tone: 'one', sequenceId: 1 };
  if (kind.startsWith('CancelAddParticipant')) return { invitationId: 'invitation-1' };
  return {};
}

describe('what a failed handling does, and what ACS is answered', () => {
  it('redelivers what may pass on a retry, rejects what cannot, and acknowledges a call that has gone', () => {
    expect(failurePolicy(classify(new AppError('Redis timed out', { code: 'timeout', retryable: true })))).toBe('redeliver');
    expect(failurePolicy('retry')).toBe('redeliver');
    expect(failurePolicy('fatal')).toBe('reject');
    expect(failurePolicy('gone')).toBe('acknowledge');
  });

  it('answers 500 when an event is to be redelivered, else 200 with what was handled and rejected', () => {
    expect(callbackResponse({ handled: 2, failed: 0, rejected: 0 })).toEqual({ status: 200, jsonBody: { handled: 2 } });
    expect(callbackResponse({ handled: 1, failed: 0, rejected: 1 })).toEqual({ status: 200, jsonBody: { handled: 1, rejected: 1 } });
    expect(callbackResponse({ handled: 1, failed: 1, rejected: 0 })).toEqual({ status: 500, jsonBody: { error: 'event_failed', handled: 1, failed: 1 } });
    expect(callbackResponse({ handled: 0, failed: 1, rejected: 1 })).toEqual({ status: 500, jsonBody: { error: 'event_failed', handled: 0, failed: 1, rejected: 1 } });
  });
});
