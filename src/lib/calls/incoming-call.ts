import { answerCallArgs } from '../acs/client.js';
import { CALLBACK_PATH, callbackUrlFor } from '../acs/callback-auth.js';
import { parseEventGridEvents, phoneNumberOf, webhookHandshake, type EventGridEvent } from '../acs/events.js';
import { traceIncomingCall } from '../telemetry/call-instrumentation.js';
import { maskPhoneNumber } from '../telemetry/logger.js';
import { badRequest, ok, type WebhookRequest, type WebhookResponse } from './http.js';
import type { CallControlDeps } from './ports.js';
import { lifecycleStartOf } from './lifecycle-start.js';
import { callIdForIncoming } from './session.js';
import { InvalidArchiveInputError } from '../archive/errors.js';
import { RedisUnavailableError } from '../state/index.js';
import { AppError, classify, errorSummary } from '../errors.js';

type IncomingCallEvent = Extract<EventGridEvent, { kind: 'incomingCall' }>;

/**
 * The Event Grid webhook: the subscription validation handshake (Event Grid schema), the CloudEvents
 * abuse-protection handshake (OPTIONS), and IncomingCall → session → answer → lifecycle.
 * Redelivery of the same call is recognised by its session and changes nothing. A failure that may
 * pass on a redelivery (`classify`: retry) answers 500 so Event Grid redelivers; one that cannot is
 * logged, audited and acknowledged, so Event Grid does not redeliver it for a day.
 */
export async function handleIncomingCall(request: WebhookRequest, deps: CallControlDeps): Promise<WebhookResponse> {
  if (request.method.toUpperCase() === 'OPTIONS') {
    const headers = webhookHandshake(request.headers);
    return headers ? { status: 200, headers } : badRequest('WebHook-Request-Origin: missing');
  }
  const parsed = parseEventGridEvents(await request.text());
  if (!parsed.ok) return badRequest(parsed.reason);

  const validation = parsed.value.find((e) => e.kind === 'subscriptionValidation');
  if (validation) {
    deps.logger.info('event grid subscription validated');
    return ok({ validationResponse: validation.validationCode });
  }

  const answered: string[] = [];
  for (const event of parsed.value) {
    if (event.kind === 'incomingCall') {
      const callId = callIdForIncoming(event.data.serverCallId);
      try {
        if (await traceIncomingCall(callId, event.id, () => answerIncoming(event, deps))) answered.push(callId);
      } catch (err) {
        if (classify(err) === 'retry') throw err;
        deps.logger.error('incoming call failed and cannot succeed on a redelivery; acknowledged', { callId, eventId: event.id, error: err as Error });
        await deps.audit
          .append({ callId, action: 'event_failed', actor: 'event-grid', at: (deps.now?.() ?? new Date()).toISOString(), details: { eventType: event.eventType, eventId: event.id, ...errorSummary(err) }, idempotencyKey: `${callId}:event_failed:${event.id}` })
          .catch((auditErr: unknown) => deps.logger.error('audit of a failed incoming call failed', { callId, error: auditErr as Error }));
      }
    } else {
      deps.logger.info('event grid event ignored', { eventType: event.eventType, eventId: event.id });
    }
  }
  return ok({ answered });
}

/** A call summary Redis could not be asked for. */
const UNKNOWN = Symbol('summary unknown');

