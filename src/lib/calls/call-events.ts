import { randomUUID } from 'node:crypto';
import type { CallConnection, CallMedia } from '@azure/communication-call-automation';
import { createCallbackAuthenticator, checkEventsBelongToCall, type CallbackAuthenticator } from '../acs/callback-auth.js';
import { callConnection, callMedia, phoneIdentifier, playText, recognizeSpeech } from '../acs/client.js';
import {
  isEvent,
  isSilenceTimeout,
  isSpeechServiceFailure,
  parseCallAutomationEvents,
  recognizedText,
  type CallAutomationEvent,
} from '../acs/events.js';
import { fixedPromptsFor, nextStep, perform, transferTargetFor, type CallActions, type FixedPrompts } from '../agents/call-core.js';
import type { AgentReply } from '../agent/types.js';
import { ConversationManager } from '../state/conversation/conversation-manager.js';
import type { JsonValue } from '../state/codec.js';
import type { CallControlDeps } from './ports.js';
import { badRequest, ok, type WebhookRequest, type WebhookResponse } from './http.js';
import { toCallSession, type CallSession } from './session.js';

/** operationContext values: they come back on the Play and Recognize events and say what to do next. */
export const OPERATION = {
  greeting: 'greeting',
  turn: 'turn',
  reprompt: 'reprompt',
  goodbye: 'goodbye',
  transferHold: 'transfer-hold',
  transfer: 'transfer',
} as const;

const authenticators = new WeakMap<CallControlDeps['config'], CallbackAuthenticator>();

function authenticatorFor(deps: CallControlDeps): CallbackAuthenticator {
  let auth = authenticators.get(deps.config);
  if (!auth) {
    auth = createCallbackAuthenticator(deps.config.acs);
    authenticators.set(deps.config, auth);
  }
  return auth;
}

/**
 * POST /api/callEvents: authenticate, parse, de-duplicate and route every CloudEvent of the body.
 * Each event is handled on its own: one that fails is logged with its id and the request answers
 * 500 so ACS retries; events already handled are skipped by their id on the retry.
 */
export async function handleCallEvents(request: WebhookRequest, deps: CallControlDeps): Promise<WebhookResponse> {
  const { logger } = deps;
  const urlCallId = new URL(request.url, 'http://localhost').searchParams.get('callId') ?? undefined;
  const auth = await authenticatorFor(deps).authenticate({ url: request.url, authorization: request.headers.get('authorization') });
  if (!auth.ok) {
    logger.warn('callback rejected', { reason: auth.reason, detail: auth.detail, callId: urlCallId });
    if (urlCallId && (await isKnownCall(deps, urlCallId))) await auditAuthFailure(deps, urlCallId, auth.reason);
    return { status: auth.status, jsonBody: { error: 'unauthorized', reason: auth.reason } };
  }
  const callId = auth.callId ?? urlCallId;
  if (!callId) return badRequest('callId: missing from the callback URL');

  const parsed = parseCallAutomationEvents(await request.text());
  if (!parsed.ok) return badRequest(parsed.reason);

  const session = toCallSession(await deps.store.getCallSession(callId));
  if (!session) {
    // A late event for a call already cleaned up (or never ours): acknowledge so ACS stops retrying.
    logger.warn('events for an unknown call acknowledged', { callId, types: parsed.value.map((e) => e.type) });
    return ok({ handled: 0 });
  }
  const binding = checkEventsBelongToCall(parsed.value, {
    callConnectionId: session.callConnectionId,
    serverCallId: session.serverCallId,
    correlationId: session.correlationId,
  });
  if (!binding.ok) {
    logger.warn('callback events belong to another call', { callId, detail: binding.detail });
    await auditAuthFailure(deps, callId, 'call_mismatch');
    return { status: 401, jsonBody: { error: 'unauthorized', reason: 'call_mismatch' } };
  }

  let handled = 0;
  let failed = 0;
  for (const event of parsed.value) {
    const claim = await claimEvent(callId, event, deps);
    if (!claim.claimed) {
      logger.debug('duplicate event skipped', { callId, eventId: event.id, type: event.type });
      continue;
    }
    if (claim.refused) {
      logger.info('event after the call closed; not handled', { callId, eventId: event.id, type: event.type });
      handled += 1;
      continue;
    }
    try {
      await routeEvent(callId, session, event, deps);
      handled += 1;
    } catch (err) {
      if (isCallGone(err)) {
        // The caller hung up while we handled the event (e.g. during the greeting): ACS answers the
        // media operation with 404. A retry cannot succeed; CallDisconnected ends the call.
        logger.info('call already ended; event acknowledged', { callId, eventId: event.id, type: event.type });
        handled += 1;
        continue;
      }
      failed += 1;
      // Let ACS redeliver this event: forget the claim so the retry is not skipped as a duplicate.
      await deps.store.releaseEvent(callId, event.id).catch((releaseErr: unknown) =>
        logger.error('could not release event claim', { callId, eventId: event.id, error: releaseErr as Error }),
      );
      logger.error('event handling failed', { callId, eventId: event.id, type: event.type, error: err as Error });
    } finally {
      claim.endTurn();
    }
  }
  if (failed > 0) return { status: 500, jsonBody: { error: 'event_failed', handled, failed } };
  return ok({ handled });
}

