/**
 * The `json.webpubsub.azure.v1` / `json.reliable.webpubsub.azure.v1` subprotocol: parsing what a
 * client sends and writing what the service sends. Data messages are written as a "tail" (the
 * object without its opening brace) once per message, so a reliable recipient only prepends its
 * own `{"sequenceId":N,` and nothing is serialised per recipient.
 */
import { Payload, type DataType } from './payload.js';

export const JSON_SUBPROTOCOL = 'json.webpubsub.azure.v1';
export const RELIABLE_JSON_SUBPROTOCOL = 'json.reliable.webpubsub.azure.v1';
export const SUPPORTED_SUBPROTOCOLS: readonly string[] = [JSON_SUBPROTOCOL, RELIABLE_JSON_SUBPROTOCOL];

export type AckErrorName = 'Forbidden' | 'InternalServerError' | 'Duplicate' | 'BadRequest';

export type ClientMessage =
  | { type: 'joinGroup' | 'leaveGroup'; group: string; ackId: number | undefined }
  | { type: 'sendToGroup'; group: string; ackId: number | undefined; noEcho: boolean; payload: Payload }
  | { type: 'event'; event: string; ackId: number | undefined; payload: Payload }
  | { type: 'invoke'; invocationId: string; event: string; payload: Payload | undefined }
  | { type: 'cancelInvocation'; invocationId: string }
  | { type: 'sequenceAck'; sequenceId: number }
  | { type: 'ping' };

/** A message the emulator could not accept; carries the ackId so the client still gets an ack. */
export class ProtocolMessageError extends Error {
  override readonly name = 'ProtocolMessageError';
  constructor(
    message: string,
    readonly ackId: number | undefined,
  ) {
    super(message);
  }
}

const DATA_TYPES = new Set<string>(['text', 'binary', 'json']);

/** Parses one text frame. Throws SyntaxError for invalid JSON, ProtocolMessageError for a bad message. */
export function parseClientMessage(text: string): ClientMessage {
  const raw: unknown = JSON.parse(text);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ProtocolMessageError('A message must be a JSON object.', undefined);
  const m = raw as Record<string, unknown>;
  const ackId = readAckId(m);
  switch (m.type) {
    case 'joinGroup':
    case 'leaveGroup':
      return { type: m.type, group: requireString(m, 'group', ackId), ackId };
    case 'sendToGroup':
      return { type: 'sendToGroup', group: requireString(m, 'group', ackId), ackId, noEcho: m.noEcho === true, payload: readPayload(m, ackId) };
    case 'event':
      return { type: 'event', event: requireString(m, 'event', ackId), ackId, payload: readPayload(m, ackId) };
    case 'invoke':
      return {
        type: 'invoke',
        invocationId: requireString(m, 'invocationId', undefined),
        event: requireString(m, 'event', undefined),
        payload: m.data === undefined ? undefined : readPayload(m, undefined),
      };
    case 'cancelInvocation':
      return { type: 'cancelInvocation', invocationId: requireString(m, 'invocationId', undefined) };
    case 'sequenceAck':
      if (typeof m.sequenceId !== 'number' || !Number.isSafeInteger(m.sequenceId)) throw new ProtocolMessageError('sequenceAck needs a numeric sequenceId.', undefined);
      return { type: 'sequenceAck', sequenceId: m.sequenceId };
    case 'ping':
      return { type: 'ping' };
    default:
      throw new ProtocolMessageError(`Unsupported message type '${String(m.type)}'.`, ackId);
  }
}

function readAckId(m: Record<string, unknown>): number | undefined {
  if (m.ackId === undefined || m.ackId === null) return undefined;
  if (typeof m.ackId !== 'number' || !Number.isSafeInteger(m.ackId) || m.ackId < 0) throw new ProtocolMessageError('ackId must be a non-negative integer.', undefined);
  return m.ackId;
}

function requireString(m: Record<string, unknown>, field: string, ackId: number | undefined): string {
  const value = m[field];
  if (typeof value !== 'string' || value.length === 0) throw new ProtocolMessageError(`Missing or invalid '${field}'.`, ackId);
  return value;
}

function readPayload(m: Record<string, unknown>, ackId: number | undefined): Payload {
  const dataType = m.dataType === undefined ? 'json' : m.dataType;
  if (typeof dataType !== 'string' || !DATA_TYPES.has(dataType)) throw new ProtocolMessageError(`Invalid dataType '${String(dataType)}'.`, ackId);
  const payload = Payload.fromProtocolData(m.data, dataType as DataType);
  if (!payload) throw new ProtocolMessageError(`Invalid data for dataType '${dataType}'.`, ackId);
  return payload;
}

export function writeConnected(connectionId: string, userId: string | undefined, reconnectionToken: string | undefined): string {
  return JSON.stringify({ type: 'system', event: 'connected', userId: userId ?? null, connectionId, reconnectionToken });
}

export function writeDisconnected(message: string): string {
  return JSON.stringify({ type: 'system', event: 'disconnected', message });
}

export function writeAck(ackId: number): string {
  return `{"type":"ack","ackId":${ackId},"success":true}`;
}

export function writeErrorAck(ackId: number, name: AckErrorName, message: string): string {
  return JSON.stringify({ type: 'ack', ackId, success: false, error: { name, message } });
}

export const PONG = '{"type":"pong"}';

export function writeInvokeResponse(invocationId: string, result: { payload?: Payload; error?: { name: string; message: string } }): string {
  const head = `{"type":"invokeResponse","invocationId":${JSON.stringify(invocationId)}`;
  if (result.error) return `${head},"success":false,"error":${JSON.stringify(result.error)}}`;
  if (result.payload) return `${head},"success":true,"dataType":"${result.payload.dataType}","data":${result.payload.jsonLiteral}}`;
  return `${head},"success":true}`;
}

/** `"type":"message","from":"group",…}` — a group message without its opening brace. */
export function groupMessageTail(group: string, fromUserId: string | undefined, payload: Payload): Buffer {
  const from = fromUserId === undefined ? '' : `,"fromUserId":${JSON.stringify(fromUserId)}`;
  return Buffer.from(`"type":"message","from":"group","group":${JSON.stringify(group)}${from},"dataType":"${payload.dataType}","data":${payload.jsonLiteral}}`, 'utf8');
}

/** `"type":"message","from":"server",…}` — a server message without its opening brace. */
export function serverMessageTail(payload: Payload): Buffer {
  return Buffer.from(`"type":"message","from":"server","dataType":"${payload.dataType}","data":${payload.jsonLiteral}}`, 'utf8');
}

const OPEN_BRACE = Buffer.from('{', 'utf8');

/** A whole message for a non-reliable client. */
export function withoutSequence(tail: Buffer): Buffer {
  return Buffer.concat([OPEN_BRACE, tail]);
}

/** A whole message for a reliable client: the per-recipient sequence id is the only per-recipient work. */
export function withSequence(sequenceId: number, tail: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{"sequenceId":${sequenceId},`, 'utf8'), tail]);
}
