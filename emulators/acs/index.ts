import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consoleLogger, type Logger } from '../../src/lib/telemetry/logger.js';
import { CallbackSender } from './callbacks.js';
import { ControlApi } from './control.js';
import type { CallServices, EmulatedCall, RestRecord } from './call.js';
import { placeScriptedCall, runScript, type CalleeScript, type CallerScript, type CallRecording, type PlaceCallOptions, type RunOptions } from './caller.js';
import { EventGridSender, type EventGridDelivery, type IncomingCallInput, type PendingIncomingCall } from './event-grid.js';
import { verifyHmac } from './hmac.js';
import { TokenSigner, type JwtSettings } from './jwt.js';
import { RestApi } from './rest.js';

export type { CalleeScript, CallerScript, CallerStep, CallRecording, HeardItem, PlaceCallOptions, RunOptions, SaidItem } from './caller.js';
export type { EmulatedCall, RestRecord, CallState, MediaStreamingConfig } from './call.js';
export type { CloudEvent, SentEvent } from './callbacks.js';
export type { HeardAudio, StopAudioRecord } from './playout.js';
export type { HeardPlay } from './media-ops.js';
export type { IncomingCallInput, PendingIncomingCall } from './event-grid.js';
export { speechLikePcm, bytesPerFrame, rmsLevel, FRAME_MS } from './audio.js';
export { AcsEmulatorError, AcsRestError, CallerScriptError, DeliveryFailedError } from './errors.js';

/**
 * A local stand-in for Azure Communication Services Call Automation that the real
 * `@azure/communication-call-automation` SDK talks to over HTTP (create the client with
 * `{ allowInsecureConnection: true }`): HMAC-authenticated REST, RS256-signed callbacks, Event Grid
 * IncomingCall delivery, the media WebSocket client, and a scripted caller.
 *
 * @example
 * const acs = await startAcsEmulator();
 * const client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
 * const run = acs.placeCall({ from: '+15550100', to: '+15550199', steps: [{ waitFor: 'greeting' }, { hangUp: true }] },
 *   { eventGridUrl: 'http://127.0.0.1:7071/api/incomingCall' });
 */

export interface AcsEmulatorOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Base64 access key of the connection string. @default 32 random bytes */
  readonly accessKey?: string;
  readonly logger?: Logger;
  /** `aud` of callback and media tokens (ACS uses the resource's immutable id). @default a random UUID */
  readonly audience?: string;
  /** How long a played text takes per character. @default 20 */
  readonly speechMsPerChar?: number;
  /** How long a played file takes. @default 500 */
  readonly filePlayMs?: number;
  /** Pauses before callback retries; the length is the number of retries. @default [200, 1000] */
  readonly callbackRetryDelaysMs?: readonly number[];
  /** POST every callback twice (same event id). @default false */
  readonly duplicateCallbacks?: boolean;
  /**
   * Send `Authorization: Bearer <media JWT>` when connecting to a transportUrl, as ACS does.
   * @default true
   */
  readonly mediaAuthorizationHeader?: boolean;
  /** Serve the unauthenticated `/emulator/*` control API (for running as a process). @default false */
  readonly controlApi?: boolean;
}

export interface AcsEmulator {
  /** `http://127.0.0.1:<port>/` */
  readonly endpoint: string;
  readonly connectionString: string;
  readonly accessKey: string;
  readonly jwt: JwtSettings;
  readonly eventGrid: {
    validate(endpointUrl: string): Promise<EventGridDelivery & { validated: boolean }>;
    sendIncomingCall(endpointUrl: string, input: IncomingCallInput, options?: { expired?: boolean }): Promise<EventGridDelivery & PendingIncomingCall>;
    redeliver(endpointUrl: string, eventId: string): Promise<EventGridDelivery>;
  };
  /** Runs a scripted caller through one inbound call; resolves with what happened when the call ends. */
  placeCall(script: CallerScript, options: PlaceCallOptions): Promise<CallRecording>;
  /** Every call by callConnectionId, ended ones included. */
  readonly calls: ReadonlyMap<string, EmulatedCall>;
  /** Every REST request, in arrival order. */
  readonly requests: readonly RestRecord[];
  /** The call answered for an IncomingCall's serverCallId, once the app answered it. */
  callByServerCallId(serverCallId: string): EmulatedCall | undefined;
  /** Waits for the next outbound call the app creates. */
  nextOutboundCall(timeoutMs?: number): Promise<EmulatedCall>;
  /**
   * The person the app dials next picks up and follows `script`; resolves when that call ends.
   * Call it before the app's createCall.
   */
  answerNextOutboundCall(script: CalleeScript, options?: RunOptions & { timeoutMs?: number }): Promise<CallRecording>;
  /** Fault injection for resilience tests. */
  readonly faults: {
    /**
     * The next `count` requests of `operation` (e.g. 'answerCall') are performed, but their
     * responses are lost (the socket is destroyed), so the SDK retries with the same
     * Repeatability-Request-ID.
     */
    loseResponses(operation: string, count?: number): void;
    /**
     * The next `count` requests of `operation` are refused before they take effect, with `status`
     * and ACS error `code` (e.g. 400 'BadRequest', a status the SDK does not retry).
     */
    refuseRequests(operation: string, refusal: { status: number; code: string; count?: number }): void;
    /** The next `count` answers are accepted (200), then the call fails with AnswerFailed and ends. */
    failAnswers(count?: number): void;
    /** The next `count` callbacks of `type` are posted `ms` late, overtaken by the events after them. */
    delayCallbacks(type: string, ms: number, count?: number): void;
    /** The next `count` media WebSocket connections fail to open (MediaStreamingFailed, 8581). */
    failMediaConnections(count?: number): void;
  };
  /** Milliseconds on the emulator's monotonic clock (the clock of every `atMs` in records). */
  nowMs(): number;
  close(): Promise<void>;
}

