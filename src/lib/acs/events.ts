import { z } from 'zod';
import { EVENT_DATA, type CallAutomationEventKind, type EventData } from './event-models.js';
import { decodeEventList, firstIssue, type ParseResult } from './parse-issues.js';

export * from './event-models.js';
export * from './event-grid.js';
export * from './result-codes.js';
export type { ParseResult } from './parse-issues.js';

/**
 * Parsing of the CloudEvents array ACS Call Automation POSTs to the callback URL.
 *
 * The SDK's `parseCallAutomationEvent` reads only element [0] and throws on unknown types; this
 * parser reads every element, validates each `data` against its type, and keeps unknown types
 * (to be logged and acknowledged) so a new ACS event never fails the whole delivery.
 */

const EVENT_TYPE_PREFIX = 'Microsoft.Communication.';
/** ACS sends one event per request today; a bound keeps a hostile body from costing much. */
export const MAX_EVENTS_PER_REQUEST = 100;

const CloudEventEnvelope = z.looseObject({
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  specversion: z.literal('1.0').optional(),
  time: z.string().optional(),
  subject: z.string().optional(),
  datacontenttype: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

interface EnvelopeFields {
  /** CloudEvent id: ACS retries reuse it, so it is the de-duplication key. */
  readonly id: string;
  /** The full type, e.g. `Microsoft.Communication.CallConnected`. */
  readonly type: string;
  /** `calling/callConnections/<callConnectionId>`. */
  readonly source: string;
  readonly time: string | undefined;
}

export type KnownCallAutomationEvent = {
  [K in CallAutomationEventKind]: EnvelopeFields & { readonly kind: K; readonly data: EventData<K> };
}[CallAutomationEventKind];

export interface UnknownCallAutomationEvent extends EnvelopeFields {
  readonly kind: 'unknown';
  readonly data: Record<string, unknown>;
}

export type CallAutomationEvent = KnownCallAutomationEvent | UnknownCallAutomationEvent;

/** Narrowing helper: `if (isEvent(e, 'RecognizeCompleted')) e.data.speechResult`. */
export function isEvent<K extends CallAutomationEventKind>(
  event: CallAutomationEvent,
  kind: K,
): event is Extract<KnownCallAutomationEvent, { kind: K }> {
  return event.kind === kind;
}

function knownKind(type: string): CallAutomationEventKind | undefined {
  if (!type.startsWith(EVENT_TYPE_PREFIX)) return undefined;
  const name = type.slice(EVENT_TYPE_PREFIX.length);
  return Object.hasOwn(EVENT_DATA, name) ? (name as CallAutomationEventKind) : undefined;
}

/**
 * Parses a callback body (JSON text or parsed value). A single event object is accepted as a
 * one-element array (structured CloudEvents mode).
 *
 * @example
 * const parsed = parseCallAutomationEvents(await request.text());
 * if (!parsed.ok) return { status: 400, jsonBody: { error: parsed.reason } }; // "events[2].data.callConnectionId: required"
 * for (const event of parsed.value) { … }
 */
export function parseCallAutomationEvents(body: unknown): ParseResult<CallAutomationEvent[]> {
  const decoded = decodeEventList(body, 'CloudEvents', MAX_EVENTS_PER_REQUEST);
  if (!decoded.ok) return decoded;
  const list = decoded.value;

  const events: CallAutomationEvent[] = [];
  for (const [index, raw] of list.entries()) {
    const parsed = parseOne(raw, `events[${index}]`);
    if (!parsed.ok) return parsed;
    events.push(parsed.value);
  }
  return { ok: true, value: events };
}

function parseOne(raw: unknown, where: string): ParseResult<CallAutomationEvent> {
  const envelope = CloudEventEnvelope.safeParse(raw);
  if (!envelope.success) return { ok: false, reason: firstIssue(where, envelope.error) };
  const { id, type, source, time, data } = envelope.data;
  const fields: EnvelopeFields = { id, type, source, time };
  const kind = knownKind(type);
  if (!kind) return { ok: true, value: { ...fields, kind: 'unknown', data } };
  const parsedData = EVENT_DATA[kind].safeParse(data);
  if (!parsedData.success) return { ok: false, reason: firstIssue(`${where}.data`, parsedData.error) };
  return { ok: true, value: { ...fields, kind, data: parsedData.data } as KnownCallAutomationEvent };
}

/** The recognized text of a RecognizeCompleted event (speech, choice phrase/label, or DTMF tones). */
export function recognizedText(data: EventData<'RecognizeCompleted'>): string {
  switch (data.recognitionType) {
    case 'speech':
      return data.speechResult?.speech.trim() ?? '';
    case 'choices':
      return data.choiceResult?.recognizedPhrase ?? data.choiceResult?.label ?? '';
    case 'dtmf':
      return (data.dtmfResult?.tones ?? []).join(' ');
  }
}
