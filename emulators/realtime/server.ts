/**
 * Azure OpenAI realtime emulator: a TLS WebSocket server on a free port at the path the `openai`
 * package builds for Azure (`/openai/realtime?api-version=…&deployment=…`; the GA
 * `/openai/v1/realtime?model=…` is accepted too), with `api-key` or `Authorization: Bearer` auth.
 *
 * The caller's words reach the emulator through `utterances` (see utterances.ts): queue them before
 * the scripted caller speaks.
 */

import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { selfSignedCertificate } from './tls.js';
import { EmulatedRealtimeSession, type TailTranscription } from './session.js';
import { defaultResponder, type Responder } from './responder.js';
import { UtteranceScript } from './utterances.js';
import { handleSpeechRequest, type SpeechRequestRecord } from './speech.js';
import { DEFAULT_DEPLOYMENT_ROUTE_API_VERSION } from '../../src/lib/agent/realtime/connect.js';

/** RMS level (0…1) above which the emulator's server VAD hears speech in a 20 ms window. */
export const DEFAULT_VAD_THRESHOLD_RMS = 0.02;

export type RealtimeEmulatorOptions = {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The key clients must send as `api-key` (or as a bearer token). @default random */
  readonly apiKey?: string;
  /** Bearer tokens accepted besides the key (Entra ID in the cloud). @default none */
  readonly acceptBearerToken?: (token: string) => boolean;
  /** @default 'gpt-realtime' */
  readonly deployment?: string;
  /** The text-to-speech deployment (`POST …/audio/speech`). @default 'gpt-4o-mini-tts' */
  readonly ttsDeployment?: string;
  /** @default defaultResponder */
  readonly responder?: Responder;
  /** @default 200 */
  readonly speechMsPerWord?: number;
  /** 1 = real-time pace; lower is faster; 0 sends a whole answer at once. @default 1 */
  readonly paceFactor?: number;
  /** RMS level (0..1) above which caller audio counts as speech. @default 0.02 */
  readonly vadThresholdRms?: number;
  /**
   * How a user turn is transcribed when the session heard only its tail (a relay joined the call
   * mid-utterance). @default 'unintelligible' (as a real model: see {@link TailTranscription})
   */
  readonly tailTranscription?: TailTranscription;
};

export type RealtimeEmulator = {
  /** `https://127.0.0.1:<port>`: pass as the Azure OpenAI endpoint. */
  readonly endpoint: string;
  readonly port: number;
  readonly apiKey: string;
  readonly deployment: string;
  readonly ttsDeployment: string;
  /** Text-to-speech syntheses served, in order. */
  readonly speechRequests: ReadonlyArray<SpeechRequestRecord>;
  /** The API version clients should use (any is accepted). */
  readonly apiVersion: string;
  /** PEM of the self-signed certificate: pass as `ca` to the WebSocket client. */
  readonly ca: string;
  /** Live and finished sessions by id. */
  readonly sessions: ReadonlyMap<string, EmulatedRealtimeSession>;
  /** The side channel for what callers say. */
  readonly utterances: UtteranceScript;
  /** Upgrade attempts refused, by HTTP status (for auth tests). */
  readonly refusals: ReadonlyArray<{ readonly status: number; readonly path: string }>;
  close(): Promise<void>;
};

const REALTIME_PATH = '/openai/realtime';
const GA_REALTIME_PATH = '/openai/v1/realtime';

export async function startRealtimeEmulator(options: RealtimeEmulatorOptions = {}): Promise<RealtimeEmulator> {
  const apiKey = options.apiKey ?? randomBytes(16).toString('hex');
  const deployment = options.deployment ?? 'gpt-realtime';
  const sessions = new Map<string, EmulatedRealtimeSession>();
  const utterances = new UtteranceScript();
  const refusals: Array<{ status: number; path: string }> = [];
  const tls = await selfSignedCertificate();

  const ttsDeployment = options.ttsDeployment ?? 'gpt-4o-mini-tts';
  const speechRequests: SpeechRequestRecord[] = [];
  const speech = { deployment: ttsDeployment, speechMsPerWord: options.speechMsPerWord ?? 200, requests: speechRequests, authorized: (req: IncomingMessage) => authorized(req, apiKey, options.acceptBearerToken) };
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handleSpeechRequest(req, res, speech)
      .then((handled) => {
        if (handled) return;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'NotFound', message: 'The realtime emulator serves WebSocket upgrades and audio/speech only' } }));
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'BadRequest', message: 'The request could not be read.' } }));
      });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://emulator');
    const refuse = (status: number, code: string, message: string): void => {
      refusals.push({ status, path: url.pathname });
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    let requested: string | null;
    if (url.pathname === REALTIME_PATH) {
      if (!url.searchParams.get('api-version')) return refuse(400, 'MissingApiVersionParameter', 'The api-version query parameter is required.');
      requested = url.searchParams.get('deployment');
    } else if (url.pathname === GA_REALTIME_PATH) {
      requested = url.searchParams.get('model');
    } else {
      return refuse(404, 'NotFound', `No realtime endpoint at ${url.pathname}`);
    }
    if (!authorized(req, apiKey, options.acceptBearerToken)) {
      return refuse(401, 'PermissionDenied', 'Access denied due to invalid subscription key or wrong API endpoint.');
    }
    if (requested !== deployment) return refuse(404, 'DeploymentNotFound', `The API deployment ${requested ?? ''} does not exist.`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const correlation = req.headers['x-ms-client-request-id'];
      const session = new EmulatedRealtimeSession(ws, {
        responder: options.responder ?? defaultResponder,
        utterances,
        correlationId: typeof correlation === 'string' ? correlation : undefined,
        speechMsPerWord: options.speechMsPerWord ?? 200,
        paceFactor: options.paceFactor ?? 1,
        vadThresholdRms: options.vadThresholdRms ?? DEFAULT_VAD_THRESHOLD_RMS,
        tailTranscription: options.tailTranscription ?? 'unintelligible',
      });
      sessions.set(session.id, session);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    endpoint: `https://127.0.0.1:${port}`,
    port,
    apiKey,
    deployment,
    ttsDeployment,
    speechRequests,
    apiVersion: DEFAULT_DEPLOYMENT_ROUTE_API_VERSION,
    ca: tls.cert,
    sessions,
    utterances,
    refusals,
    async close() {
      for (const session of sessions.values()) session.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(req: IncomingMessage, apiKey: string, acceptBearer: ((token: string) => boolean) | undefined): boolean {
  const key = req.headers['api-key'];
  if (typeof key === 'string') return key === apiKey;
  const authorization = req.headers.authorization;
  if (authorization?.startsWith('Bearer ')) {
    const token = authorization.slice(7);
    return token === apiKey || (acceptBearer?.(token) ?? false);
  }
  return false;
}
