import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  parseCallAutomationEvent,
  type AnswerCallOptions,
  type CallAutomationClient,
  type CallAutomationEvent,
} from '@azure/communication-call-automation';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A tiny app for the emulator tests: an Event Grid webhook that answers IncomingCall with the real
 * CallAutomationClient, and a callback endpoint that verifies each request's ACS JWT against the
 * emulator's JWKS and hands every event (parsed by the SDK) to the test.
 */

export interface ReceivedCallback {
  readonly atMs: number;
  /** Path and query the callback was POSTed to. */
  readonly url: string;
  readonly raw: Record<string, any>;
  readonly event: CallAutomationEvent;
  readonly claims?: JWTPayload;
  readonly verifyError?: string;
}

export interface TestAppOptions {
  readonly client: CallAutomationClient;
  readonly jwt: { issuer: string; audience: string; jwksUrl: string };
  readonly answerOptions?: () => AnswerCallOptions;
  readonly onEvent?: (event: CallAutomationEvent, app: TestApp) => Promise<void> | void;
  /** Status the callback endpoint answers with (default 200); lets tests force retries. */
  readonly callbackStatus?: () => number;
}

export interface TestApp {
  readonly eventGridUrl: string;
  readonly callbackUrl: string;
  readonly callbacks: ReceivedCallback[];
  readonly incoming: { headers: IncomingHttpHeaders; body: any[] }[];
  readonly errors: unknown[];
  readonly client: CallAutomationClient;
  waitForEvent(kind: string, predicate?: (e: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const jwks = createRemoteJWKSet(new URL(options.jwt.jwksUrl));
  const callbacks: ReceivedCallback[] = [];
  const incoming: { headers: IncomingHttpHeaders; body: any[] }[] = [];
  const errors: unknown[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as any[];
        const path = new URL(req.url ?? '/', 'http://app.invalid').pathname;
        if (path === '/api/incomingCall') {
          incoming.push({ headers: req.headers, body });
          const first = body[0];
          if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse: first.data.validationCode }));
            return;
          }
          for (const event of body) {
            if (event.eventType !== 'Microsoft.Communication.IncomingCall') continue;
            try {
              await options.client.answerCall(event.data.incomingCallContext, app.callbackUrl, options.answerOptions?.() ?? {});
            } catch (error) {
              errors.push(error);
            }
          }
          res.writeHead(200).end();
          return;
        }
        if (path === '/api/callbacks') {
          const status = options.callbackStatus?.() ?? 200;
          let claims: JWTPayload | undefined;
          let verifyError: string | undefined;
          try {
            const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
            claims = (await jwtVerify(token, jwks, { issuer: options.jwt.issuer, audience: options.jwt.audience })).payload;
          } catch (error) {
            verifyError = error instanceof Error ? error.message : String(error);
          }
          res.writeHead(status).end();
          if (status !== 200) return;
          for (const raw of body) {
            const event = parseCallAutomationEvent(raw);
            callbacks.push({ atMs: performance.now(), url: req.url ?? '', raw, event, claims, verifyError });
            try {
              await options.onEvent?.(event, app);
            } catch (error) {
              errors.push(error);
            }
          }
          return;
        }
        res.writeHead(404).end();
      })().catch((error) => {
        errors.push(error);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const app: TestApp = {
    eventGridUrl: `${base}/api/incomingCall`,
    callbackUrl: `${base}/api/callbacks`,
    callbacks,
    incoming,
    errors,
    client: options.client,
    waitForEvent: async (kind, predicate = () => true, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = callbacks.find((c) => c.event.kind === kind && predicate(c.event));
        if (found) return found.event;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`No ${kind} callback within ${timeoutMs} ms (got: ${callbacks.map((c) => c.event.kind).join(', ')})`);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return app;
}

export interface MediaConnection {
  readonly socket: WebSocket;
  readonly headers: IncomingHttpHeaders;
  readonly url: string;
  /** Every text frame from ACS with its arrival time (performance.now()). */
  readonly frames: { atMs: number; message: any }[];
}

/** A WebSocket server standing in for the app's media endpoint (the transportUrl). */
export async function startMediaServer(): Promise<{ url: string; connections: MediaConnection[]; connection(index?: number, timeoutMs?: number): Promise<MediaConnection>; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const connections: MediaConnection[] = [];
  wss.on('connection', (socket, req) => {
    const connection: MediaConnection = { socket, headers: req.headers, url: req.url ?? '', frames: [] };
    socket.on('message', (data) => connection.frames.push({ atMs: performance.now(), message: JSON.parse(data.toString()) }));
    connections.push(connection);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/media`,
    connections,
    connection: async (index = 0, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (connections.length <= index) {
        if (Date.now() > deadline) throw new Error(`No media connection #${index}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return connections[index] as MediaConnection;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
