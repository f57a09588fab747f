/**
 * The media token ACS gets on answer: against the Web PubSub emulator (real SDK minting, real raw
 * WebSocket clients as ACS connects), it can publish only to its own call's `.in` group and receives
 * what is sent to its `.out` group.
 */
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebPubSubEmulator, type WebPubSubEmulator } from '../../emulators/webpubsub/index.js';
import { mediaTokenClaims, mediaTransportUrl } from '../../src/lib/media/media-token.js';
import { inboundGroup, outboundGroup } from '../../src/lib/media/groups.js';
import { eventually, RawClient, UpgradeRefused } from '../emulators/webpubsub-support.js';

describe('media transport URL', () => {
  let wps: WebPubSubEmulator;
  let service: WebPubSubServiceClient;

  beforeAll(async () => {
    wps = await startWebPubSubEmulator({ hubs: { media: {} } });
    service = new WebPubSubServiceClient(wps.connectionString, 'media', { allowInsecureConnection: true });
  });
  afterAll(async () => {
    await wps?.close();
  });

  it('lives at least as long as the longest call', () => {
    // Prepare / Act
    const claims = mediaTokenClaims('c1', { maxCallDurationSeconds: 7200 });
    // Assess
    expect(claims.expirationTimeInMinutes * 60).toBeGreaterThanOrEqual(7200);
    expect(claims.roles).toEqual(['webpubsub.sendToGroup.call.c1.in']);
    expect(claims.groups).toEqual(['call.c1.out']);
  });

  it('connects in sendToGroup mode to its own .in group and joins its .out group', async () => {
    // Prepare
    const url = await mediaTransportUrl(service, 'call-a', { maxCallDurationSeconds: 3600 });
    const listener = await RawClient.connect(await listenerUrl(service, 'call-a'));
    // Act
    const acs = await RawClient.connect(url);
    await acs.send('{"kind":"AudioData","audioData":{"data":"AAAA"}}', false);
    await service.group(outboundGroup('call-a')).sendToAll('{"kind":"StopAudio","stopAudio":{}}', { contentType: 'text/plain' });
    // Assess
    const heard = await eventually('the frame on call-a.in', () => listener.frames[0]);
    expect(heard.data.toString()).toContain('AudioData');
    const back = await eventually('the frame from call-a.out', () => acs.frames[0]);
    expect(back.data.toString()).toBe('{"kind":"StopAudio","stopAudio":{}}');
    const info = wps.connections('media').find((c) => c.rawSendToGroup === inboundGroup('call-a'));
    expect(info?.groups).toEqual([outboundGroup('call-a')]);
    acs.close();
    listener.close();
  });

  it("cannot publish to another call's .in group", async () => {
    // Prepare
    const url = new URL(await mediaTransportUrl(service, 'call-a', { maxCallDurationSeconds: 3600 }));
    url.searchParams.set('group', inboundGroup('call-b'));
    // Act
    const attempt = RawClient.connect(url.toString());
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(UpgradeRefused);
    await expect(attempt).rejects.toMatchObject({ status: 403 });
  });

  it('cannot join or send to other groups through the JSON subprotocol either', async () => {
    // Prepare
    const url = (await mediaTransportUrl(service, 'call-a', { maxCallDurationSeconds: 3600 })).replace(/&webpubsub_mode=[^&]+&group=[^&]+/, '');
    const socket = new WebSocket(url, 'json.webpubsub.azure.v1');
    const acks: Array<{ ackId: number; success: boolean; error?: { name: string } }> = [];
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; ackId: number; success: boolean; error?: { name: string } };
      if (message.type === 'ack') acks.push(message);
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    // Act
    socket.send(JSON.stringify({ type: 'sendToGroup', group: inboundGroup('call-b'), dataType: 'text', data: 'x', ackId: 1 }));
    socket.send(JSON.stringify({ type: 'joinGroup', group: outboundGroup('call-b'), ackId: 2 }));
    socket.send(JSON.stringify({ type: 'sendToGroup', group: inboundGroup('call-a'), dataType: 'text', data: 'x', ackId: 3 }));
    // Assess
    await eventually('three acks', () => (acks.length >= 3 ? acks : undefined));
    expect(acks.map((a) => [a.ackId, a.success, a.error?.name])).toEqual([
      [1, false, 'Forbidden'],
      [2, false, 'Forbidden'],
      [3, true, undefined],
    ]);
    socket.close();
  });
});

/** A raw client that receives everything published to the call's `.in` group (stands in for a relay). */
async function listenerUrl(service: WebPubSubServiceClient, callId: string): Promise<string> {
  const { url } = await service.getClientAccessToken({ groups: [inboundGroup(callId)] });
  return url;
}
