/**
 * The Web PubSub emulator driven by the real SDKs: @azure/web-pubsub (REST data plane, client
 * tokens) and @azure/web-pubsub-client (reliable JSON subprotocol), plus `ws` for the raw
 * sendToGroup-mode client that ACS media streaming is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebPubSubClient, SendMessageError, type OnGroupDataMessageArgs, type OnServerDataMessageArgs } from '@azure/web-pubsub-client';
import { RestError } from '@azure/core-rest-pipeline';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { eventually, RawClient, UpgradeRefused } from './webpubsub-support.js';

const HUB = 'media';
let emulator: WebPubSubEmulator;
let service: WebPubSubServiceClient;
const started: WebPubSubClient[] = [];

beforeAll(async () => {
  emulator = await startWebPubSubEmulator({ hubs: { [HUB]: {} } });
  service = new WebPubSubServiceClient(emulator.connectionString, HUB, { allowInsecureConnection: true });
});

afterAll(async () => {
  for (const client of started) client.stop();
  await emulator.close();
});

/** A started WebPubSubClient whose group and server messages are collected. */
async function startClient(options: { userId?: string; roles?: string[]; groups?: string[] } = {}) {
  const { url } = await service.getClientAccessToken(options);
  const client = new WebPubSubClient(url, { messageRetryOptions: { maxRetries: 0 } });
  const groupMessages: OnGroupDataMessageArgs['message'][] = [];
  const serverMessages: OnServerDataMessageArgs['message'][] = [];
  let connectionId: string | undefined;
  client.on('connected', (e) => (connectionId = e.connectionId));
  client.on('group-message', (e) => groupMessages.push(e.message));
  client.on('server-message', (e) => serverMessages.push(e.message));
  await client.start();
  started.push(client);
  const id = await eventually('the connected message', () => connectionId);
  return { client, connectionId: id, groupMessages, serverMessages };
}

