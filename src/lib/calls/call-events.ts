import { randomUUID } from 'node:crypto';
import type { CallConnection, CallMedia } from '@azure/communication-call-automation';
import { phoneIdentifier, playText, recognizeSpeech } from '../acs/client.js';
import { isEvent, parseCallAutomationEvents, type CallAutomationEvent } from '../acs/events.js';
import { fixedPromptsFor, nextStep, PIN_REDACTED, replyMeta, transferTargetFor, type FixedPrompts, type NextStep } from '../agents/call-core.js';
import type { AgentReply } from '../agent/types.js';
import { ConversationManager, InvalidCallSessionError, InvalidIdentifierError, StateLostError, assertValidIdentifier, type JsonValue, type SessionStep } from '../state/index.js';
import { AppError, classify, errorSummary } from '../errors.js';
import { lifecycleStartOf } from './lifecycle-start.js';
import { callerWaitMs, traceCallbackEvent } from '../telemetry/call-instrumentation.js';
import { boundedContext, boundedRecognition, limitText, truncationMeta, type BoundedText } from './limits.js';
import type { CallControlDeps } from './ports.js';
import { badRequest, ok, type WebhookRequest, type WebhookResponse } from './http.js';
import type { CallSession } from './session.js';
import { callbackResponse, decideCall, decideEvent, failurePolicy, OPERATION, writesConversation, type ClaimOutcome, type EventRoute, type RoutingMode, type StoredCall } from './event-routing.js';
import { TurnBudget, withinBudget } from './turn-budget.js';

export { OPERATION } from './event-routing.js';

/**
 * POST /api/callEvents: authenticate, parse, de-duplicate and route every CloudEvent of the body.
 * Each event is handled on its own, and a failure is classified (`classify`): one that may pass on a
 * retry is logged with its id, its claim released, and the request answers 500 so ACS redelivers it
 * (events already handled are skipped by their id); one no retry can change is logged, audited and
 * acknowledged, so ACS does not redeliver it for nothing; one about a call that has ended is acknowledged.
 */
export async function handleCallEvents(request: WebhookRequest, deps: CallControlDeps): Promise<WebhookResponse> {
  const { logger } = deps;
  const urlCallId = new URL(request.url, 'http://localhost').searchParams.get('callId') ?? undefined;
  const auth = await deps.callbackAuth.authenticate({ url: request.url, authorization: request.headers.get('authorization') });
  if (!auth.ok) {
    logger.warn('callback rejected', { reason: auth.reason, detail: auth.detail, callId: urlCallId });
    if (urlCallId && (await isKnownCall(deps, urlCallId))) await auditAuthFailure(deps, urlCallId, auth.reason);
    return { status: auth.status, jsonBody: { error: 'unauthorized', reason: auth.reason } };
  }
  const callId = auth.callId ?? urlCallId;
  if (!callId) return badRequest('callId: missing from the callback URL');
  const invalid = invalidIdentifier(callId);
  if (invalid) return badRequest(`callId: ${invalid}`);

  const parsed = parseCallAutomationEvents(await request.text());
  if (!parsed.ok) return badRequest(parsed.reason);

  const call = decideCall(await readStoredCall(callId, deps), parsed.value);
  if (call.kind === 'recover_lost') return recoverLostCall(callId, parsed.value, deps);
  if (call.kind === 'unknown_call') {
    // A late event for a call already cleaned up (or never ours): acknowledge so ACS stops retrying.
    logger.warn('events for an unknown call acknowledged', { callId, types: parsed.value.map((e) => e.type) });
    return ok({ handled: 0 });
  }
  if (call.kind === 'wrong_call') {
    logger.warn('callback events belong to another call', { callId, detail: call.detail });
    await auditAuthFailure(deps, callId, 'call_mismatch');
    return { status: 401, jsonBody: { error: 'unauthorized', reason: 'call_mismatch' } };
  }
  const { session } = call;
  const mode = routingModeOf(deps);

  let handled = 0;
  let failed = 0;
  let rejected = 0;
  for (const event of parsed.value) {
    const claim = await claimEvent(callId, event, deps);
    const route = decideEvent(event, session, claim, mode);
    if (route.kind === 'duplicate') {
      logger.debug('duplicate event skipped', { callId, eventId: event.id, type: event.type });
      continue;
    }
    if (route.kind === 'closed') {
      logger.info('event after the call closed; not handled', { callId, eventId: event.id, type: event.type });
      handled += 1;
      continue;
    }
    try {
      const budget = new TurnBudget(deps.config.limits.turnBudgetMs);
      await traceCallbackEvent(callId, event, () => routeEvent(callId, session, route, deps, budget));
      handled += 1;
    } catch (err) {
      const policy = failurePolicy(classify(err));
      if (policy === 'acknowledge') {
        // The caller hung up while we handled the event (e.g. during the greeting): ACS answers the
        // media operation with 404. A retry cannot succeed; CallDisconnected ends the call.
        logger.info('call already ended; event acknowledged', { callId, eventId: event.id, type: event.type });
        handled += 1;
        continue;
      }
      if (policy === 'reject') {
        rejected += 1;
        logger.error('event handling failed and cannot succeed on a redelivery; acknowledged', { callId, eventId: event.id, type: event.type, error: err as Error });
        await auditEventFailure(deps, callId, event, err);
        continue;
      }
      failed += 1;
      // Let ACS redeliver this event: forget the claim so the retry is not skipped as a duplicate.
      await deps.fencing.releaseEvent(callId, event.id).catch((releaseErr: unknown) =>
        logger.error('could not release event claim', { callId, eventId: event.id, error: releaseErr as Error }),
      );
      logger.error('event handling failed', { callId, eventId: event.id, type: event.type, error: err as Error });
    } finally {
      claim.endTurn();
    }
  }
  return callbackResponse({ handled, failed, rejected });
}

