import { answerCallArgs } from '../acs/client.js';
import { CALLBACK_PATH, callbackUrlFor } from '../acs/callback-auth.js';
import { parseEventGridEvents, phoneNumberOf, webhookHandshake, type EventGridEvent } from '../acs/events.js';
import { maskPhoneNumber } from '../telemetry/logger.js';
import { badRequest, ok, type WebhookRequest, type WebhookResponse } from './http.js';
import type { CallControlDeps } from './ports.js';
import { callIdForIncoming, toCallSession } from './session.js';

type IncomingCallEvent = Extract<EventGridEvent, { kind: 'incomingCall' }>;

/**
 * The Event Grid webhook: the subscription validation handshake (Event Grid schema), the CloudEvents
 * abuse-protection handshake (OPTIONS), and IncomingCall → session → answer → lifecycle.
 * Redelivery of the same call is recognised by its session and changes nothing.
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
      const callId = await answerIncoming(event, deps);
      if (callId) answered.push(callId);
    } else {
      deps.logger.info('event grid event ignored', { eventType: event.eventType, eventId: event.id });
    }
  }
  return ok({ answered });
}

/** Returns the call id when this delivery answered the call; undefined for a redelivery. */
async function answerIncoming(event: IncomingCallEvent, deps: CallControlDeps): Promise<string | undefined> {
  const { config, logger, store } = deps;
  const data = event.data;
  const callId = callIdForIncoming(data.serverCallId);
  const from = phoneNumberOf(data.from);
  const callerUserId = from ? deps.profiles.userIdFor(from) : undefined;
  const startedAt = (deps.now?.() ?? new Date()).toISOString();

  // After the lifecycle's cleanup only the call's summary is left (7 days). A redelivery arriving then
  // must not create a new session and answer again: ACS refuses an answered call, the 500 would make
  // Event Grid redeliver for a day, and the new session would outlive the cleanup. Finalize writes the
  // summary before cleanup deletes the session, so at any moment one of the two tells us.
  if (await store.getCallSummary(callId)) {
    logger.info('incoming call redelivered after the call ended; ignored', { callId, eventId: event.id });
    return undefined;
  }

  const { created } = await store.createCallSession(callId, {
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
    const existing = toCallSession(await store.getCallSession(callId));
    if (existing?.state !== 'answer_failed') {
      logger.info('incoming call redelivered; already handled', { callId, eventId: event.id, state: existing?.state });
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
    const client = await deps.acs();
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
    await store.updateCallSession(callId, { state: 'answer_failed' });
    await deps.audit
      .append({ callId, action: 'answer_failed', actor: 'system', at: startedAt, details: { error: (err as Error).name } })
      .catch((auditErr: unknown) => logger.error('audit of a failed answer failed', { callId, error: auditErr as Error }));
    // Surfacing the failure makes Event Grid redeliver, and the redelivery retries the answer.
    throw err;
  }

  await store.updateCallSession(callId, { state: 'answered', callConnectionId });
  await deps.lifecycle.start({
    callId,
    callConnectionId,
    startedAt,
    maxDurationSeconds: config.lifecycle.maxCallDurationSeconds,
    direction: 'inbound',
    callerUserId,
  });
  await deps.audit.append({ callId, action: 'answered', actor: 'agent', at: startedAt, idempotencyKey: `${callId}:answered` });
  logger.info('call answered', { callId, callConnectionId, caller: from ? maskPhoneNumber(from) : 'unknown' });
  return callId;
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