/** Events whose handling appends to the conversation: they run as turns the finaliser waits for. */
const WRITES_CONVERSATION: ReadonlySet<CallAutomationEvent['kind']> = new Set(['CallConnected', 'RecognizeCompleted', 'RecognizeFailed']);

interface EventClaim {
  /** First delivery of this event id for the call: handle it. */
  readonly claimed: boolean;
  /** The call is closed for finalisation: the event must not write the conversation. */
  readonly refused: boolean;
  /** Ends the turn lease once the turn's writes are made (no-op without one); never throws. */
  endTurn(): void;
}

/**
 * Claims the event id (ACS retries and duplicates are handled once). An event that writes the
 * conversation also takes a turn lease in the same round trip, so finalisation waits for it instead
 * of archiving without it; once the call is closed the lease is refused and the event acknowledged
 * unhandled (the call has ended and its transcript is being archived). Each handling has its own
 * lease id: a duplicate delivery must not end the lease of the handling still in flight. Without
 * Redis there is no arbiter; the turn goes on unfenced and its writes are journaled.
 */
async function claimEvent(callId: string, event: CallAutomationEvent, deps: CallControlDeps): Promise<EventClaim> {
  if (!WRITES_CONVERSATION.has(event.kind)) return { claimed: await deps.store.claimEvent(callId, event.id), refused: false, endTurn: () => undefined };
  const turnId = `${event.id}.${randomUUID()}`;
  const { claimed, lease } = await deps.store.claimTurnEvent(callId, event.id, turnId);
  if (claimed && lease === 'none') deps.logger.warn('turn not fenced: Redis unavailable', { callId, eventId: event.id, type: event.type });
  let ended = lease !== 'held';
  return {
    claimed,
    refused: lease === 'refused',
    endTurn() {
      if (ended) return;
      ended = true;
      // After the reply to ACS, which need not wait for it. If it is lost the lease runs out, and
      // finalisation waits for it at most that long.
      setImmediate(() => {
        deps.store.endTurn(callId, turnId).catch((err: unknown) => deps.logger.warn('turn lease not ended', { callId, eventId: event.id, error: err as Error }));
      });
    },
  };
}

/**
 * Rejections are audited on calls we have, never on any id an unauthenticated request names: otherwise
 * anyone could make us write audit documents (Cosmos DB request units) at will.
 */
async function isKnownCall(deps: CallControlDeps, callId: string): Promise<boolean> {
  try {
    return toCallSession(await deps.store.getCallSession(callId)) !== undefined;
  } catch {
    // Not even a valid identifier (InvalidIdentifierError), or Redis unreachable: nothing to audit against.
    return false;
  }
}

/** ACS answers 404 (sub-code 8522 "Call not found") for operations on a call that has ended. */
function isCallGone(err: unknown): boolean {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return status === 404 || status === 410;
}