/** The session the callback names, or `lost` when Redis lost it and no instance holds a copy. */
async function readStoredCall(callId: string, deps: CallControlDeps): Promise<StoredCall> {
  try {
    return { kind: 'read', session: await deps.sessions.get(callId) };
  } catch (err) {
    // A session that fails its schema is, like one holding no identifiers, what a write replayed onto a
    // lost key leaves behind.
    if (err instanceof StateLostError || err instanceof InvalidCallSessionError) return { kind: 'lost' };
    throw err;
  }
}

function routingModeOf(deps: CallControlDeps): RoutingMode {
  return {
    realtimeMedia: deps.config.webPubSub.mediaMode === 'realtime',
    mediaTransport: deps.mediaTransportUrl !== undefined,
    speechFallback: Boolean(deps.config.acs.cognitiveServicesEndpoint),
  };
}

interface EventClaim extends ClaimOutcome {
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
  if (!writesConversation(event)) return { claimed: await deps.fencing.claimEvent(callId, event.id), refused: false, endTurn: () => undefined };
  const turnId = `${event.id}.${randomUUID()}`;
  const { claimed, lease } = await deps.fencing.claimTurnEvent(callId, event.id, turnId);
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
        deps.fencing.endTurn(callId, turnId).catch((err: unknown) => deps.logger.warn('turn lease not ended', { callId, eventId: event.id, error: err as Error }));
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
    return (await deps.sessions.get(callId)) !== undefined;
  } catch {
    // Not even a valid identifier (InvalidIdentifierError), or Redis unreachable: nothing to audit against.
    return false;
  }
}

/** The reason an identifier cannot name a call, or undefined when it can. */
function invalidIdentifier(id: string): string | undefined {
  try {
    assertValidIdentifier(id);
    return undefined;
  } catch (error) {
    if (error instanceof InvalidIdentifierError) return error.reason;
    throw error;
  }
}

async function auditEventFailure(deps: CallControlDeps, callId: string, event: CallAutomationEvent, err: unknown): Promise<void> {
  const details = { eventType: event.type, eventId: event.id, ...errorSummary(err) };
  try {
    await deps.audit.append({ callId, action: 'event_failed', actor: 'acs-callback', at: now(deps), details, idempotencyKey: `${callId}:event_failed:${event.id}` });
  } catch (auditErr) {
    deps.logger.error('audit of a failed event failed', { callId, eventId: event.id, error: auditErr as Error });
  }
}

/**
 * Redis lost this call's session and no instance holds a copy (the store has logged and counted it).
 * The caller is not left in dead air: the loss is audited, a minimal session is rebuilt from the
 * event (enough to hang up), and the caller hears that something went wrong before the call ends.
 */