describe('Web PubSub emulator with the real SDKs', () => {
  it('accepts a getClientAccessToken URL and reports the connection over REST', async () => {
    // Prepare / Act
    const { connectionId } = await startClient({ userId: 'relay-1' });

    // Assess
    await expect(service.connectionExists(connectionId)).resolves.toBe(true);
    await expect(service.userExists('relay-1')).resolves.toBe(true);
    await expect(service.connectionExists('no-such-connection')).resolves.toBe(false);
    expect(emulator.connections(HUB).find((c) => c.connectionId === connectionId)).toMatchObject({ userId: 'relay-1', subprotocol: 'json.reliable.webpubsub.azure.v1', status: 'open' });
  });

  it('manages groups and delivers REST sends with their data type preserved', async () => {
    // Prepare
    const receiver = await startClient({ userId: 'listener' });
    const group = service.group('call.rest.in');

    // Act
    await group.addConnection(receiver.connectionId);
    const existsAfterAdd = await service.groupExists('call.rest.in');
    await group.sendToAll({ kind: 'AudioData', seq: 1 });
    await group.sendToAll('plain text', { contentType: 'text/plain' });
    await group.sendToAll(new Uint8Array([1, 2, 3]).buffer);
    await service.sendToConnection(receiver.connectionId, { hello: 'connection' });
    await service.sendToUser('listener', 'to the user', { contentType: 'text/plain' });
    await group.removeConnection(receiver.connectionId);
    const existsAfterRemove = await service.groupExists('call.rest.in');

    // Assess
    expect(existsAfterAdd).toBe(true);
    expect(existsAfterRemove).toBe(false);
    await eventually('three group messages', () => (receiver.groupMessages.length === 3 ? true : undefined));
    expect(receiver.groupMessages.map((m) => [m.group, m.dataType])).toEqual([
      ['call.rest.in', 'json'],
      ['call.rest.in', 'text'],
      ['call.rest.in', 'binary'],
    ]);
    expect(receiver.groupMessages[0]?.data).toEqual({ kind: 'AudioData', seq: 1 });
    expect(receiver.groupMessages[1]?.data).toBe('plain text');
    expect([...new Uint8Array(receiver.groupMessages[2]?.data as ArrayBuffer)]).toEqual([1, 2, 3]);
    await eventually('two server messages', () => (receiver.serverMessages.length === 2 ? true : undefined));
    expect(receiver.serverMessages.map((m) => m.data)).toEqual([{ hello: 'connection' }, 'to the user']);
  });

  it('answers the other REST operations with the exact status codes the SDK expects', async () => {
    // Prepare
    const member = await startClient({ userId: 'ops-user' });
    await service.group('call.ops').addConnection(member.connectionId);

    // Act / Assess
    await expect(service.group('call.ops').addConnection('no-such-connection')).rejects.toMatchObject({ statusCode: 404 });
    // The service answers these for unknown connections too (204 / 202); any other status would throw.
    await service.group('call.ops').removeConnection('no-such-connection');
    await service.sendToConnection('no-such-connection', 'dropped', { contentType: 'text/plain' });
    await service.removeConnectionFromAllGroups(member.connectionId);
    await expect(service.groupExists('call.ops')).resolves.toBe(false);
    await service.group('call.ops').addUser('ops-user');
    await expect(service.groupExists('call.ops')).resolves.toBe(true);
    await service.removeUserFromAllGroups('ops-user');
    await expect(service.groupExists('call.ops')).resolves.toBe(false);
    await service.closeConnection(member.connectionId, { reason: 'test over' });
    await expect(service.connectionExists(member.connectionId)).resolves.toBe(false);
  });

  it('lets clients with roles join, send with noEcho and receive; refuses a client without the role', async () => {
    // Prepare
    const roles = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'];
    const alice = await startClient({ userId: 'alice', roles });
    const bob = await startClient({ userId: 'bob', roles });
    const mallory = await startClient({ userId: 'mallory' });
    await alice.client.joinGroup('chat');
    await bob.client.joinGroup('chat');

    // Act
    await alice.client.sendToGroup('chat', 'hi bob', 'text', { noEcho: true });
    await alice.client.sendToGroup('chat', { n: 2 }, 'json');
    const refused = await mallory.client.joinGroup('chat').catch((e: unknown) => e);

    // Assess
    await eventually('bob receives both', () => (bob.groupMessages.length === 2 ? true : undefined));
    expect(bob.groupMessages.map((m) => [m.fromUserId, m.data])).toEqual([
      ['alice', 'hi bob'],
      ['alice', { n: 2 }],
    ]);
    await eventually('alice receives only the echoed one', () => (alice.groupMessages.length === 1 ? true : undefined));
    expect(alice.groupMessages[0]?.data).toEqual({ n: 2 });
    expect(refused).toBeInstanceOf(SendMessageError);
    expect((refused as SendMessageError).errorDetail?.name).toBe('Forbidden');
  });

  it('keeps a reliable client connected through a dropped socket, with its groups and no lost or repeated message', async () => {
    // Prepare
    const roles = ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'];
    const sender = await startClient({ userId: 'sender', roles });
    const receiver = await startClient({ userId: 'receiver', roles });
    await receiver.client.joinGroup('call.drop.in');
    let disconnected = false;
    receiver.client.on('disconnected', () => (disconnected = true));

    // Act
    for (let i = 0; i < 5; i++) await sender.client.sendToGroup('call.drop.in', { i }, 'json', { fireAndForget: true });
    await eventually('the first five', () => (receiver.groupMessages.length === 5 ? true : undefined));
    expect(emulator.dropConnection(receiver.connectionId)).toBe(true);
    for (let i = 5; i < 10; i++) await sender.client.sendToGroup('call.drop.in', { i }, 'json', { fireAndForget: true });
    await eventually('all ten after recovery', () => (receiver.groupMessages.length >= 10 ? true : undefined), 10_000);
    await sender.client.sendToGroup('call.drop.in', { i: 10 }, 'json');

    // Assess
    await eventually('the eleventh', () => (receiver.groupMessages.length >= 11 ? true : undefined));
    expect(receiver.groupMessages.map((m) => (m.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(disconnected).toBe(false);
    expect(emulator.connections(HUB).find((c) => c.connectionId === receiver.connectionId)).toMatchObject({ status: 'open', groups: ['call.drop.in'] });
  });

  it('publishes a raw sendToGroup-mode client frames to the group, frame type preserved', async () => {
    // Prepare: ACS sends to call.x.in and listens on call.x.out; the relay listens on call.x.in.
    const relay = await startClient({ userId: 'relay', roles: ['webpubsub.joinLeaveGroup', 'webpubsub.sendToGroup'] });
    await relay.client.joinGroup('call.x.in');
    const rawListener = await RawClient.connect((await service.getClientAccessToken({ groups: ['call.x.in'] })).url);
    const { url } = await service.getClientAccessToken({ roles: ['webpubsub.sendToGroup.call.x.in'], groups: ['call.x.out'] });
    const acs = await RawClient.connect(`${url}&webpubsub_mode=sendToGroup&group=call.x.in`);

    // Act
    const audio = JSON.stringify({ kind: 'AudioData', audioData: { data: Buffer.alloc(960, 7).toString('base64') } });
    await acs.send(audio, false);
    await acs.send(Buffer.from([9, 8, 7]), true);
    await relay.client.sendToGroup('call.x.out', 'agent audio', 'text');

    // Assess
    await eventually('two frames at the relay', () => (relay.groupMessages.length === 2 ? true : undefined));
    expect(relay.groupMessages[0]).toMatchObject({ group: 'call.x.in', dataType: 'text', data: audio });
    expect(relay.groupMessages[1]?.dataType).toBe('binary');
    expect([...new Uint8Array(relay.groupMessages[1]?.data as ArrayBuffer)]).toEqual([9, 8, 7]);
    await eventually('two raw frames at the raw listener', () => (rawListener.frames.length === 2 ? true : undefined));
    expect(rawListener.frames.map((f) => [f.isBinary, f.data.toString('latin1')])).toEqual([
      [false, audio],
      [true, '\u0009\u0008\u0007'],
    ]);
    await eventually('agent audio at ACS', () => (acs.frames.length === 1 ? true : undefined));
    expect(acs.frames[0]).toMatchObject({ isBinary: false });
    expect(acs.frames[0]?.data.toString()).toBe('agent audio');
    acs.close();
    rawListener.close();
  });
});

describe('Web PubSub emulator refusals', () => {
  it('refuses a token signed with another key, on the client endpoint and on REST', async () => {
    // Prepare
    const impostor = new WebPubSubServiceClient(`Endpoint=${emulator.endpoint};AccessKey=not-the-key;Version=1.0;`, HUB, { allowInsecureConnection: true });
    const { url } = await impostor.getClientAccessToken({ roles: ['webpubsub.sendToGroup'] });

    // Act
    const raw = await RawClient.connect(url).catch((e: unknown) => e);
    const sdk = await new WebPubSubClient(url, { autoReconnect: false }).start().catch((e: unknown) => e);
    const rest = await impostor.sendToAll('x', { contentType: 'text/plain' }).catch((e: unknown) => e);

    // Assess
    expect(raw).toBeInstanceOf(UpgradeRefused);
    expect((raw as UpgradeRefused).status).toBe(401);
    expect(sdk).toBeInstanceOf(Error);
    expect(rest).toBeInstanceOf(RestError);
    expect((rest as RestError).statusCode).toBe(401);
  });

  it('refuses an expired token', async () => {
    // Prepare
    const { url } = await service.getClientAccessToken({ expirationTimeInMinutes: -1 });

    // Act
    const outcome = await RawClient.connect(url).catch((e: unknown) => e);

    // Assess
    expect(outcome).toBeInstanceOf(UpgradeRefused);
    expect((outcome as UpgradeRefused).status).toBe(401);
  });

  it('refuses a sendToGroup-mode client without the sendToGroup role for that group', async () => {
    // Prepare
    const { url } = await service.getClientAccessToken({ roles: ['webpubsub.sendToGroup.call.other.in'] });

    // Act
    const outcome = await RawClient.connect(`${url}&webpubsub_mode=sendToGroup&group=call.mine.in`).catch((e: unknown) => e);

    // Assess
    expect(outcome).toBeInstanceOf(UpgradeRefused);
    expect((outcome as UpgradeRefused).status).toBe(403);
  });

  it('refuses a token minted for another hub', async () => {
    // Prepare
    const other = new WebPubSubServiceClient(emulator.connectionString, 'otherhub', { allowInsecureConnection: true });
    const { token } = await other.getClientAccessToken();

    // Act
    const outcome = await RawClient.connect(`${emulator.endpoint.replace('http', 'ws')}/client/hubs/${HUB}?access_token=${token}`).catch((e: unknown) => e);

    // Assess
    expect((outcome as UpgradeRefused).status).toBe(401);
  });
});
