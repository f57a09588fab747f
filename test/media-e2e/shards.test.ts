/**
 * Calls sharded across several Web PubSub resources: each call's shard is chosen at answer time and
 * recorded on its session; every relay holds a connection to every shard and bridges each call on its
 * own; takeover after a relay dies joins the call's groups on the right resource.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { buildInboundAudioDataFrame } from '../../src/lib/media/codec.js';
import { acsUserId, relayUserId } from '../../src/lib/media/groups.js';
import { mediaTransportUrl, shardedMediaTransportUrlFactory } from '../../src/lib/media/media-token.js';
import { shardOfCall } from '../../src/lib/media/webpubsub-service.js';
import { silentFrameBase64 } from '../../src/lib/media/audio.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, startMediaStack } from './support.js';

describe('Web PubSub shards', () => {
  let stack: OfflineStack;
  beforeAll(async () => {
    stack = await startMediaStack({ relays: 2, shards: 2, heartbeatTtlSeconds: 5 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A call id that hashes to `shard`. */
  function callIdOnShard(shard: number, tag: string): string {
    for (let i = 0; ; i++) if (shardOfCall(`${tag}-${i}`, 2) === shard) return `${tag}-${i}`;
  }

  /** ACS's side of a call's media, as a raw WebSocket on the call's shard, sending a frame every 20 ms. */
  async function acsMedia(callId: string, shard: number): Promise<{ close(): void }> {
    const services = await stack.runtime.webPubSubShards();
    const socket = new WebSocket(await mediaTransportUrl(services[shard]!, callId, { maxCallDurationSeconds: 600 }));
    await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
    const frame = buildInboundAudioDataFrame({ data: silentFrameBase64(24000), silent: true });
    const timer = setInterval(() => socket.send(frame), 20);
    return {
      close: () => {
        clearInterval(timer);
        socket.close();
      },
    };
  }

  it('every relay connects to every shard, and the control group lives on shard 0', async () => {
    for (const relay of stack.media!.relays) {
      for (const [shard, wps] of stack.media!.webPubSubShards.entries()) {
        const connection = wps.connections('media').find((c) => c.userId === relayUserId(relay.workerId));
        expect(connection, `relay ${relay.workerId} on shard ${shard}`).toBeDefined();
        expect(connection!.groups.includes('relays.control')).toBe(shard === 0);
      }
    }
  });

  it('a call answered through ACS records its shard, and ACS connects its media there', { timeout: 40_000 }, async () => {
    // Act
    const call = await stack.acs.placeCall(
      { from: '+15550107401', to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask('What are your opening hours'), { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 },
    );
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the archive has the whole call; the answer's token named the shard the session records.
    const callId = callIdForIncoming(call.serverCallId);
    expect(call.notes).toEqual([]);
    const transportUrl = (call.requests[0]!.body as { mediaStreamingOptions: { transportUrl: string } }).mediaStreamingOptions.transportUrl;
    const shard = shardOfCall(callId, 2);
    expect(new URL(transportUrl).port).toBe(String(stack.media!.webPubSubShards[shard]!.port));
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant']);
  });

  it('records the shard on the session before minting the token there', async () => {
    // Prepare
    const recorded: Array<[string, number]> = [];
    const minted: number[] = [];
    const minter = (shard: number) => ({
      getClientAccessToken: async () => {
        minted.push(shard);
        return { token: 't', baseUrl: `ws://shard${shard}.invalid/client/hubs/media`, url: '' };
      },
    });
    const factory = shardedMediaTransportUrlFactory(async () => [minter(0), minter(1)], async (callId, shard) => void recorded.push([callId, shard]), { maxCallDurationSeconds: 60 });
    const onOne = callIdOnShard(1, 'mint');
    // Act
    const url = await factory(onOne);
    // Assess
    expect(recorded).toEqual([[onOne, 1]]);
    expect(minted).toEqual([1]);
    expect(url).toContain('shard1.invalid');
  });

  it('relays bridge calls on both shards, and a relay that dies hands them over on their own shard', { timeout: 40_000 }, async () => {
    // Prepare: one live call per shard, its media connected by "ACS".
    const store = await stack.runtime.store();
    const calls = [0, 1].map((shard) => ({ shard, callId: callIdOnShard(shard, `shard-call-${shard}`) }));
    for (const { callId, shard } of calls) {
      await store.createCallSession(callId, { state: 'connected', direction: 'inbound', startedAt: new Date().toISOString(), mediaShard: shard });
    }
    const media = await Promise.all(calls.map(({ callId, shard }) => acsMedia(callId, shard)));
    const ownerOf = (callId: string) => stack.media!.relays.find((r) => r.calls().includes(callId));
    const framesOf = (callId: string) => ownerOf(callId)?.stats().perCall.get(callId)?.framesIn ?? 0;
    for (const { callId } of calls) await eventually(`frames of ${callId} reach a relay`, () => (framesOf(callId) > 10 ? true : undefined), 10_000);
    for (const { callId, shard } of calls) {
      const acs = stack.media!.webPubSubShards[shard]!.connections('media').find((c) => c.userId === acsUserId(callId));
      expect(acs?.rawSendToGroup).toBe(`call.${callId}.in`);
    }

    // Act: the relay owning the shard-1 call dies.
    const dead = ownerOf(calls[1]!.callId)!;
    const deadCalls = dead.calls();
    await dead.terminate();

    // Assess: the survivor owns both calls now and receives frames from each on its own shard.
    const survivor = stack.media!.relays.find((r) => r !== dead)!;
    for (const callId of deadCalls) await eventually(`the survivor took ${callId}`, () => (survivor.calls().includes(callId) ? true : undefined), 10_000);
    for (const { callId } of calls) {
      const before = survivor.stats().perCall.get(callId)?.framesIn ?? 0;
      await eventually(`frames of ${callId} reach the survivor`, () => ((survivor.stats().perCall.get(callId)?.framesIn ?? 0) > before + 10 ? true : undefined), 10_000);
    }
    for (const m of media) m.close();
  });
});