async function recoverLostCall(callId: string, events: readonly CallAutomationEvent[], deps: CallControlDeps): Promise<WebhookResponse> {
  const { logger } = deps;
  const first = events[0];
  const data = (first?.data ?? {}) as { callConnectionId?: string; serverCallId?: string; correlationId?: string };
  logger.error('call state lost in Redis; ending the call with a recovery prompt', { callId, types: events.map((e) => e.type) });
  try {
    await deps.audit.append({ callId, action: 'state_lost', actor: 'acs-callback', at: now(deps), details: { events: events.length } });
  } catch (err) {
    logger.error('audit of lost call state failed', { callId, error: err as Error });
  }
  if (!data.callConnectionId || events.some((e) => e.kind === 'CallDisconnected')) return ok({ handled: 0, stateLost: true });
  const session: CallSession = { state: 'ending', direction: 'inbound', startedAt: now(deps), callConnectionId: data.callConnectionId, outcome: 'state_lost' };
  await deps.sessions.create(callId, { ...session, ...(data.serverCallId ? { serverCallId: data.serverCallId } : {}), ...(data.correlationId ? { correlationId: data.correlationId } : {}) });
  // Played as the goodbye: its PlayCompleted hangs up through the rebuilt session.
  await play(session, promptsOf(session, deps).failure(), OPERATION.goodbye, deps);
  return ok({ handled: 0, stateLost: true });
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

/** Acts on the route `decideEvent` chose for one claimed event. */
async function routeEvent(callId: string, session: CallSession, route: HandledRoute, deps: CallControlDeps, budget: TurnBudget): Promise<void> {
  const { logger } = deps;
  if (route.kind === 'connected') {
    const { event } = route;
    await deps.sessions.connected(callId, event.data.callConnectionId, now(deps));
    if (!route.greet) return;
    await greet(callId, { ...session, callConnectionId: event.data.callConnectionId }, event.id, deps, budget);
  } else if (route.kind === 'converse') {
    await converse(callId, session, route.event.id, boundedRecognition(route.event.data, deps.config.limits), route.late, deps, budget);
  } else if (route.kind === 'end_speech_failure') {
    logger.error('speech recognition unavailable; ending the call', { callId, result: route.event.data.resultInformation });
    await deps.sessions.ending(callId, 'speech_failure');
    await play(session, promptsOf(session, deps).failure(), OPERATION.goodbye, deps);
  } else if (route.kind === 'reprompt') {
    await onSilenceOrFailure(callId, session, route.event.id, route.silent, deps, budget);
  } else if (route.kind === 'played') {
    if (route.failed) logger.warn('play failed', { callId, result: route.event.data.resultInformation });
    await afterPlay(session, route.then, deps);
  } else if (route.kind === 'transfer_accepted') {
    await deps.sessions.transferAccepted(callId);
    await deps.audit.append({ callId, action: 'transferred', actor: 'agent', at: now(deps), idempotencyKey: `${callId}:transferred` });
  } else if (route.kind === 'transfer_failed') {
    const result = route.event.data.resultInformation;
    await deps.audit.append({ callId, action: 'transfer_failed', actor: 'agent', at: now(deps), details: { code: result?.code ?? null, subCode: result?.subCode ?? null } });
    const conversation = await ConversationManager.fromRedis(callId, deps.store);
    const prompts = promptsOf(session, deps, conversation.activeAgent);
    await listen(callId, session, prompts.transferFailed(), OPERATION.turn, deps, prompts.pinDigits);
  } else if (route.kind === 'disconnected') {
    const at = now(deps);
    await deps.sessions.disconnected(callId, at);
    await deps.lifecycle.callDisconnected(lifecycleStartOf(callId, session, route.event.data.callConnectionId, deps), { reason: 'disconnected', at });
  } else if (route.kind === 'never_connected') {
    await endUnconnectedCall(callId, session, route.event, deps);
  } else if (route.kind === 'media_failed') {
    await fallBackFromMedia(callId, session, route, deps);
  } else {
    const { event } = route;
    if (isEvent(event, 'ParticipantsUpdated')) logger.debug('participants updated', { callId, count: event.data.participants?.length });
    else if (!route.known) logger.info('unhandled event type acknowledged', { callId, type: event.type });
    else logger.debug('event acknowledged', { callId, type: event.type });
  }
}

/** The routes of events that are handled (claimed for the first time, on a call still open). */
type HandledRoute = Exclude<EventRoute, { kind: 'duplicate' | 'closed' }>;

/**
 * AnswerFailed / CreateCallFailed: ACS accepted the request but the call never connected, and no
 * CallDisconnected follows. The lifecycle ends now (start-or-raise) instead of at the max-duration
 * timer: outcome `answer_failed`, audited, archived, Redis cleaned by its cleanup step.
 */
async function endUnconnectedCall(
  callId: string,
  session: CallSession,
  event: Extract<CallAutomationEvent, { kind: 'AnswerFailed' | 'CreateCallFailed' }>,
  deps: CallControlDeps,
): Promise<void> {
  const at = now(deps);
  const result = event.data.resultInformation;
  const callConnectionId = event.data.callConnectionId || session.callConnectionId;
  deps.logger.warn('call failed to connect; ending its lifecycle', { callId, type: event.kind, code: result?.code, subCode: result?.subCode });
  await deps.sessions.disconnected(callId, at, 'answer_failed');
  await deps.audit.append({
    callId,
    action: 'answer_failed',
    actor: 'acs',
    at,
    details: { event: event.kind, code: result?.code ?? null, subCode: result?.subCode ?? null },
    idempotencyKey: `${callId}:answer_failed`,
  });
  if (!callConnectionId) {
    deps.logger.error('call failed to connect and has no call connection id; nothing to end', { callId, type: event.kind });
    return;
  }
  await deps.lifecycle.callDisconnected(lifecycleStartOf(callId, session, callConnectionId, deps), { reason: 'answer_failed', at });
}

/**
 * MediaStreamingFailed (e.g. ACS could not open or lost the media WebSocket): the rest of the call
 * runs on the recognize/play path, which needs the Cognitive Services link; without it nothing can
 * be said to the caller, so the call is ended. Audited; the summary and analytics carry the flag.
 */
async function fallBackFromMedia(callId: string, session: CallSession, route: Extract<EventRoute, { kind: 'media_failed' }>, deps: CallControlDeps): Promise<void> {
  const { event, then } = route;
  if (then === 'acknowledge') {
    deps.logger.info('media streaming failure acknowledged', { callId, alreadyFallenBack: session.mediaFailed !== undefined });
    return;
  }
  const at = now(deps);
  const result = event.data.resultInformation;
  const details = { code: result?.code ?? null, subCode: result?.subCode ?? null, status: event.data.mediaStreamingUpdate?.mediaStreamingStatusDetails ?? null };
  deps.logger.error('media streaming failed; falling back to recognize and play', { callId, ...details });
  await deps.sessions.mediaFailed(callId, at);
  await deps.audit.append({ callId, action: 'media_failed', actor: 'acs', at, details, idempotencyKey: `${callId}:media_failed` });
  const fallen: CallSession = { ...session, mediaFailed: at };
  if (then === 'hang_up') {
    deps.logger.error('no Cognitive Services link for the recognize/play fallback; ending the call', { callId });
    await deps.sessions.ending(callId, 'media_failed');
    await (await connection(fallen, deps)).hangUp(true);
    return;
  }
  // Before CallConnected the greeting follows it; after, the caller is greeted (or resumed) now.
  if (then === 'greet') await greet(callId, fallen, event.id, deps, new TurnBudget(deps.config.limits.turnBudgetMs));
}

function connectionIdOf(session: CallSession): string {
  const id = session.callConnectionId;
  // CallConnected may still be on its way (ACS's events overtake one another): a redelivery can find it.
  if (!id) throw new AppError('call has no callConnectionId yet', { code: 'not_connected', retryable: true });
  return id;
}

async function connection(session: CallSession, deps: CallControlDeps): Promise<CallConnection> {
  return (await deps.acs()).connection(connectionIdOf(session));
}

async function media(session: CallSession, deps: CallControlDeps): Promise<CallMedia> {
  return (await deps.acs()).media(connectionIdOf(session));
}

/**
 * What follows a turn's writes: an optional session update, then one ACS media operation. It is
 * recorded with the writes, keyed by the event id, so a redelivery of the event (after the
 * operation failed) redoes only this.
 */
interface FollowUp {
  readonly session?: SessionStep;
  /** `none`: the turn only records (the caller has already hung up). */
  readonly action: 'listen' | 'play' | 'none';
  readonly text: string;
  readonly operationContext: string;
  /** The assistant turn the operation speaks: flagged unheard if the call is gone before it is. */
  readonly spokenTurnId?: string;
  /** A listen that accepts this many keypad tones as well as speech (a PIN, a menu key). */
  readonly dtmfTones?: number;
}

function followUpOf(value: JsonValue | undefined): FollowUp | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { action, text, operationContext, session, spokenTurnId, dtmfTones } = value;
  if ((action !== 'listen' && action !== 'play' && action !== 'none') || typeof text !== 'string' || typeof operationContext !== 'string') return undefined;
  const fields = session && typeof session === 'object' && !Array.isArray(session) ? (session as SessionStep) : undefined;
  return {
    action,
    text,
    operationContext,
    ...(fields ? { session: fields } : {}),
    ...(typeof spokenTurnId === 'string' ? { spokenTurnId } : {}),
    ...(typeof dtmfTones === 'number' ? { dtmfTones } : {}),
  };
}

