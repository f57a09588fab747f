/**
 * Upstream CloudEvents from the Web PubSub emulator to a real local HTTP event handler: the
 * abuse-protection preflight, the blocking connect event, connected/disconnected, user events
 * with acks that wait for the handler, and signatures that verify with the AccessKey.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { SendMessageError, WebPubSubClient, type OnServerDataMessageArgs } from '@azure/web-pubsub-client';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { eventually, RawClient, UpgradeRefused } from './webpubsub-support.js';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real event handler: records every request; answers per event name. */
class EventHandlerServer {
  readonly received: Received[] = [];
  /** Ordered marks shared with the test, to check what happened before what. */
  readonly timeline: string[] = [];
  allowOrigin: string | undefined = '*';
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        if (req.method === 'OPTIONS') {
          res.writeHead(200, this.allowOrigin ? { 'WebHook-Allowed-Origin': this.allowOrigin } : {}).end();
          return;
        }
        this.answer(req.headers, body, (status, headers, responseBody) => res.writeHead(status, headers).end(responseBody));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private answer(headers: IncomingHttpHeaders, body: string, send: (status: number, headers: Record<string, string>, body?: string) => void): void {
    switch (headers['ce-type']) {
      case 'azure.webpubsub.sys.connect': {
        const claims = (JSON.parse(body) as { claims: Record<string, string[]> }).claims;
        if (claims.sub?.[0] === 'blocked') return send(401, {});
        return send(200, { 'content-type': 'application/json', 'ce-connectionState': 'state-1' }, JSON.stringify({ userId: `handler-${claims.sub?.[0] ?? 'anon'}`, groups: ['lobby'] }));
      }
      case 'azure.webpubsub.user.slow':
        // Answers after a pause so the test can see that the ack waited for it.
        setTimeout(() => {
          this.timeline.push('answered slow');
          send(200, { 'content-type': 'text/plain' }, 'done');
        }, 150);
        return;
      case 'azure.webpubsub.user.message':
        return send(200, { 'content-type': 'text/plain' }, `echo:${body}`);
      case 'azure.webpubsub.user.broken':
        return send(500, {});
      default:
        return send(204, {});
    }
  }

