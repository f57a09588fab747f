import { checkEventsBelongToCall } from '../acs/callback-auth.js';
import { isEvent, isSilenceTimeout, isSpeechServiceFailure, type CallAutomationEvent } from '../acs/events.js';
import type { ErrorClass } from '../errors.js';
import { ok, type WebhookResponse } from './http.js';
import type { CallSession } from './session.js';

/**
 * The routing decisions of the ACS callback handler (`handleCallEvents`), as pure functions: what the
 * stored session, the event's type and data, and the claim on its id say to do. The handler does the
 * I/O around them (reads, claims, ACS requests) and acts on what they return.
 */

/** operationContext values: they come back on the Play and Recognize events and say what to do next. */
export const OPERATION = {
  greeting: 'greeting',
  turn: 'turn',
  reprompt: 'reprompt',
  goodbye: 'goodbye',
  transferHold: 'transfer-hold',
  transfer: 'transfer',
} as const;

/** What the store answered for the call a callback names. */
export type StoredCall = { readonly kind: 'lost' } | { readonly kind: 'read'; readonly session: CallSession | undefined };

export type CallDecision =
  /** Redis lost the session: rebuild enough of it to end the call with the recovery prompt. */
  | { readonly kind: 'recover_lost' }
  /** A late event for a call already cleaned up, or never ours: acknowledged, nothing handled. */
  | { readonly kind: 'unknown_call' }
  /** The events name another call than the signed URL's: rejected (401) and audited. */
  | { readonly kind: 'wrong_call'; readonly detail: string }
  | { readonly kind: 'route'; readonly session: CallSession };

export function decideCall(stored: StoredCall, events: readonly CallAutomationEvent[]): CallDecision {
  if (stored.kind === 'lost') return { kind: 'recover_lost' };
  const { session } = stored;
  if (!session) return { kind: 'unknown_call' };
  // Every session is created with the call's identifiers; one holding none is what a write replayed
  // onto a lost key leaves behind (only the fields written later). It cannot be checked or acted on.
  if (!session.callConnectionId && !session.serverCallId && !session.correlationId) return { kind: 'recover_lost' };
  const binding = checkEventsBelongToCall(events, {
    callConnectionId: session.callConnectionId,
    serverCallId: session.serverCallId,
    correlationId: session.correlationId,
  });
  return binding.ok ? { kind: 'route', session } : { kind: 'wrong_call', detail: binding.detail };
}

/** Events whose handling appends to the conversation: they run as turns the finaliser waits for. */
const WRITES_CONVERSATION: ReadonlySet<CallAutomationEvent['kind']> = new Set(['CallConnected', 'RecognizeCompleted', 'RecognizeFailed']);

/** Whether the event's claim also takes a turn lease (and is refused once the call is closed). */
export function writesConversation(event: CallAutomationEvent): boolean {
  return WRITES_CONVERSATION.has(event.kind);
}

/** What claiming the event id answered. */
export interface ClaimOutcome {
  /** First delivery of this event id for the call. */
  readonly claimed: boolean;
  /** The call is closed for finalisation: the event must not write the conversation. */
  readonly refused: boolean;
}

/** The settings and wiring the routing reads. */
export interface RoutingMode {
  /** `MEDIA_MODE=realtime`: the relay's voice agent converses over the media stream. */
  readonly realtimeMedia: boolean;
  /** A media transport URL can be minted (the media stream is wired). */
  readonly mediaTransport: boolean;
  /** A Cognitive Services link exists, so recognize/play can stand in for a failed media stream. */
  readonly speechFallback: boolean;
}

type EventOf<K extends CallAutomationEvent['kind']> = Extract<CallAutomationEvent, { kind: K }>;

export type EventRoute =
  /** A redelivery or duplicate of an event already claimed: skipped, not counted. */
  | { readonly kind: 'duplicate' }
  /** After the call was closed for finalisation: acknowledged unhandled. */
  | { readonly kind: 'closed' }
  /** Record the connection; greet unless the relay's agent converses over the media stream. */
  | { readonly kind: 'connected'; readonly event: EventOf<'CallConnected'>; readonly greet: boolean }
  /** A caller turn; `late` when it arrived after the hang-up (archived, not answered). */
  | { readonly kind: 'converse'; readonly event: EventOf<'RecognizeCompleted'>; readonly late: boolean }
  /** Speech itself is broken: re-prompting cannot help, the call ends with the failure prompt. */
  | { readonly kind: 'end_speech_failure'; readonly event: EventOf<'RecognizeFailed'> }
  /** Silence or no match: re-prompt, or say goodbye past the re-prompt limit. */
  | { readonly kind: 'reprompt'; readonly event: EventOf<'RecognizeFailed'>; readonly silent: boolean }
  /** A prompt finished: hang up after the goodbye, transfer after the hold prompt, else nothing. */
  | { readonly kind: 'played'; readonly event: EventOf<'PlayCompleted' | 'PlayFailed'>; readonly then: 'hang_up' | 'transfer' | 'nothing'; readonly failed: boolean }
  | { readonly kind: 'transfer_accepted'; readonly event: EventOf<'CallTransferAccepted'> }
  /** The transfer failed: audited, and the caller is listened to again. */
  | { readonly kind: 'transfer_failed'; readonly event: EventOf<'CallTransferFailed'> }
  | { readonly kind: 'disconnected'; readonly event: EventOf<'CallDisconnected'> }
  /** The call never connected (no CallDisconnected follows): the lifecycle ends now. */
  | { readonly kind: 'never_connected'; readonly event: EventOf<'AnswerFailed' | 'CreateCallFailed'> }
  /**
   * The media stream failed. `acknowledge`: not in media mode, or already fallen back; otherwise the
   * fallback is recorded and the call `hang_up`s (no speech link), is greeted now (already connected),
   * or is greeted by the CallConnected still to come (`await_connected`).
   */
  | { readonly kind: 'media_failed'; readonly event: EventOf<'MediaStreamingFailed'>; readonly then: 'acknowledge' | 'hang_up' | 'greet' | 'await_connected' }
  /** Nothing to do: ParticipantsUpdated, an event type we do not act on, or one we do not know. */
  | { readonly kind: 'acknowledge'; readonly event: CallAutomationEvent; readonly known: boolean };