/**
 * Runs one conversation-writing turn at most once per event id: `write` stages the turn on the loaded
 * conversation and says what follows; the follow-up is recorded in the same flush, then performed.
 * A redelivered event whose writes already landed skips `write` and performs the recorded follow-up.
 */
async function turnOnce(
  callId: string,
  session: CallSession,
  eventId: string,
  deps: CallControlDeps,
  budget: TurnBudget,
  write: (conversation: ConversationManager) => Promise<FollowUp>,
): Promise<void> {
  const conversation = await withinBudget(budget.answer, 'conversation.load', budget.budgetMs, () => ConversationManager.fromRedis(callId, deps.store));
  const recorded = followUpOf(conversation.handledEvent(eventId));
  if (recorded) {
    deps.logger.info('event redelivered after its turn was written; redoing its follow-up only', { callId, eventId, action: recorded.action });
    await performFollowUp(callId, session, recorded, deps, budget);
    return;
  }
  const followUp = await write(conversation);
  conversation.recordHandledEvent(eventId, followUp as unknown as JsonValue);
  const followUpSignal = budget.followUp();
  await withinBudget(followUpSignal, 'conversation.flush', budget.budgetMs, () => conversation.flush());
  try {
    await performFollowUp(callId, session, followUp, deps, budget, followUpSignal);
  } catch (err) {
    // The caller hung up while the answer was being made: it was never heard, and the archive says so.
    if (classify(err) === 'gone' && followUp.spokenTurnId) {
      conversation.markUnheard(followUp.spokenTurnId);
      await conversation.flush();
    }
    throw err;
  }
}