  events(type: string): Received[] {
    return this.received.filter((r) => r.headers['ce-type'] === type);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const HUB = 'notify';
const warnings: string[] = [];
const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
let emulator: WebPubSubEmulator;
let handler: EventHandlerServer;
let service: WebPubSubServiceClient;
const clients: WebPubSubClient[] = [];

beforeAll(async () => {
  handler = new EventHandlerServer();
  await handler.start();
  emulator = await startWebPubSubEmulator({
    logger,
    hubs: { [HUB]: { eventHandlers: [{ urlTemplate: `${handler.url}/runtime/webhooks/webpubsub?hub={hub}&event={event}`, userEventPattern: '*', systemEvents: ['connect', 'connected', 'disconnected'] }] } },
  });
  service = new WebPubSubServiceClient(emulator.connectionString, HUB, { allowInsecureConnection: true });
});

afterAll(async () => {
  for (const c of clients) c.stop();
  await emulator.close();
  await handler.close();
});

async function connect(userId: string) {
  const client = new WebPubSubClient((await service.getClientAccessToken({ userId })).url, { messageRetryOptions: { maxRetries: 0 } });
  const serverMessages: OnServerDataMessageArgs['message'][] = [];
  let connected: { connectionId: string; userId: string } | undefined;
  client.on('connected', (e) => (connected = e));
  client.on('server-message', (e) => serverMessages.push(e.message));
  await client.start();
  clients.push(client);
  return { client, serverMessages, connected: await eventually('connected', () => connected) };
}

function expectedSignature(connectionId: string): string {
  return `sha256=${createHmac('sha256', emulator.accessKey).update(connectionId).digest('hex')}`;
}

describe('Web PubSub emulator upstream events', () => {
  it('validates the handler with the abuse-protection preflight, then runs the blocking connect event', async () => {
    // Act
    const { connected } = await connect('ana');

    // Assess
    const preflight = handler.received.find((r) => r.method === 'OPTIONS');
    const connectEvent = handler.events('azure.webpubsub.sys.connect')[0];
    expect(preflight?.headers['webhook-request-origin']).toBe('127.0.0.1');
    expect(connectEvent).toBeDefined();
    expect(handler.received.indexOf(preflight!)).toBeLessThan(handler.received.indexOf(connectEvent!));
    expect(connectEvent?.path).toBe(`/runtime/webhooks/webpubsub?hub=${HUB}&event=connect`);
    expect(connected.userId).toBe('handler-ana');
    expect(emulator.connections(HUB).find((c) => c.connectionId === connected.connectionId)?.groups).toEqual(['lobby']);
  });

  it('sends connected with the full CloudEvents headers and a signature that verifies with the AccessKey', async () => {
    // Act
    const { connected } = await connect('ben');
    const event = await eventually('the connected event', () => handler.events('azure.webpubsub.sys.connected').find((r) => r.headers['ce-connectionid'] === connected.connectionId));

    // Assess
    expect(event.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-source': `/hubs/${HUB}/client/${connected.connectionId}`,
      'ce-hub': HUB,
      'ce-userid': 'handler-ben',
      'ce-eventname': 'connected',
      'ce-subprotocol': 'json.reliable.webpubsub.azure.v1',
      'ce-awpsversion': '1.0',
      'ce-connectionstate': 'state-1',
      'ce-signature': expectedSignature(connected.connectionId),
    });
    expect(event.headers['ce-id']).toBeTruthy();
    expect(Number.isNaN(Date.parse(String(event.headers['ce-time'])))).toBe(false);
    expect(JSON.parse(event.body)).toEqual({});
  });

  it('sends the host the client connected to as WebHook-Request-Origin, in the preflight and the events', async () => {
    // Prepare: the app's connection string names "localhost" rather than 127.0.0.1.
    const viaLocalhost = new WebPubSubServiceClient(`Endpoint=http://localhost;Port=${emulator.port};AccessKey=${emulator.accessKey};Version=1.0;`, HUB, { allowInsecureConnection: true });
    const raw = await RawClient.connect((await viaLocalhost.getClientAccessToken({ userId: 'lo' })).url);

    // Act
    const preflight = await eventually('a localhost preflight', () => handler.received.find((r) => r.method === 'OPTIONS' && r.headers['webhook-request-origin'] === 'localhost'));
    const connectedEvent = await eventually('the connected event', () => handler.events('azure.webpubsub.sys.connected').find((r) => r.headers['ce-userid'] === 'handler-lo'));

    // Assess
    expect(preflight).toBeDefined();
    expect(connectedEvent.headers['webhook-request-origin']).toBe('localhost');
    raw.close();
  });

  it('acks a user event only after the handler answered, and delivers the answer to the client', async () => {
    // Prepare
    const { client, serverMessages, connected } = await connect('cy');

    // Act
    await client.sendEvent('slow', { question: 42 }, 'json');
    handler.timeline.push('acked slow');

    // Assess
    const event = handler.events('azure.webpubsub.user.slow').find((r) => r.headers['ce-connectionid'] === connected.connectionId);
    expect(event?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(event!.body)).toEqual({ question: 42 });
    expect(handler.timeline.filter((t) => t.endsWith('slow'))).toEqual(['answered slow', 'acked slow']);
    await eventually('the handler answer', () => (serverMessages.length === 1 ? true : undefined));
    expect(serverMessages[0]).toMatchObject({ dataType: 'text', data: 'done' });
  });

  it('answers invokeEvent with the handler response as an invokeResponse', async () => {
    // Prepare
    const { client } = await connect('ivy');

    // Act
    const result = await client.invokeEvent('slow', 'question', 'text');

    // Assess
    expect(result).toMatchObject({ dataType: 'text', data: 'done' });
  });

  it('turns a failing handler into an error ack, logs it, and keeps serving', async () => {
    // Prepare
    const { client } = await connect('dee');

    // Act
    const outcome = await client.sendEvent('broken', 'x', 'text').catch((e: unknown) => e);

    // Assess
    expect(outcome).toBeInstanceOf(SendMessageError);
    expect((outcome as SendMessageError).errorDetail?.name).toBe('InternalServerError');
    expect(warnings.some((w) => w.includes('upstream event delivery failed'))).toBe(true);
    await expect(service.connectionExists((await connect('eve')).connected.connectionId)).resolves.toBe(true);
  });

  it('sends raw client frames as user.message events and returns the answer as a raw frame', async () => {
    // Prepare
    const raw = await RawClient.connect((await service.getClientAccessToken({ userId: 'raw' })).url);

    // Act
    await raw.send('hello upstream', false);

    // Assess
    await eventually('the echo', () => (raw.frames.length === 1 ? true : undefined));
    expect(raw.frames[0]?.data.toString()).toBe('echo:hello upstream');
    const event = handler.events('azure.webpubsub.user.message').at(-1);
    expect(event?.headers['content-type']).toMatch(/^text\/plain/);
    expect(event?.headers['ce-subprotocol']).toBeUndefined();
    raw.close();
  });

  it('refuses the upgrade when the connect handler answers 401', async () => {
    // Act
    const outcome = await RawClient.connect((await service.getClientAccessToken({ userId: 'blocked' })).url).catch((e: unknown) => e);

    // Assess
    expect(outcome).toBeInstanceOf(UpgradeRefused);
    expect((outcome as UpgradeRefused).status).toBe(401);
  });

  it('sends disconnected with the reason when a client leaves', async () => {
    // Prepare
    const { client, connected } = await connect('fay');

    // Act
    client.stop();
    const event = await eventually('the disconnected event', () => handler.events('azure.webpubsub.sys.disconnected').find((r) => r.headers['ce-connectionid'] === connected.connectionId));

    // Assess
    expect(typeof (JSON.parse(event.body) as { reason: unknown }).reason).toBe('string');
    expect(event.headers['ce-signature']).toBe(expectedSignature(connected.connectionId));
  });
});

describe('Web PubSub emulator abuse protection', () => {
  it('delivers nothing to a handler that does not allow the origin', async () => {
    // Prepare
    const strict = new EventHandlerServer();
    strict.allowOrigin = undefined;
    await strict.start();
    emulator.setEventHandlers('strict', [{ urlTemplate: `${strict.url}/events`, systemEvents: ['connected'] }]);
    const strictService = new WebPubSubServiceClient(emulator.connectionString, 'strict', { allowInsecureConnection: true });

    // Act
    const raw = await RawClient.connect((await strictService.getClientAccessToken()).url);
    await eventually('the preflight', () => strict.received.find((r) => r.method === 'OPTIONS'));
    await eventually('the refusal to be logged', () => (warnings.some((w) => w.includes('abuse-protection')) ? true : undefined));

    // Assess
    expect(strict.received.filter((r) => r.method === 'POST')).toEqual([]);
    raw.close();
    await strict.close();
  });
});