/** Returns the call id when this delivery answered the call; undefined for a redelivery. */
async function answerIncoming(event: IncomingCallEvent, deps: CallControlDeps): Promise<string | undefined> {
  const { config, logger, store, sessions } = deps;
  const data = event.data;
  const callId = callIdForIncoming(data.serverCallId);
  const from = phoneNumberOf(data.from);
  const callerUserId = from ? callerUserIdOf(from, callId, deps) : undefined;
  const startedAt = (deps.now?.() ?? new Date()).toISOString();

  // After the lifecycle's cleanup only the call's summary is left (7 days). A redelivery arriving then
  // must not create a new session and answer again: ACS refuses an answered call, the 500 would make
  // Event Grid redeliver for a day, and the new session would outlive the cleanup. Finalize writes the
  // summary before cleanup deletes the session, so at any moment one of the two tells us.
  // While Redis is away the summary cannot be read. A ringing caller is not made to wait for Event
  // Grid's first retry (10 s) on that account: the call is answered, and an answer ACS refuses
  // (the call ended, or another instance answered it) is then only acknowledged.
  const summary = await store.getCallSummary(callId).catch((err: unknown) => {
    if (!(err instanceof RedisUnavailableError)) throw err;
    logger.warn('Redis unavailable; answering without checking for an ended call', { callId, eventId: event.id, error: err });
    return UNKNOWN;
  });
  if (summary !== undefined && summary !== UNKNOWN) {
    logger.info('incoming call redelivered after the call ended; ignored', { callId, eventId: event.id });
    return undefined;
  }

  const { created, durable } = await sessions.create(callId, {
    state: 'answering',
    direction: 'inbound',
    startedAt,
    serverCallId: data.serverCallId,
    ...(data.correlationId ? { correlationId: data.correlationId } : {}),
    ...(callerUserId ? { callerUserId } : {}),
    ...(from ? { callerMasked: maskPhoneNumber(from) } : {}),
    ...(displayName(data.callerDisplayName) ? { callerName: displayName(data.callerDisplayName) } : {}),
    ...(data.from.rawId ? { participantRawId: data.from.rawId } : {}),
    ...(deps.agents ? { scenario: deps.agents.scenarioFor(phoneNumberOf(data.to)).scenario.name } : {}),
  });
  if (!created) {
    const existing = await sessions.get(callId);
    if (existing?.state !== 'answer_failed') {
      logger.info('incoming call redelivered; already handled', { callId, eventId: event.id, state: existing?.state });
      // The delivery that answered may have failed before the lifecycle started (that failure is why
      // Event Grid redelivers): every answered call must have one, and starting is idempotent.
      if (existing?.callConnectionId) await deps.lifecycle.start(lifecycleStartOf(callId, existing, existing.callConnectionId, deps));
      return undefined;
    }
    logger.warn('retrying a failed answer', { callId, eventId: event.id });
  }

  const callbackUrl = callbackUrlOf(callId, deps);
  let callConnectionId: string;
  try {
    const media = config.webPubSub.mediaMode === 'realtime' && deps.mediaTransportUrl
      ? { transportUrl: await deps.mediaTransportUrl(callId), audioFormat: config.webPubSub.audioFormat }
      : undefined;
    const { client } = await deps.acs();
    const result = await client.answerCall(
      ...answerCallArgs({
        incomingCallContext: data.incomingCallContext,
        callbackUrl,
        operationContext: callId,
        cognitiveServicesEndpoint: config.acs.cognitiveServicesEndpoint,
        media,
      }),
    );
    callConnectionId = result.callConnectionProperties.callConnectionId ?? '';
    if (!callConnectionId) throw new Error('answerCall returned no callConnectionId');
  } catch (err) {
    const failure = classifyAnswerFailure(err);
    await deps.audit
      .append({
        callId,
        action: 'answer_failed',
        actor: 'system',
        at: startedAt,
        details: { error: (err as Error).name, status: failure.status ?? null, code: failure.code ?? null, retried: failure.transient },
      })
      .catch((auditErr: unknown) => logger.error('audit of a failed answer failed', { callId, error: auditErr as Error }));
    if (failure.transient) {
      await sessions.answerFailed(callId);
      // Surfacing the failure makes Event Grid redeliver, and the redelivery retries the answer.
      logger.warn('answer failed; Event Grid will redeliver', { callId, eventId: event.id, status: failure.status, code: failure.code });
      // Transient by the answer's own rule (which also retries 401/403: our credentials, fixed within Event Grid's window).
      throw new AppError('answerCall failed; the redelivery retries it', { code: 'answer_failed', retryable: true, context: { callId, status: failure.status ?? null }, cause: err });
    }
    // The context expired, is unknown or was answered already: no retry can succeed. Acknowledge, and
    // leave only the summary, which tells any later redelivery the call is over. Unless Redis could
    // not confirm this delivery came first: the refusal may then mean another instance answered, or
    // the call already ended, and its session and summary are not this delivery's to replace.
    logger.warn('incoming call cannot be answered; acknowledged', { callId, eventId: event.id, status: failure.status, code: failure.code });
    if (!durable || summary === UNKNOWN) return undefined;
    await store.setCallSummary(callId, { callId, outcome: 'answer_failed', startedAt, endedAt: startedAt, durationSeconds: 0, turnCount: 0, bargeIns: 0, summary: '0 turns, answer_failed' });
    await store.deleteCall(callId, { keepSummary: true });
    return undefined;
  }

  await sessions.answered(callId, { callConnectionId });
  await deps.lifecycle.start({
    callId,
    callConnectionId,
    startedAt,
    maxDurationSeconds: config.lifecycle.maxCallDurationSeconds,
    direction: 'inbound',
    archiveHorizonSeconds: config.lifecycle.archiveRetryHorizonSeconds,
    ...(callerUserId ? { callerUserId } : {}),
  });
  await deps.audit.append({ callId, action: 'answered', actor: 'agent', at: startedAt, idempotencyKey: `${callId}:answered` });
  logger.info('call answered', { callId, callConnectionId, caller: from ? maskPhoneNumber(from) : 'unknown' });
  return callId;
}