/** The follow-up's session write and ACS request, under one budget of their own (`signal`). */
async function performFollowUp(callId: string, session: CallSession, followUp: FollowUp, deps: CallControlDeps, budget: TurnBudget, signal = budget.followUp()): Promise<void> {
  const { session: fields, action } = followUp;
  if (fields) await withinBudget(signal, 'session.update', budget.budgetMs, () => deps.sessions.step(callId, fields));
  if (action === 'none') return;
  await withinBudget(signal, `acs.${action}`, budget.budgetMs, () =>
    action === 'play'
      ? play(session, followUp.text, followUp.operationContext, deps, signal)
      : listen(callId, session, followUp.text, followUp.operationContext, deps, followUp.dtmfTones, signal),
  );
}

async function greet(callId: string, session: CallSession, eventId: string, deps: CallControlDeps, budget: TurnBudget): Promise<void> {
  await turnOnce(callId, session, eventId, deps, budget, async (conversation) => {
    // Without the profile the caller is greeted as new: a lookup failure (or one slower than the turn's budget) must not stop the greeting.
    const userId = session.callerUserId;
    const profile = userId
      ? await withinBudget(budget.answer, 'profiles.lookup', budget.budgetMs, () => deps.profiles.lookup(userId)).catch((error: unknown) => {
          deps.logger.warn('profile lookup failed; greeting as a new caller', { callId, error: error as Error });
          return undefined;
        })
      : undefined;
    const prompts = promptsOf(session, deps);
    const text = session.direction === 'outbound' && session.purpose ? prompts.outboundGreeting(session.purpose) : prompts.greeting(profile);
    conversation.appendToHistory('assistant', text, { kind: 'greeting' });
    const context = boundedContext({ silenceCount: 0, ...(profile?.displayName ? { callerName: profile.displayName } : {}) }, deps.config.limits.contextFieldChars);
    if (context.truncated.length > 0) deps.logger.warn('context fields over the limit; truncated', { callId, fields: context.truncated.join(',') });
    conversation.updateContext(context.fields);
    return { action: 'listen', text, operationContext: OPERATION.greeting, ...dtmf(prompts) };
  });
}