async function auditAuthFailure(deps: CallControlDeps, callId: string, reason: string): Promise<void> {
  try {
    await deps.audit.append({ callId, action: 'auth_failed', actor: 'acs-callback', at: now(deps), details: { reason } });
  } catch (err) {
    deps.logger.error('audit of a rejected callback failed', { callId, error: err as Error });
  }
}

function now(deps: CallControlDeps): string {
  return (deps.now?.() ?? new Date()).toISOString();
}

async function routeEvent(callId: string, session: CallSession, event: CallAutomationEvent, deps: CallControlDeps): Promise<void> {
  const { logger } = deps;
  if (isEvent(event, 'CallConnected')) {
    await deps.store.updateCallSession(callId, { state: 'connected', callConnectionId: event.data.callConnectionId, connectedAt: now(deps) });
    // In realtime media mode the relay's voice agent greets and converses; no recognize/play turns here.
    if (deps.config.webPubSub.mediaMode === 'realtime' && deps.mediaTransportUrl) return;
    await greet(callId, { ...session, callConnectionId: event.data.callConnectionId }, deps);
  } else if (isEvent(event, 'RecognizeCompleted')) {
    await converse(callId, session, recognizedText(event.data), deps);
  } else if (isEvent(event, 'RecognizeFailed')) {
    if (isSpeechServiceFailure(event.data)) {
      // Speech itself is broken (e.g. ACS cannot reach the AI services resource): re-prompting cannot help.
      logger.error('speech recognition unavailable; ending the call', { callId, result: event.data.resultInformation });
      await deps.store.updateCallSession(callId, { state: 'ending', outcome: 'speech_failure' });
      await play(session, promptsOf(session, deps).failure(), OPERATION.goodbye, deps);
    } else {
      await onSilenceOrFailure(callId, session, isSilenceTimeout(event.data), deps);
    }
  } else if (isEvent(event, 'PlayCompleted') || isEvent(event, 'PlayFailed')) {
    if (isEvent(event, 'PlayFailed')) logger.warn('play failed', { callId, result: event.data.resultInformation });
    await afterPlay(callId, session, event.data.operationContext ?? '', deps);
  } else if (isEvent(event, 'CallTransferAccepted')) {
    await deps.store.updateCallSession(callId, { state: 'transferring', outcome: 'transferred' });
    await deps.audit.append({ callId, action: 'transferred', actor: 'agent', at: now(deps), idempotencyKey: `${callId}:transferred` });
  } else if (isEvent(event, 'CallTransferFailed')) {
    await deps.audit.append({ callId, action: 'transfer_failed', actor: 'agent', at: now(deps), details: { code: event.data.resultInformation?.code ?? null, subCode: event.data.resultInformation?.subCode ?? null } });
    const conversation = await ConversationManager.fromRedis(callId, deps.store);
    await listen(callId, session, promptsOf(session, deps, conversation.activeAgent).transferFailed(), OPERATION.turn, deps);
  } else if (isEvent(event, 'CallDisconnected')) {
    const at = now(deps);
    await deps.store.updateCallSession(callId, { state: 'disconnected', endedAt: at });
    await deps.lifecycle.callDisconnected(event.data.callConnectionId, { reason: 'disconnected', at });
  } else if (isEvent(event, 'ParticipantsUpdated')) {
    logger.debug('participants updated', { callId, count: event.data.participants?.length });
  } else if (event.kind === 'unknown') {
    logger.info('unhandled event type acknowledged', { callId, type: event.type });
  } else {
    logger.debug('event acknowledged', { callId, type: event.type });
  }
}

/** The fixed prompts of the agent answering the call, read from the conversation's `_activeAgent` when given. */
function promptsOf(session: CallSession, deps: CallControlDeps, activeAgent?: string): FixedPrompts {
  return fixedPromptsFor(deps.agents, session.scenario, activeAgent);
}

function connectionIdOf(session: CallSession): string {
  const id = session.callConnectionId;
  if (!id) throw new Error('call has no callConnectionId yet');
  return id;
}

async function connection(session: CallSession, deps: CallControlDeps): Promise<CallConnection> {
  return callConnection(await deps.acs(), connectionIdOf(session));
}

