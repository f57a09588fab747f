import type { IncomingMessage } from 'node:http';
import { EmulatedCall, type CallServices, type RestRecord } from './call.js';
import { AcsRestError } from './errors.js';
import type { EventGridSender } from './event-grid.js';
import { toIdentifier, type IdentifierModel } from './identifiers.js';
import { REST_ERROR } from './result-codes.js';

/**
 * The Call Automation REST surface with the status codes of the SDK's operation specs
 * (`@azure/communication-call-automation` 1.6.0, generated `operations/*.js`): a status the spec does
 * not list becomes a RestError in the SDK, so each answer matches its spec exactly.
 */

export interface RestReply {
  readonly status: number;
  readonly body?: unknown;
}

export interface HandledRequest extends RestReply {
  readonly operation: string;
}

export interface RestState {
  readonly calls: Map<string, EmulatedCall>;
  readonly requests: RestRecord[];
  readonly eventGrid: EventGridSender;
  readonly services: CallServices;
  readonly nowMs: () => number;
  /** Called for each outbound call the app creates, so a script can take it. */
  readonly onOutboundCall: (call: EmulatedCall) => void;
  /** Injected refusals by operation: each refuses that many requests before they take effect. */
  readonly refusals?: Map<string, { status: number; code: string; count: number }>;
  /** Answers still to accept and then fail with AnswerFailed (fault injection). */
  readonly answerFailures?: { count: number };
}

const CALL_PATH = /^\/calling\/callConnections\/([^/:]+)(?::([A-Za-z]+))?(\/participants)?$/;

export class RestApi {
  private readonly repeatability = new Map<string, RestReply>();

  constructor(private readonly state: RestState) {}

  handle(req: IncomingMessage, rawBody: Buffer): HandledRequest {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const parsed = parseBody(rawBody);
    const body = parsed ?? {};
    const route = parsed === undefined ? invalidJson(this.route(method, url.pathname)) : this.route(method, url.pathname);
    const repeatabilityRequestId = headerOf(req, 'repeatability-request-id');
    const record: RestRecord = {
      atMs: this.state.nowMs(),
      method,
      path: url.pathname,
      apiVersion: url.searchParams.get('api-version') ?? undefined,
      operation: route.operation,
      callConnectionId: route.callConnectionId,
      body,
      status: 0,
      repeatabilityRequestId,
      replayed: false,
    };
    const cached = repeatabilityRequestId ? this.repeatability.get(repeatabilityRequestId) : undefined;
    let reply: RestReply;
    if (cached) {
      record.replayed = true;
      reply = cached;
    } else {
      reply = this.run(route, body, record);
      if (repeatabilityRequestId && reply.status < 500) this.repeatability.set(repeatabilityRequestId, reply);
    }
    record.status = reply.status;
    // answer/create name their call only in the response body.
    record.callConnectionId ??= (reply.body as { callConnectionId?: string } | undefined)?.callConnectionId;
    this.state.requests.push(record);
    const call = record.callConnectionId ? this.state.calls.get(record.callConnectionId) : undefined;
    call?.record(record);
    return { ...reply, operation: route.operation };
  }

  private run(route: Route, body: Record<string, any>, record: RestRecord): RestReply {
    const refusal = this.state.refusals?.get(route.operation);
    if (refusal && refusal.count > 0) {
      refusal.count -= 1;
      record.error = `refused by fault injection (${refusal.code})`;
      return { status: refusal.status, body: { error: { code: refusal.code, message: record.error } } };
    }
    try {
      return route.handler(body);
    } catch (error) {
      if (error instanceof AcsRestError) {
        record.error = error.message;
        return { status: error.status, body: { error: { code: error.code, message: error.message } } };
      }
      record.error = error instanceof Error ? error.message : String(error);
      return { status: 500, body: { error: { code: 'InternalServerError', message: record.error } } };
    }
  }

  private route(method: string, path: string): Route {
    if (path === '/calling/callConnections:answer' && method === 'POST') return { operation: 'answerCall', handler: (b) => this.answer(b) };
    if (path === '/calling/callConnections' && method === 'POST') return { operation: 'createCall', handler: (b) => this.create(b) };
    if (path === '/calling/callConnections:reject' && method === 'POST') return { operation: 'rejectCall', handler: (b) => this.reject(b) };
    if (path === '/calling/callConnections:redirect' && method === 'POST') return { operation: 'redirectCall', handler: (b) => this.reject(b) };
    const match = CALL_PATH.exec(path);
    if (!match) return unknown(method, path);
    const id = decodeURIComponent(match[1] ?? '');
    const action = match[2];
    const participants = match[3] !== undefined;
    const withCall = (operation: string, handler: (call: EmulatedCall, body: Record<string, any>) => RestReply): Route => ({
      operation,
      callConnectionId: id,
      handler: (body) => handler(this.activeCall(id), body),
    });
    if (participants && !action && method === 'GET') {
      return withCall('getParticipants', (call) => ({ status: 200, body: { value: call.participants() } }));
    }
    if (!action && !participants) {
      if (method === 'GET') return withCall('getCall', (call) => ({ status: 200, body: call.properties() }));
      if (method === 'DELETE') return withCall('hangupCall', (call) => (call.hangUpByApp(), { status: 204 }));
      return unknown(method, path);
    }
    if (method !== 'POST' || participants) return unknown(method, path);
    switch (action) {
      case 'terminate':
        return withCall('terminateCall', (call) => (call.hangUpByApp(), { status: 204 }));
      case 'transferToParticipant':
        return withCall('transferToParticipant', (call, body) => {
          if (!body.targetParticipant) throw new AcsRestError(400, 'BadRequest', 'targetParticipant is required.');
          call.transfer(body);
          return { status: 202, body: { operationContext: body.operationContext } };
        });
      case 'play':
        return withCall('play', (call, body) => (call.requireConnected(), call.ops.play(body), { status: 202 }));
      case 'recognize':
        return withCall('recognize', (call, body) => (call.requireConnected(), call.ops.recognize(body), { status: 202 }));
      case 'cancelAllMediaOperations':
        return withCall('cancelAllMediaOperations', (call) => (call.requireConnected(), call.ops.cancelAll(), { status: 202 }));
      case 'startMediaStreaming':
        return withCall('startMediaStreaming', (call, body) => (call.startMediaStreamingRequest(body), { status: 202 }));
      case 'stopMediaStreaming':
        return withCall('stopMediaStreaming', (call, body) => (call.stopMediaStreamingRequest(body), { status: 202 }));
      default:
        return unknown(method, path, id);
    }
  }

