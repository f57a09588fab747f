import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { mediaStreamingOptions, phoneIdentifier } from '../acs/client.js';
import { maskPhoneNumber } from '../telemetry/logger.js';
import { badRequest, type WebhookRequest, type WebhookResponse } from './http.js';
import { callbackUrlOf } from './incoming-call.js';
import type { CallControlDeps } from './ports.js';

const PlaceCallBody = z.object({
  target: z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 phone number such as +15550100'),
  purpose: z.string().trim().min(1).max(200),
});

/**
 * POST /api/calls `{ target, purpose }`: places an outbound call through `createCall`; the same
 * callbacks, turns and lifecycle follow as for an inbound call.
 */
export async function handlePlaceCall(request: WebhookRequest, deps: CallControlDeps): Promise<WebhookResponse> {
  const { config, logger } = deps;
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return badRequest('body: not JSON');
  }
  const parsed = PlaceCallBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return badRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  if (!config.acs.sourceNumber) return { status: 409, jsonBody: { error: 'not_configured', reason: 'ACS_SOURCE_NUMBER is not set' } };

  const { target, purpose } = parsed.data;
  const callId = `out-${randomBytes(12).toString('base64url')}`;
  const startedAt = (deps.now?.() ?? new Date()).toISOString();
  const callerUserId = deps.profiles.userIdFor(target);
  await deps.sessions.create(callId, {
    state: 'placing',
    direction: 'outbound',
    startedAt,
    purpose,
    callerUserId,
    callerMasked: maskPhoneNumber(target),
    participantRawId: `4:${target}`,
  });

  const { client } = await deps.acs();
  const media = config.webPubSub.mediaMode === 'realtime' && deps.mediaTransportUrl
    ? mediaStreamingOptions({ transportUrl: await deps.mediaTransportUrl(callId), audioFormat: config.webPubSub.audioFormat })
    : undefined;
  const result = await client.createCall(
    { targetParticipant: phoneIdentifier(target), sourceCallIdNumber: phoneIdentifier(config.acs.sourceNumber) },
    callbackUrlOf(callId, deps),
    {
      operationContext: callId,
      ...(config.acs.cognitiveServicesEndpoint ? { callIntelligenceOptions: { cognitiveServicesEndpoint: config.acs.cognitiveServicesEndpoint } } : {}),
      ...(media ? { mediaStreamingOptions: media } : {}),
    },
  );
  const callConnectionId = result.callConnectionProperties.callConnectionId;
  if (!callConnectionId) throw new Error('createCall returned no callConnectionId');
  await deps.sessions.answered(callId, { callConnectionId, correlationId: result.callConnectionProperties.correlationId });
  await deps.lifecycle.start({ callId, callConnectionId, startedAt, maxDurationSeconds: config.lifecycle.maxCallDurationSeconds, direction: 'outbound', callerUserId, archiveHorizonSeconds: config.lifecycle.archiveRetryHorizonSeconds });
  await deps.audit.append({ callId, action: 'call_placed', actor: 'api', at: startedAt, idempotencyKey: `${callId}:placed`, details: { purpose } });
  logger.info('outbound call placed', { callId, callConnectionId, target: maskPhoneNumber(target) });
  return { status: 202, jsonBody: { callId, callConnectionId } };
}