async function media(session: CallSession, deps: CallControlDeps): Promise<CallMedia> {
  return callMedia(await deps.acs(), connectionIdOf(session));
}

async function greet(callId: string, session: CallSession, deps: CallControlDeps): Promise<void> {
  // Without the profile the caller is greeted as new: a lookup failure must not stop the greeting.
  const profile = session.callerUserId
    ? await deps.profiles.lookup(session.callerUserId).catch((error: unknown) => {
        deps.logger.warn('profile lookup failed; greeting as a new caller', { callId, error: error as Error });
        return undefined;
      })
    : undefined;
  const prompts = promptsOf(session, deps);
  const text = session.direction === 'outbound' && session.purpose ? prompts.outboundGreeting(session.purpose) : prompts.greeting(profile);
  const conversation = await ConversationManager.fromRedis(callId, deps.store);
  conversation.appendToHistory('assistant', text, { kind: 'greeting' });
  conversation.updateContext({ silenceCount: 0, ...(profile?.displayName ? { callerName: profile.displayName } : {}) });
  await conversation.flush();
  await listen(callId, session, text, OPERATION.greeting, deps, prompts.pinDigits);
}

/** One turn: the caller said something; the agent answers, and the answer is persisted in one round trip. */
async function converse(callId: string, session: CallSession, userText: string, deps: CallControlDeps): Promise<void> {
  const started = performance.now();
  const conversation = await ConversationManager.fromRedis(callId, deps.store);
  const history = conversation.getHistory().flatMap((t) => (t.role === 'user' || t.role === 'assistant' ? [{ role: t.role, text: t.content }] : []));
  const context = { ...conversation.getContext(), userId: session.callerUserId, direction: session.direction, purpose: session.purpose };
  let reply: AgentReply;
  try {
    reply = await deps.agent.respond({ callId, history, userText, context, scenario: session.scenario, activeAgent: conversation.activeAgent });
  } catch (err) {
    deps.logger.error('agent failed; apologising', { callId, error: err as Error });
    reply = { text: promptsOf(session, deps, conversation.activeAgent).trouble(), toolCalls: [], timings: { totalMs: performance.now() - started } };
  }
  const turnMs = Math.round((performance.now() - started) * 10) / 10;
  const answering = promptsOf(session, deps, conversation.activeAgent);
  // A PIN never reaches the transcript: the turn that verified the caller keeps only that one was given.
  const keyedPin = reply.toolCalls.some((t) => t.name === 'verify_caller');
  conversation.appendToHistory('user', keyedPin ? PIN_REDACTED : userText, keyedPin ? { redacted: 'pin' } : undefined);
  conversation.appendToHistory('assistant', reply.text, {
    agentMs: Math.round(reply.timings.totalMs * 10) / 10,
    ...(reply.timings.firstTokenMs === undefined ? {} : { firstTokenMs: reply.timings.firstTokenMs }),
    turnMs,
    ...(reply.toolCalls.length > 0 ? { tools: reply.toolCalls.map((t) => t.name) } : {}),
    ...toolRunMeta(reply),
    // Who answered (analytics per agent), and to whom the call was handed when it was.
    ...(answering.agentName ? { agent: answering.agentName } : {}),
    ...(reply.activeAgent ? { handoffTo: reply.activeAgent } : {}),
  });
  conversation.updateContext({ silenceCount: 0 });
  if (reply.activeAgent) conversation.setActiveAgent(reply.activeAgent);
  await conversation.flush();

  const prompts = promptsOf(session, deps, conversation.activeAgent);
  await perform(nextStep(reply, prompts), acsCallActions(callId, session, deps, prompts.pinDigits));
}

const PIN_REDACTED = '(a PIN, entered on the keypad)';

/** Definition tools that ran in the agent: latency per tool and the refused ones (names only: arguments and results stay out of the transcript). */
function toolRunMeta(reply: AgentReply): Record<string, JsonValue> {
  const runs = reply.toolCalls.filter((t): t is Extract<typeof t, { latencyMs: number }> => 'latencyMs' in t);
  if (runs.length === 0) return {};
  const refused = runs.filter((t) => t.status === 'refused').map((t) => t.name);
  const failed = runs.filter((t) => t.status === 'failed').map((t) => t.name);
  return {
    toolMs: Object.fromEntries(runs.map((t) => [t.name, t.latencyMs])),
    ...(refused.length > 0 ? { refusedTools: refused } : {}),
    ...(failed.length > 0 ? { failedTools: failed } : {}),
  };
}