  private activeCall(id: string): EmulatedCall {
    const call = this.state.calls.get(id);
    if (!call || !call.isActive) throw new AcsRestError(REST_ERROR.callNotFound.status, REST_ERROR.callNotFound.code, REST_ERROR.callNotFound.message);
    return call;
  }

  private answer(body: Record<string, any>): RestReply {
    requireFields(body, ['incomingCallContext', 'callbackUri']);
    const pending = this.state.eventGrid.pending(String(body.incomingCallContext));
    if (!pending) throw new AcsRestError(400, 'BadRequest', 'The incomingCallContext is invalid or has expired.');
    if (pending.callConnectionId) throw new AcsRestError(400, 'BadRequest', 'The call has already been answered.');
    validateMediaStreaming(body.mediaStreamingOptions);
    const call = new EmulatedCall('inbound', pending.from, pending.to, this.state.services, {
      serverCallId: pending.serverCallId,
      correlationId: pending.correlationId,
      incomingCallContext: pending.incomingCallContext,
    });
    pending.callConnectionId = call.callConnectionId;
    this.state.calls.set(call.callConnectionId, call);
    const failures = this.state.answerFailures;
    if (failures && failures.count > 0) {
      failures.count -= 1;
      call.connectFailing(body);
    } else {
      call.connect(body);
    }
    return { status: 200, body: call.properties() };
  }

  private create(body: Record<string, any>): RestReply {
    requireFields(body, ['targets', 'callbackUri']);
    const targets = body.targets as IdentifierModel[];
    if (!Array.isArray(targets) || targets.length === 0) throw new AcsRestError(400, 'BadRequest', 'targets must not be empty.');
    validateMediaStreaming(body.mediaStreamingOptions);
    const from: IdentifierModel = body.sourceCallerIdNumber
      ? toIdentifier(String(body.sourceCallerIdNumber.value))
      : (body.source ?? toIdentifier(this.state.services.appIdentity));
    const call = new EmulatedCall('outbound', targets[0] as IdentifierModel, from, this.state.services);
    this.state.calls.set(call.callConnectionId, call);
    call.callbackUri = String(body.callbackUri);
    const reply = { status: 201, body: call.properties() };
    // The callee picks up shortly after; a scripted callee may be waiting for it.
    setTimeout(() => {
      this.state.onOutboundCall(call);
      call.connect(body);
    }, 20);
    return reply;
  }

  private reject(body: Record<string, any>): RestReply {
    requireFields(body, ['incomingCallContext']);
    const pending = this.state.eventGrid.pending(String(body.incomingCallContext));
    if (!pending || pending.callConnectionId) throw new AcsRestError(400, 'BadRequest', 'The incomingCallContext is invalid or has expired.');
    pending.callConnectionId = 'rejected';
    return { status: 204 };
  }
}

interface Route {
  readonly operation: string;
  readonly callConnectionId?: string;
  readonly handler: (body: Record<string, any>) => RestReply;
}

function unknown(method: string, path: string, callConnectionId?: string): Route {
  return {
    operation: 'unknown',
    callConnectionId,
    handler: () => {
      throw new AcsRestError(REST_ERROR.notFound.status, REST_ERROR.notFound.code, `${method} ${path} is not an operation the emulator provides.`);
    },
  };
}

function requireFields(body: Record<string, any>, names: string[]): void {
  const missing = names.filter((n) => body[n] === undefined || body[n] === null || body[n] === '');
  if (missing.length > 0) throw new AcsRestError(400, 'BadRequest', `Missing required field(s): ${missing.join(', ')}.`);
}

function validateMediaStreaming(options: Record<string, any> | undefined): void {
  if (!options) return;
  if (String(options.transportType ?? '').toLowerCase() !== 'websocket') {
    throw new AcsRestError(400, 'BadRequest', 'mediaStreamingOptions.transportType must be "websocket".');
  }
  const format = options.audioFormat === undefined ? 'pcm16kmono' : String(options.audioFormat).toLowerCase();
  if (format !== 'pcm16kmono' && format !== 'pcm24kmono') {
    throw new AcsRestError(400, 'BadRequest', 'mediaStreamingOptions.audioFormat must be pcm16KMono or pcm24KMono.');
  }
  if (options.transportUrl !== undefined && !/^wss?:\/\//i.test(String(options.transportUrl))) {
    throw new AcsRestError(400, 'BadRequest', 'mediaStreamingOptions.transportUrl must be a ws:// or wss:// URL.');
  }
}

/** The body as an object; undefined when it is not JSON. */
function parseBody(raw: Buffer): Record<string, any> | undefined {
  if (raw.length === 0) return {};
  try {
    const parsed = JSON.parse(raw.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function invalidJson(route: Route): Route {
  return {
    ...route,
    handler: () => {
      throw new AcsRestError(400, 'BadRequest', 'The request body is not valid JSON.');
    },
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
