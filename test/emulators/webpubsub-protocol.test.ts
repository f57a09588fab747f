/**
 * Subprotocol details of the Web PubSub emulator, exercised through the real
 * @azure/web-pubsub-client: duplicate acks, keep-alive pings, sequence acks, server-side close,
 * the non-reliable JSON subprotocol, and raw clients receiving server messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient, WebPubSubJsonProtocol, type OnDisconnectedArgs, type OnGroupDataMessageArgs } from '@azure/web-pubsub-client';
import { WebSocket } from 'ws';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { eventually, RawClient } from './webpubsub-support.js';

const HUB = 'proto';
const ROLES = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'];
let emulator: WebPubSubEmulator;
let service: WebPubSubServiceClient;
const clients: WebPubSubClient[] = [];

beforeAll(async () => {
  emulator = await startWebPubSubEmulator();
  service = new WebPubSubServiceClient(emulator.connectionString, HUB, { allowInsecureConnection: true });
});

afterAll(async () => {
  for (const c of clients) c.stop();
  await emulator.close();
});

async function started(client: WebPubSubClient): Promise<{ client: WebPubSubClient; connectionIds: string[] }> {
  const connectionIds: string[] = [];
  client.on('connected', (e) => connectionIds.push(e.connectionId));
  await client.start();
  clients.push(client);
  await eventually('connected', () => (connectionIds.length > 0 ? true : undefined));
  return { client, connectionIds };
}

describe('Web PubSub emulator subprotocol', () => {
  it('answers a repeated ackId with a Duplicate ack, which the client reports as isDuplicated', async () => {
    // Prepare
    const { client } = await started(new WebPubSubClient((await service.getClientAccessToken({ roles: ROLES })).url));

    // Act
    const first = await client.joinGroup('dup', { ackId: 7001 });
    const second = await client.joinGroup('dup', { ackId: 7001 });

    // Assess
    expect(first.isDuplicated).toBe(false);
    expect(second.isDuplicated).toBe(true);
  });

  it('answers pings, so a client with a short keep-alive timeout stays connected', async () => {
    // Prepare: with no pong the client would close itself after 300 ms of silence.
    const { client, connectionIds } = await started(new WebPubSubClient((await service.getClientAccessToken()).url, { keepAliveIntervalInMs: 50, keepAliveTimeoutInMs: 300 }));
    let disconnects = 0;
    client.on('disconnected', () => disconnects++);

    // Act
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    // Assess
    expect(disconnects).toBe(0);
    expect(emulator.connections(HUB).find((c) => c.connectionId === connectionIds[0])?.status).toBe('open');
  });

  it('forgets delivered messages once the reliable client acknowledges their sequence ids', async () => {
    // Prepare
    const { client, connectionIds } = await started(new WebPubSubClient((await service.getClientAccessToken({ roles: ROLES })).url));
    await client.joinGroup('seq');
    const received: OnGroupDataMessageArgs['message'][] = [];
    client.on('group-message', (e) => received.push(e.message));

    // Act
    for (let i = 0; i < 20; i++) await service.group('seq').sendToAll({ i });
    await eventually('twenty messages', () => (received.length === 20 ? true : undefined));

    // Assess: sequence ids are 1..20 and the client's periodic sequenceAck empties the replay buffer.
    expect(received.map((m) => m.sequenceId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await eventually('the buffer to empty', () => (emulator.connections(HUB).find((c) => c.connectionId === connectionIds[0])?.unackedMessages === 0 ? true : undefined), 5_000);
  });

  it('closes a connection from REST with a disconnected message; the client then starts a new connection', async () => {
    // Prepare
    const { client, connectionIds } = await started(new WebPubSubClient((await service.getClientAccessToken()).url));
    const disconnected: OnDisconnectedArgs[] = [];
    client.on('disconnected', (e) => disconnected.push(e));

    // Act
    await service.closeConnection(connectionIds[0]!, { reason: 'call ended' });
    await eventually('a new connection', () => (connectionIds.length === 2 ? true : undefined), 10_000);

    // Assess
    expect(disconnected[0]?.message?.message).toBe('call ended');
    expect(connectionIds[1]).not.toBe(connectionIds[0]);
    await expect(service.connectionExists(connectionIds[0]!)).resolves.toBe(false);
    await expect(service.connectionExists(connectionIds[1]!)).resolves.toBe(true);
  });

  it('speaks the non-reliable json.webpubsub.azure.v1 subprotocol: no sequence ids, no reconnection token', async () => {
    // Prepare
    const { client, connectionIds } = await started(new WebPubSubClient((await service.getClientAccessToken({ roles: ROLES })).url, { protocol: WebPubSubJsonProtocol() }));
    const received: OnGroupDataMessageArgs['message'][] = [];
    client.on('group-message', (e) => received.push(e.message));
    await client.joinGroup('plain');

    // Act
    await client.sendToGroup('plain', 'hello', 'text');

    // Assess
    await eventually('the echo', () => (received.length === 1 ? true : undefined));
    expect(received[0]).toMatchObject({ group: 'plain', data: 'hello' });
    expect(received[0]?.sequenceId).toBeUndefined();
    expect(emulator.connections(HUB).find((c) => c.connectionId === connectionIds[0])?.subprotocol).toBe('json.webpubsub.azure.v1');
  });

  it('gives raw clients server and group messages as raw frames of the matching type', async () => {
    // Prepare
    const { token, baseUrl, url } = await service.getClientAccessToken({ userId: 'raw-user', groups: ['raw.g'] });
    const raw = await RawClient.connect(url);
    const viaBearer = await new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(baseUrl, { headers: { Authorization: `Bearer ${token}` } });
      socket.once('open', () => resolve(socket)).once('error', reject);
    });

    // Act
    await service.sendToUser('raw-user', { kind: 'json' });
    await service.group('raw.g').sendToAll(new Uint8Array([0xff, 0x00]).buffer);

    // Assess
    await eventually('two frames', () => (raw.frames.length === 2 ? true : undefined));
    expect(raw.frames[0]).toMatchObject({ isBinary: false });
    expect(JSON.parse(raw.frames[0]!.data.toString())).toEqual({ kind: 'json' });
    expect(raw.frames[1]).toMatchObject({ isBinary: true });
    expect([...raw.frames[1]!.data]).toEqual([0xff, 0x00]);
    expect(viaBearer.readyState).toBe(WebSocket.OPEN);
    raw.close();
    viaBearer.close();
  });
});
