import { z } from 'zod';
import { CommunicationIdentifier } from './event-models.js';
import { decodeEventList, firstIssue, type ParseResult } from './parse-issues.js';

/**
 * Parsing of Event Grid deliveries to the IncomingCall webhook. Both subscription schemas are read:
 * the Event Grid schema (`eventType`, `eventTime`, validation by `SubscriptionValidationEvent`) and the
 * CloudEvents 1.0 schema (`type`, `time`, validation by the `OPTIONS` handshake, see
 * {@link webhookHandshake}).
 */

export const INCOMING_CALL_EVENT_TYPE = 'Microsoft.Communication.IncomingCall';
export const SUBSCRIPTION_VALIDATION_EVENT_TYPE = 'Microsoft.EventGrid.SubscriptionValidationEvent';
/** Event Grid batches at most 5000 events; ACS IncomingCall deliveries are small. */
export const MAX_EVENT_GRID_EVENTS = 100;

export const IncomingCallData = z.looseObject({
  to: CommunicationIdentifier,
  from: CommunicationIdentifier,
  serverCallId: z.string().min(1),
  callerDisplayName: z.string().optional(),
  incomingCallContext: z.string().min(1),
  correlationId: z.string().min(1),
  customContext: z
    .looseObject({
      sipHeaders: z.record(z.string(), z.string()).optional(),
      voipHeaders: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  onBehalfOfCallee: CommunicationIdentifier.optional(),
});
export type IncomingCallEventData = z.infer<typeof IncomingCallData>;

const ValidationData = z.looseObject({ validationCode: z.string().min(1), validationUrl: z.string().optional() });

const EventGridEnvelope = z.looseObject({
  id: z.string().min(1),
  eventType: z.string().min(1),
  eventTime: z.string().optional(),
  subject: z.string().optional(),
  topic: z.string().optional(),
  data: z.unknown(),
});
const CloudEventEnvelope = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  specversion: z.literal('1.0'),
  time: z.string().optional(),
  subject: z.string().optional(),
  source: z.string().optional(),
  data: z.unknown(),
});

interface Common {
  readonly id: string;
  readonly eventType: string;
  readonly eventTime: string | undefined;
}

export type EventGridEvent =
  | (Common & { readonly kind: 'subscriptionValidation'; readonly validationCode: string; readonly validationUrl: string | undefined })
  | (Common & { readonly kind: 'incomingCall'; readonly data: IncomingCallEventData })
  | (Common & { readonly kind: 'unknown' });

/**
 * @example
 * const parsed = parseEventGridEvents(await request.text());
 * if (!parsed.ok) return { status: 400, jsonBody: { error: parsed.reason } };
 * const validation = parsed.value.find((e) => e.kind === 'subscriptionValidation');
 * if (validation) return { status: 200, jsonBody: { validationResponse: validation.validationCode } };
 */
export function parseEventGridEvents(body: unknown): ParseResult<EventGridEvent[]> {
  const decoded = decodeEventList(body, 'Event Grid events', MAX_EVENT_GRID_EVENTS);
  if (!decoded.ok) return decoded;
  const list = decoded.value;

  const events: EventGridEvent[] = [];
  for (const [index, raw] of list.entries()) {
    const where = `events[${index}]`;
    const envelope = readEnvelope(raw);
    if (!envelope) {
      return { ok: false, reason: `${where}: neither an Event Grid event (id, eventType, data) nor a CloudEvent (id, type, specversion, data)` };
    }
    const { common } = envelope;

    if (common.eventType === SUBSCRIPTION_VALIDATION_EVENT_TYPE) {
      const data = ValidationData.safeParse(envelope.data);
      if (!data.success) return { ok: false, reason: firstIssue(`${where}.data`, data.error) };
      events.push({ ...common, kind: 'subscriptionValidation', validationCode: data.data.validationCode, validationUrl: data.data.validationUrl });
    } else if (common.eventType === INCOMING_CALL_EVENT_TYPE) {
      const data = IncomingCallData.safeParse(envelope.data);
      if (!data.success) return { ok: false, reason: firstIssue(`${where}.data`, data.error) };
      events.push({ ...common, kind: 'incomingCall', data: data.data });
    } else {
      events.push({ ...common, kind: 'unknown' });
    }
  }
  return { ok: true, value: events };
}

function readEnvelope(raw: unknown): { common: Common; data: unknown } | undefined {
  const eg = EventGridEnvelope.safeParse(raw);
  if (eg.success) return { common: { id: eg.data.id, eventType: eg.data.eventType, eventTime: eg.data.eventTime }, data: eg.data.data };
  const ce = CloudEventEnvelope.safeParse(raw);
  if (ce.success) return { common: { id: ce.data.id, eventType: ce.data.type, eventTime: ce.data.time }, data: ce.data.data };
  return undefined;
}

/**
 * The CloudEvents webhook abuse-protection handshake (`OPTIONS` with `WebHook-Request-Origin`):
 * returns the response headers that allow delivery, or undefined when the request is not a handshake.
 */
export function webhookHandshake(headers: { get(name: string): string | null }): Record<string, string> | undefined {
  const origin = headers.get('webhook-request-origin');
  if (!origin) return undefined;
  return { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*' };
}

/** E.164 number of a phone identifier (`phoneNumber.value`, or `rawId` `4:+1555…`), if it is one. */
export function phoneNumberOf(identifier: z.infer<typeof CommunicationIdentifier>): string | undefined {
  if (identifier.phoneNumber?.value) return identifier.phoneNumber.value;
  const raw = identifier.rawId;
  return raw?.startsWith('4:') ? raw.slice(2) : undefined;
}