/** One turn: the caller said something; the agent answers, and the answer is persisted in one round trip. */
async function converse(callId: string, session: CallSession, eventId: string, heard: BoundedText, late: boolean, deps: CallControlDeps, budget: TurnBudget): Promise<void> {
  const userText = heard.text;
  const userMeta = truncationMeta(heard);
  if (heard.truncatedFrom !== undefined) deps.logger.warn('recognized text over the limit; truncated', { callId, eventId, length: heard.truncatedFrom, kept: userText.length });
  await turnOnce(callId, session, eventId, deps, budget, async (conversation): Promise<FollowUp> => {
    if (late) {
      // Delivered after the hang-up: the caller's last words are kept, marked late, and nobody is left to answer them.
      deps.logger.info('caller utterance delivered after the hang-up; archived as late', { callId, eventId });
      conversation.appendToHistory('user', userText, { late: true, ...userMeta });
      return { action: 'none', text: '', operationContext: OPERATION.turn };
    }
    const started = performance.now();
    const history = conversation.getHistory().flatMap((t) => (t.role === 'user' || t.role === 'assistant' ? [{ role: t.role, text: t.content }] : []));
    const context = { ...conversation.getContext(), userId: session.callerUserId, direction: session.direction, purpose: session.purpose };
    let reply: AgentReply;
    // Set when the turn's budget ran out before the answer: the caller hears the apology instead.
    let timedOut = false;
    try {
      const input = { callId, history, userText, context, scenario: session.scenario, activeAgent: conversation.activeAgent, signal: budget.answer };
      reply = await withinBudget(budget.answer, 'agent.respond', budget.budgetMs, () => deps.agent.respond(input));
    } catch (err) {
      timedOut = budget.expired;
      if (timedOut) deps.logger.warn('turn budget ran out before the answer; apologising', { callId, eventId, budgetMs: budget.budgetMs, error: err as Error });
      else deps.logger.error('agent failed; apologising', { callId, error: err as Error });
      reply = { text: promptsOf(session, deps, conversation.activeAgent).trouble(), toolCalls: [], timings: { totalMs: performance.now() - started } };
    }
    const replyMs = Math.round((performance.now() - started) * 10) / 10;
    // The caller's wait: from the ACS event's own time to the reply ready to play (the request to ACS follows).
    const waitedMs = callerWaitMs();
    const turnMs = waitedMs === undefined ? replyMs : Math.round(waitedMs);
    const said = limitText(reply.text, deps.config.limits.modelOutputChars);
    if (said.truncatedFrom !== undefined) deps.logger.warn('agent reply over the limit; truncated', { callId, eventId, length: said.truncatedFrom, kept: said.text.length });
    reply = { ...reply, text: said.text };
    const answering = promptsOf(session, deps, conversation.activeAgent);
    // A PIN never reaches the transcript: the turn that verified the caller keeps only that one was given.
    const keyedPin = reply.toolCalls.some((t) => t.name === 'verify_caller');
    const userTurnMeta = { ...userMeta, ...(keyedPin ? { redacted: 'pin' } : {}) };
    conversation.appendToHistory('user', keyedPin ? PIN_REDACTED : userText, Object.keys(userTurnMeta).length > 0 ? userTurnMeta : undefined);
    const answer = conversation.appendToHistory('assistant', reply.text, {
      ...truncationMeta(said),
      ...(timedOut ? { timedOut: true } : {}),
      agentMs: Math.round(reply.timings.totalMs * 10) / 10,
      ...(reply.timings.firstTokenMs === undefined ? {} : { firstTokenMs: reply.timings.firstTokenMs }),
      turnMs,
      replyMs,
      // The tools, who answered (analytics per agent), and to whom the call was handed when it was.
      ...replyMeta(reply, answering.agentName),
    });
    conversation.updateContext({ silenceCount: 0 });
    if (reply.activeAgent) conversation.setActiveAgent(reply.activeAgent);
    const prompts = promptsOf(session, deps, conversation.activeAgent);
    return followUpFor(nextStep(reply, prompts), answer.id, prompts);
  });
}

/**
 * The recognize/play adapter of the call core: the step becomes the turn's recorded follow-up (a
 * listen is a recognize with the prompt; a hang-up or a transfer is a play whose PlayCompleted acts).
 * The transfer number is the scenario's, read again when the hold prompt has played: it is never stored.
 */