/**
 * Whether a failed answer is worth retrying. ACS answers 4xx for a request it will never accept (an
 * `incomingCallContext` that expired, is unknown, or whose call was answered already: the SDK's
 * answerCall spec lists only 200 and the default error response, so the status class is what there
 * is to go by); 408, 429, 5xx and transport errors (no status) are transient. 401/403 are ours
 * (credentials, roles): retried too, so the call is answered once they are fixed within Event Grid's
 * retry window.
 */
export function classifyAnswerFailure(err: unknown): { transient: boolean; status?: number; code?: string } {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  const code = (err as { code?: unknown } | null)?.code;
  const codeOf = typeof code === 'string' ? { code } : {};
  if (typeof status !== 'number') return { transient: true, ...codeOf };
  const transient = status === 401 || status === 403 || status === 408 || status === 429 || status >= 500;
  return { transient, status, ...codeOf };
}

/** A caller display name worth keeping: never a phone number (carriers often send the number as the name). */
function displayName(name: string | undefined): string | undefined {
  const trimmed = name?.trim();
  if (!trimmed || /\d{4,}/.test(trimmed)) return undefined;
  return trimmed.slice(0, 60);
}

/** The per-call callback URL: signed unless callbacks are authenticated by the ACS JWT alone. */
export function callbackUrlOf(callId: string, deps: Pick<CallControlDeps, 'config'>): string {
  const { acs, lifecycle } = deps.config;
  if (!acs.callbackBaseUrl) throw new Error('ACS_CALLBACK_BASE_URL is not configured');
  if (acs.callbackAuth === 'jwt') {
    const url = new URL(acs.callbackBaseUrl + CALLBACK_PATH);
    url.searchParams.set('callId', callId);
    return url.toString();
  }
  // The URL must stay valid for the longest call ACS may still be calling back about.
  return callbackUrlFor(acs.callbackBaseUrl, callId, acs.callbackSigningKey ?? '', { ttlSeconds: lifecycle.maxCallDurationSeconds + 3600 });
}

/**
 * The caller's user id, or none when the caller's number is not E.164 (a withheld or malformed caller
 * id): such a caller is still answered, as an unknown caller, rather than refused with a 500 that Event
 * Grid would redeliver for a day.
 */
function callerUserIdOf(from: string, callId: string, deps: CallControlDeps): string | undefined {
  try {
    return deps.profiles.userIdFor(from);
  } catch (error) {
    if (!(error instanceof InvalidArchiveInputError)) throw error;
    deps.logger.warn('caller number is not E.164; answering as an unknown caller', { callId });
    return undefined;
  }
}