export async function startAcsEmulator(options: AcsEmulatorOptions = {}): Promise<AcsEmulator> {
  const logger = options.logger ?? consoleLogger('warn', { component: 'acs-emulator' });
  const accessKey = options.accessKey ?? randomBytes(32).toString('base64');
  const host = options.host ?? '127.0.0.1';
  const origin = performance.now();
  const nowMs = (): number => performance.now() - origin;
  const calls = new Map<string, EmulatedCall>();
  const requests: RestRecord[] = [];
  const outboundWaiters: ((call: EmulatedCall) => void)[] = [];
  const responsesToLose = new Map<string, number>();

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://${host}:${port}`;
  const jwt: JwtSettings = {
    issuer: base,
    audience: options.audience ?? randomUUID(),
    jwksUrl: `${base}/calling/keys`,
    openIdConfigUrl: `${base}/calling/.well-known/acsopenidconfiguration`,
  };
  const signer = await TokenSigner.create(jwt);
  const sender = new CallbackSender({ signer, logger, retryDelaysMs: options.callbackRetryDelaysMs, nowMs });
  const resourceId = jwt.audience;
  const eventGrid = new EventGridSender(
    `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/Microsoft.Communication/communicationServices/acs-emulator`,
    logger,
  );
  const mediaConnectFailures = { count: 0 };
  const services: CallServices = {
    sender,
    signer,
    logger,
    nowMs,
    speechMsPerChar: options.speechMsPerChar ?? 20,
    filePlayMs: options.filePlayMs ?? 500,
    sendMediaAuthorizationHeader: options.mediaAuthorizationHeader ?? true,
    duplicateCallbacks: options.duplicateCallbacks ?? false,
    appIdentity: `8:acs:${resourceId}_00000000-0000-0000-0000-00000000a99e`,
    mediaConnectFailures,
  };
  const answerFailures = { count: 0 };
  const refusals = new Map<string, { status: number; code: string; count: number }>();
  const rest = new RestApi({
    calls,
    requests,
    refusals,
    answerFailures,
    eventGrid,
    services,
    nowMs,
    onOutboundCall: (call) => outboundWaiters.shift()?.(call),
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        route(req, res, Buffer.concat(chunks));
      } catch (error) {
        logger.error('ACS emulator: request failed', { error });
        reply(res, 500, { error: { code: 'InternalServerError', message: 'The emulator failed to process the request.' } });
      }
    });
  });

  function route(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = new URL(req.url ?? '/', base).pathname;
    if (req.method === 'GET' && path === '/calling/keys') return reply(res, 200, signer.jwks());
    if (req.method === 'GET' && path === '/calling/.well-known/acsopenidconfiguration') return reply(res, 200, signer.openIdConfiguration());
    if (control?.handle(req, res, body)) return;
    if (!path.startsWith('/calling/')) return reply(res, 404, { error: { code: 'NotFound', message: `No resource at ${path}.` } });
    const verdict = verifyHmac({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, accessKey);
    if (!verdict.ok) {
      requests.push({ atMs: nowMs(), method: req.method ?? 'GET', path, operation: 'unauthorized', body: undefined, status: 401, replayed: false, error: verdict.reason });
      return reply(res, 401, { error: { code: 'Unauthorized', message: verdict.reason } });
    }
    const result = rest.handle(req, body);
    const lose = responsesToLose.get(result.operation) ?? 0;
    if (lose > 0) {
      responsesToLose.set(result.operation, lose - 1);
      res.socket?.destroy();
      return;
    }
    reply(res, result.status, result.body);
  }

  let closed = false;
  let control: ControlApi | undefined;
  const emulator: AcsEmulator = {
    endpoint: `${base}/`,
    connectionString: `endpoint=${base}/;accesskey=${accessKey}`,
    accessKey,
    jwt,
    eventGrid: {
      validate: (url) => eventGrid.validate(url),
      sendIncomingCall: (url, input, sendOptions) => eventGrid.sendIncomingCall(url, input, sendOptions),
      redeliver: (url, eventId) => eventGrid.redeliver(url, eventId),
    },
    placeCall: (script, placeOptions) => placeScriptedCall(emulator, eventGrid, script, placeOptions),
    calls,
    requests,
    callByServerCallId: (serverCallId) => [...calls.values()].find((c) => c.serverCallId === serverCallId),
    nextOutboundCall: (timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          outboundWaiters.splice(outboundWaiters.indexOf(waiter), 1);
          reject(new Error(`No outbound call was created within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (call: EmulatedCall): void => {
          clearTimeout(timer);
          resolve(call);
        };
        outboundWaiters.push(waiter);
      }),
    answerNextOutboundCall: async (script, runOptions = {}) => {
      const call = await emulator.nextOutboundCall(runOptions.timeoutMs);
      return runScript(emulator, call, script, runOptions);
    },
    faults: {
      loseResponses: (operation, count = 1) => {
        responsesToLose.set(operation, (responsesToLose.get(operation) ?? 0) + count);
      },
      delayCallbacks: (type, ms, count = 1) => sender.delayNext(type, ms, count),
      failMediaConnections: (count = 1) => {
        mediaConnectFailures.count += count;
      },
      failAnswers: (count = 1) => {
        answerFailures.count += count;
      },
      refuseRequests: (operation, refusal) => {
        refusals.set(operation, { status: refusal.status, code: refusal.code, count: refusal.count ?? 1 });
      },
    },
    nowMs,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const call of calls.values()) call.shutdown();
      sender.close();
      await sender.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  if (options.controlApi) control = new ControlApi(emulator);
  return emulator;
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': '0' }).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) }).end(text);
}