function followUpFor(step: NextStep, spokenTurnId: string, prompts: FixedPrompts): FollowUp {
  if (step.kind === 'transfer') return { session: { state: 'transferring' }, action: 'play', text: step.say, operationContext: OPERATION.transferHold, spokenTurnId };
  if (step.kind === 'hang_up') return { session: { state: 'ending', outcome: 'completed' }, action: 'play', text: step.say, operationContext: OPERATION.goodbye, spokenTurnId };
  return { action: 'listen', text: step.say, operationContext: OPERATION.turn, spokenTurnId, ...dtmf(prompts) };
}

function dtmf(prompts: FixedPrompts): { dtmfTones?: number } {
  return prompts.pinDigits === undefined ? {} : { dtmfTones: prompts.pinDigits };
}

/** The fixed prompts of the agent answering the call, read from the conversation's `_activeAgent` when given. */
function promptsOf(session: CallSession, deps: CallControlDeps, activeAgent?: string): FixedPrompts {
  return fixedPromptsFor(deps.agents, session.scenario, activeAgent);
}

async function onSilenceOrFailure(callId: string, session: CallSession, eventId: string, silence: boolean, deps: CallControlDeps, budget: TurnBudget): Promise<void> {
  await turnOnce(callId, session, eventId, deps, budget, async (conversation): Promise<FollowUp> => {
    const silenceCount = Number(conversation.getContext().silenceCount ?? 0) + 1;
    conversation.updateContext({ silenceCount });
    const prompts = promptsOf(session, deps, conversation.activeAgent);
    if (silenceCount > deps.config.lifecycle.silenceReprompts) {
      const text = prompts.silenceGoodbye();
      conversation.appendToHistory('assistant', text, { kind: 'silence-goodbye', silent: silence });
      return { session: { state: 'ending', outcome: 'caller_silent' }, action: 'play', text, operationContext: OPERATION.goodbye };
    }
    const text = prompts.reprompt(silenceCount);
    conversation.appendToHistory('assistant', text, { kind: 'reprompt', silent: silence });
    return { action: 'listen', text, operationContext: OPERATION.reprompt, ...dtmf(prompts) };
  });
}

async function afterPlay(session: CallSession, then: Extract<EventRoute, { kind: 'played' }>['then'], deps: CallControlDeps): Promise<void> {
  if (then === 'hang_up') {
    await (await connection(session, deps)).hangUp(true);
  } else if (then === 'transfer') {
    const target = transferTargetFor(deps.agents, session.scenario, deps.config.acs.transferTargetNumber);
    if (!target) throw new AppError(`no transfer number is configured for scenario ${session.scenario ?? '(default)'}`, { code: 'no_transfer_target', context: { scenario: session.scenario ?? null } });
    await (await connection(session, deps)).transferCallToParticipant(phoneIdentifier(target), { operationContext: OPERATION.transfer });
  }
}

async function play(session: CallSession, text: string, operationContext: string, deps: CallControlDeps, abortSignal?: AbortSignal): Promise<void> {
  const [sources, options] = playText(text, deps.config.acs, { operationContext });
  await (await media(session, deps)).playToAll(sources, abortSignal ? { ...options, abortSignal } : options);
}

/** `dtmfTones`: the agent takes a PIN or a menu key, so keypad tones are recognized as well as speech. */
async function listen(callId: string, session: CallSession, prompt: string, operationContext: string, deps: CallControlDeps, dtmfTones?: number, abortSignal?: AbortSignal): Promise<void> {
  const target = session.participantRawId;
  if (!target) throw new AppError(`call ${callId} has no participant to recognize`, { code: 'no_participant', context: { callId } });
  const speech = recognizeSpeech(prompt, deps.config.acs, { operationContext });
  const options = dtmfTones === undefined ? speech : { ...speech, kind: 'callMediaRecognizeSpeechOrDtmfOptions' as const, maxTonesToCollect: dtmfTones, interToneTimeoutInSeconds: 3 };
  await (await media(session, deps)).startRecognizing(identifierFromRawId(target), abortSignal ? { ...options, abortSignal } : options);
}

function identifierFromRawId(rawId: string) {
  if (rawId.startsWith('4:')) return phoneIdentifier(rawId.slice(2));
  return { communicationUserId: rawId };
}