/** What to do with one event of a routed call, from its claim, its type and data, and the session. */
export function decideEvent(event: CallAutomationEvent, session: CallSession, claim: ClaimOutcome, mode: RoutingMode): EventRoute {
  if (!claim.claimed) return { kind: 'duplicate' };
  if (claim.refused) return { kind: 'closed' };
  if (isEvent(event, 'CallConnected')) {
    // In realtime media mode the relay's voice agent greets and converses; no recognize/play turns here,
    // unless the media stream already failed (MediaStreamingFailed can come before CallConnected).
    const overMediaStream = mode.realtimeMedia && mode.mediaTransport && session.mediaFailed === undefined;
    return { kind: 'connected', event, greet: !overMediaStream };
  }
  // Delivered after the hang-up (ACS's events can overtake one another): nobody is left to answer.
  if (isEvent(event, 'RecognizeCompleted')) return { kind: 'converse', event, late: session.state === 'disconnected' };
  if (isEvent(event, 'RecognizeFailed')) {
    return isSpeechServiceFailure(event.data) ? { kind: 'end_speech_failure', event } : { kind: 'reprompt', event, silent: isSilenceTimeout(event.data) };
  }
  if (isEvent(event, 'PlayCompleted') || isEvent(event, 'PlayFailed')) {
    // Prompts played inside recognize come back as Recognize* events; a play's context says what follows it.
    const context = event.data.operationContext;
    const then = context === OPERATION.goodbye ? 'hang_up' : context === OPERATION.transferHold ? 'transfer' : 'nothing';
    return { kind: 'played', event, then, failed: event.kind === 'PlayFailed' };
  }
  if (isEvent(event, 'CallTransferAccepted')) return { kind: 'transfer_accepted', event };
  if (isEvent(event, 'CallTransferFailed')) return { kind: 'transfer_failed', event };
  if (isEvent(event, 'CallDisconnected')) return { kind: 'disconnected', event };
  if (isEvent(event, 'AnswerFailed') || isEvent(event, 'CreateCallFailed')) return { kind: 'never_connected', event };
  if (isEvent(event, 'MediaStreamingFailed')) return { kind: 'media_failed', event, then: mediaFallback(session, mode) };
  return { kind: 'acknowledge', event, known: event.kind !== 'unknown' };
}

function mediaFallback(session: CallSession, mode: RoutingMode): Extract<EventRoute, { kind: 'media_failed' }>['then'] {
  if (!mode.realtimeMedia || session.mediaFailed !== undefined) return 'acknowledge';
  if (!mode.speechFallback) return 'hang_up';
  // Before CallConnected the greeting follows it; after, the caller is greeted (or resumed) now.
  return session.state === 'connected' ? 'greet' : 'await_connected';
}

/**
 * What a failed handling does, by its classification: `redeliver` releases the claim and answers 500
 * so ACS retries; `reject` is audited and acknowledged (no retry can change it); `acknowledge` is a
 * call that has ended while the event was handled (CallDisconnected ends it).
 */
export function failurePolicy(verdict: ErrorClass): 'redeliver' | 'reject' | 'acknowledge' {
  if (verdict === 'gone') return 'acknowledge';
  return verdict === 'fatal' ? 'reject' : 'redeliver';
}

export interface CallbackTally {
  readonly handled: number;
  readonly failed: number;
  readonly rejected: number;
}

/** 500 when any event should be redelivered (the ones handled are skipped by their id then), else 200. */
export function callbackResponse({ handled, failed, rejected }: CallbackTally): WebhookResponse {
  if (failed > 0) return { status: 500, jsonBody: { error: 'event_failed', handled, failed, ...(rejected > 0 ? { rejected } : {}) } };
  return ok(rejected > 0 ? { handled, rejected } : { handled });
}
