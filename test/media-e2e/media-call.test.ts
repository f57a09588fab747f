/**
 * A five-turn call on the realtime media path, end to end and offline: the ACS emulator's scripted
 * caller streams speech-like PCM to the Web PubSub emulator in sendToGroup mode, the relay bridges it
 * to the realtime emulator (real `openai` client) and streams the answers back at real-time pace; the
 * caller talks over one answer. Call control answers with the media token, the webPubSubTrigger
 * functions assign the call, and the lifecycle archives the transcript to the embedded Cosmos server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import type { BargeInRecord } from '../../src/lib/media/call-bridge.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { utcDay } from '../../src/lib/archive/index.js';
import { RawClient, UpgradeRefused } from '../emulators/webpubsub-support.js';
import { redisKeysOf, lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, CALLER, echoAnswer, startMediaStack } from './support.js';

// Q[2]'s answer is the one the caller talks over: long enough (22 words, 1.3 s at 60 ms a word) that
// the caller's speech reaches the model's VAD while it still plays, even on a loaded machine.
const Q = [
  'What are your opening hours',
  'Can I change my address',
  'Tell me about the status of the order I placed last Tuesday for two garden chairs and a small table please',
  'Stop, I need billing help instead',
  'Thanks that is all',
];
const INTERRUPTED_ANSWER = echoAnswer(Q[2]!);

describe('a five-turn media call with a barge-in', () => {
  let stack: OfflineStack;
  const bargeIns: BargeInRecord[] = [];

  beforeAll(async () => {
    stack = await startMediaStack({ relay: { onBargeIn: (_callId, record) => bargeIns.push(record) } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('streams both ways, barges in with StopAudio and a truncated turn, archives every turn and releases the call', { timeout: 60_000 }, async () => {
    // Prepare
    const steps = [
      { waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 },
      ...ask(Q[0]!),
      ...ask(Q[1]!),
      { say: Q[2]!, audioMs: 400 },
      { bargeInAfterMs: 200, say: Q[3]!, audioMs: 400 },
      { waitFor: 'agentSilence' as const, quietMs: 700, timeoutMs: 10_000 },
      ...ask(Q[4]!),
      { hangUp: true as const },
    ];

    // Act
    const call = await stack.acs.placeCall({ from: CALLER, to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 });
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: media mode — one answer with the Web PubSub transport, no recognize or play.
    const callId = callIdForIncoming(call.serverCallId);
    expect(call.notes).toEqual([]);
    expect(call.operations).toEqual(['answerCall']);
    const media = (call.requests[0]!.body as { mediaStreamingOptions: Record<string, unknown> }).mediaStreamingOptions;
    expect(media).toMatchObject({ transportType: 'websocket', enableBidirectional: true, audioFormat: 'pcm24KMono', startMediaStreaming: true });
    const transportUrl = new URL(String(media.transportUrl));
    expect(transportUrl.searchParams.get('webpubsub_mode')).toBe('sendToGroup');
    expect(transportUrl.searchParams.get('group')).toBe(`call.${callId}.in`);
    expect(call.said.map((s) => [s.text, s.via])).toEqual(Q.map((q) => [q, 'media']));

    // The barge-in: exactly one StopAudio, while the agent was audible, sent in the same handler as
    // the VAD event (no caller frame was processed in between: within one 20 ms frame).
    expect(call.stopAudio).toHaveLength(1);
    expect(call.stopAudio[0]!.wasPlaying).toBe(true);
    expect(call.heard.filter((h) => h.kind === 'audio' && h.stoppedByStopAudio)).toHaveLength(1);
    expect(bargeIns).toHaveLength(1);
    const bargeIn = bargeIns[0]!;
    expect(bargeIn.framesBetween).toBe(0);
    // The model stopped generating when the caller spoke: what it had generated is a prefix of the answer.
    expect(INTERRUPTED_ANSWER.startsWith(bargeIn.fullTranscript)).toBe(true);
    expect(bargeIn.fullTranscript.startsWith(bargeIn.heardTranscript)).toBe(true);
    expect(bargeIn.audioEndMs).toBeGreaterThan(0);
    expect(bargeIn.audioEndMs).toBeLessThan(bargeIn.audioSentMs);
    // The model was told what the caller heard.
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    const truncated = session.items.find((i) => i.truncatedAtMs !== undefined);
    expect(truncated?.truncatedAtMs).toBe(bargeIn.audioEndMs);
    expect(session.received).toContain('conversation.item.truncate');

    // The archive: greeting, then each question and its answer; the interrupted answer is what was heard.
    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(callId);
    const turns = transcript!.turns.map((t) => [t.role, t.content]);
    expect(turns).toEqual([
      ['assistant', greetingPrompt()],
      ['user', Q[0]],
      ['assistant', echoAnswer(Q[0]!)],
      ['user', Q[1]],
      ['assistant', echoAnswer(Q[1]!)],
      ['user', Q[2]],
      ['assistant', bargeIn.heardTranscript],
      ['user', Q[3]],
      ['assistant', echoAnswer(Q[3]!)],
      ['user', Q[4]],
      ['assistant', echoAnswer(Q[4]!)],
    ]);
    expect(bargeIn.heardTranscript.length).toBeGreaterThan(0);
    expect(INTERRUPTED_ANSWER.startsWith(bargeIn.heardTranscript)).toBe(true);
    expect(bargeIn.heardTranscript).not.toBe(INTERRUPTED_ANSWER);
    expect(transcript!.turns[6]!.meta).toMatchObject({ truncated: true, interrupted: true, heardMs: bargeIn.audioEndMs });
    expect(output).toMatchObject({ endReason: 'disconnected', turnCount: 11, turnsArchived: 11 });

    // Analytics count the barge-in.
    const analytics = await archive.analytics.get(callId, utcDay('dev', transcript!.header.startedAt));
    expect(analytics).toMatchObject({ turns: 11, bargeIns: 1 });

    // The relay let the call go: no bridge, affinity released, and Redis keeps only the summary.
    const relay = stack.media!.relays[0]!;
    expect(relay.calls()).toEqual([]);
    expect(relay.stats()).toMatchObject({ claims: 1, released: 1 });
    expect(await (await stack.runtime.relayLeases()).getAffinity(callId)).toBeNull();
    expect(await redisKeysOf(stack, callId)).toEqual([stack.runtime.keys.call(callId, 'summary')]);

    // The ACS token of this call cannot publish to another call's inbound group.
    const other = new URL(transportUrl);
    other.searchParams.set('group', 'call.someone-else.in');
    await expect(RawClient.connect(other.toString())).rejects.toMatchObject({ status: 403 });
    await expect(RawClient.connect(other.toString())).rejects.toBeInstanceOf(UpgradeRefused);
  });
});

describe('a media call at 16 kHz with a model faster than real time', () => {
  let stack: OfflineStack;

  beforeAll(async () => {
    // paceFactor 0: each answer arrives in one burst, as real models generate faster than they speak;
    // ACS queues it and plays it in real time, so a barge-in comes after the agent turn was reported.
    stack = await startMediaStack({ realtime: { speechMsPerWord: 100, paceFactor: 0 } }, { env: { LOG_LEVEL: 'error', MEDIA_AUDIO_FORMAT: 'pcm16KMono' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('resamples both ways and truncates an answer that was already complete to what was heard', { timeout: 30_000 }, async () => {
    // Prepare
    const steps = [
      { waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 },
      { say: Q[2]!, audioMs: 400 },
      { bargeInAfterMs: 250, say: Q[3]!, audioMs: 400 },
      { waitFor: 'agentSilence' as const, quietMs: 700, timeoutMs: 10_000 },
      { hangUp: true as const },
    ];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107002', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: ACS streamed and played 16 kHz (640 bytes per 20 ms, several frames per AudioData
    // message from the relay); the model heard 24 kHz.
    const callId = callIdForIncoming(call.serverCallId);
    expect(call.notes).toEqual([]);
    expect((call.requests[0]!.body as { mediaStreamingOptions: { audioFormat: string } }).mediaStreamingOptions.audioFormat).toBe('pcm16KMono');
    expect(call.media?.sampleRate).toBe(16000);
    expect(call.media!.stats.outboundBytes / call.media!.stats.outboundFrames).toBeGreaterThan(640);
    expect(call.media!.stats.outboundBytes / call.media!.stats.outboundFrames).toBeLessThanOrEqual(640 * 10);
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    // Every 20 ms of caller audio reached the model as 20 ms of 24 kHz audio (none lost or stretched).
    expect(Math.abs(session.appendedAudioMs - call.media!.stats.framesSent * 20)).toBeLessThanOrEqual(200);

    // StopAudio threw away the rest of the queued answer; the archive holds what the caller heard.
    expect(call.stopAudio).toHaveLength(1);
    expect(call.stopAudio[0]!.clearedMs).toBeGreaterThan(0);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    const turns = transcript!.turns;
    expect(turns.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(turns[2]!.meta).toMatchObject({ truncated: true });
    expect(turns[2]!.content.length).toBeGreaterThan(0);
    expect(INTERRUPTED_ANSWER.startsWith(turns[2]!.content)).toBe(true);
    expect(turns[2]!.content).not.toBe(INTERRUPTED_ANSWER);
    expect(turns[4]!.content).toBe(echoAnswer(Q[3]!));
    const analytics = await (await stack.runtime.archive()).analytics.get(callId, utcDay('dev', transcript!.header.startedAt));
    expect(analytics).toMatchObject({ bargeIns: 1 });
  });
});