/** The recognize/play adapter of the call core: a listen is a recognize with the prompt, the rest are plays whose PlayCompleted acts. */
function acsCallActions(callId: string, session: CallSession, deps: CallControlDeps, pinDigits: number | undefined): CallActions {
  return {
    listen: (text) => listen(callId, session, text, OPERATION.turn, deps, pinDigits),
    async sayAndHangUp(text) {
      await deps.store.updateCallSession(callId, { state: 'ending', outcome: 'completed' });
      await play(session, text, OPERATION.goodbye, deps);
    },
    async sayAndTransfer(text) {
      // The number is the scenario's, re-read when the hold prompt has played: it is never stored.
      await deps.store.updateCallSession(callId, { state: 'transferring' });
      await play(session, text, OPERATION.transferHold, deps);
    },
  };
}

async function onSilenceOrFailure(callId: string, session: CallSession, silence: boolean, deps: CallControlDeps): Promise<void> {
  const conversation = await ConversationManager.fromRedis(callId, deps.store);
  const silenceCount = Number(conversation.getContext().silenceCount ?? 0) + 1;
  conversation.updateContext({ silenceCount });
  const prompts = promptsOf(session, deps, conversation.activeAgent);
  if (silenceCount > deps.config.lifecycle.silenceReprompts) {
    const text = prompts.silenceGoodbye();
    conversation.appendToHistory('assistant', text, { kind: 'silence-goodbye', silent: silence });
    await conversation.flush();
    await deps.store.updateCallSession(callId, { state: 'ending', outcome: 'caller_silent' });
    await play(session, text, OPERATION.goodbye, deps);
    return;
  }
  const text = prompts.reprompt(silenceCount);
  conversation.appendToHistory('assistant', text, { kind: 'reprompt', silent: silence });
  await conversation.flush();
  await listen(callId, session, text, OPERATION.reprompt, deps, prompts.pinDigits);
}

async function afterPlay(callId: string, session: CallSession, operationContext: string, deps: CallControlDeps): Promise<void> {
  if (operationContext === OPERATION.goodbye) {
    await (await connection(session, deps)).hangUp(true);
  } else if (operationContext === OPERATION.transferHold) {
    const target = transferTargetFor(deps.agents, session.scenario, deps.config.acs.transferTargetNumber);
    if (!target) throw new Error(`no transfer number is configured for scenario ${session.scenario ?? '(default)'}`);
    await (await connection(session, deps)).transferCallToParticipant(phoneIdentifier(target), { operationContext: OPERATION.transfer });
  }
  // Prompts played inside recognize come back as Recognize* events; nothing else to do here.
  void callId;
}

async function play(session: CallSession, text: string, operationContext: string, deps: CallControlDeps): Promise<void> {
  await (await media(session, deps)).playToAll(...playText(text, deps.config.acs, { operationContext }));
}

/** `pinDigits`: the agent takes a PIN, so keypad tones are recognized as well as speech. */
async function listen(callId: string, session: CallSession, prompt: string, operationContext: string, deps: CallControlDeps, pinDigits?: number): Promise<void> {
  const target = session.participantRawId;
  if (!target) throw new Error(`call ${callId} has no participant to recognize`);
  const speech = recognizeSpeech(prompt, deps.config.acs, { operationContext });
  const options = pinDigits === undefined ? speech : { ...speech, kind: 'callMediaRecognizeSpeechOrDtmfOptions' as const, maxTonesToCollect: pinDigits, interToneTimeoutInSeconds: 3 };
  await (await media(session, deps)).startRecognizing(identifierFromRawId(target), options);
}

function identifierFromRawId(rawId: string) {
  if (rawId.startsWith('4:')) return phoneIdentifier(rawId.slice(2));
  return { communicationUserId: rawId };
}
