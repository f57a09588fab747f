import {
  CallAutomationClient,
  createOutboundAudioData,
  createOutboundStopAudioData,
  StreamingData,
  type AudioData,
  type AudioMetadata,
} from '@azure/communication-call-automation';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rmsLevel, startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { startMediaServer, startTestApp, type MediaConnection, type TestApp } from './acs-test-app.js';

/**
 * The media side: the emulator connects to the app's transportUrl like ACS, streams 20 ms frames
 * on a steady clock and plays the app's audio at real-time pace. Frames are parsed with the SDK's
 * own StreamingData and outbound audio is built with its createOutbound* helpers.
 */

const CALLER = '+15550100123';

function stats(values: number[]): { mean: number; stdDev: number; p95AbsDev: number; max: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const stdDev = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const deviations = values.map((v) => Math.abs(v - 20)).sort((a, b) => a - b);
  return { mean, stdDev, p95AbsDev: deviations[Math.floor(deviations.length * 0.95)] ?? 0, max: Math.max(...values) };
}

async function until<T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ACS emulator: media streaming', () => {
  let acs: AcsEmulator;
  let client: CallAutomationClient;
  let mediaServer: Awaited<ReturnType<typeof startMediaServer>>;
  let app: TestApp | undefined;

  beforeAll(async () => {
    acs = await startAcsEmulator();
    client = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    // End the calls while the app still listens, so no callback is left retrying into a closed port.
    for (const call of acs.calls.values()) {
      call.hangUpByCaller();
      await call.callbacksSettled();
    }
    await app?.close();
    await mediaServer?.close();
  });
  afterAll(async () => {
    await acs.close();
  });

  async function answerWithMedia(audioFormat: 'pcm16KMono' | 'pcm24KMono', startMediaStreaming = true, enableDtmfTones = false): Promise<{ callConnectionId: string }> {
    mediaServer = await startMediaServer();
    app = await startTestApp({
      client,
      jwt: acs.jwt,
      answerOptions: () => ({
        mediaStreamingOptions: {
          transportType: 'websocket',
          transportUrl: `${mediaServer.url}?call=1`,
          contentType: 'audio',
          audioChannelType: 'mixed',
          startMediaStreaming,
          enableBidirectional: true,
          audioFormat,
          enableDtmfTones,
        },
      }),
    });
    await acs.eventGrid.sendIncomingCall(app.eventGridUrl, { from: CALLER, to: '+15550100999' });
    const connected = await app.waitForEvent('CallConnected');
    return { callConnectionId: connected.callConnectionId };
  }

  it('connects to the transportUrl with a verifiable media JWT and the x-ms-call-* headers, AudioMetadata first', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm24KMono');

    // Act
    const connection = await mediaServer.connection(0);
    await app!.waitForEvent('MediaStreamingStarted');
    await until(() => connection.frames.length >= 3);

    // Assess
    const token = (connection.headers.authorization ?? '').replace(/^Bearer /, '');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(acs.jwt.jwksUrl)), { issuer: acs.jwt.issuer, audience: acs.jwt.audience });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(24 * 3600);
    expect(connection.headers['x-ms-call-connection-id']).toBe(callConnectionId);
    expect(connection.headers['x-ms-call-correlation-id']).toBe(acs.calls.get(callConnectionId)?.correlationId);
    expect(connection.url).toBe('/media?call=1');
    const metadata = StreamingData.parse(JSON.stringify(connection.frames[0]?.message)) as AudioMetadata;
    expect(StreamingData.getStreamingKind()).toBe('AudioMetadata');
    expect(metadata).toMatchObject({ encoding: 'PCM', sampleRate: 24000, channels: 1 });
    const audio = StreamingData.parse(JSON.stringify(connection.frames[1]?.message)) as AudioData;
    expect(Buffer.from(audio.data, 'base64')).toHaveLength(960);
    expect(audio.isSilent).toBe(true);
    expect((audio.participant as { phoneNumber?: string }).phoneNumber).toBe(CALLER);
  });

  it('sends one 20 ms frame (640 bytes at 16 kHz) per 20 ms on a steady clock', async () => {
    // Prepare
    await answerWithMedia('pcm16KMono');
    const connection = await mediaServer.connection(0);

    // Act
    // The first half second shares the event loop with answering and callback verification; skip it.
    await until(() => connection.frames.length >= 126, 6_000);

    // Assess
    const audioFrames = connection.frames.filter((f) => f.message.kind === 'AudioData').slice(25, 125);
    const intervals = audioFrames.slice(1).map((f, i) => f.atMs - (audioFrames[i]?.atMs ?? 0));
    const jitter = stats(intervals);
    const spanMs = (audioFrames.at(-1)?.atMs ?? 0) - (audioFrames[0]?.atMs ?? 0);
    console.log(
      `[acs-emulator media cadence] ${intervals.length} intervals: mean ${jitter.mean.toFixed(2)} ms, std dev ${jitter.stdDev.toFixed(2)} ms, ` +
        `p95 |dev from 20| ${jitter.p95AbsDev.toFixed(2)} ms, max ${jitter.max.toFixed(2)} ms, 99 intervals span ${spanMs.toFixed(0)} ms (ideal 1980)`,
    );
    expect(audioFrames.every((f) => Buffer.from(f.message.audioData.data, 'base64').length === 640)).toBe(true);
    expect(jitter.mean).toBeGreaterThan(15);
    expect(jitter.mean).toBeLessThan(25);
  });

  it('plays a one-second burst sent at once at real-time pace, and records it as heard', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm24KMono');
    const connection: MediaConnection = await mediaServer.connection(0);
    await until(() => acs.calls.get(callConnectionId)?.media);
    const session = acs.calls.get(callConnectionId)!.media!;
    const oneSecond = Buffer.alloc(48_000, 1);

    // Act
    for (let i = 0; i < 50; i += 1) connection.socket.send(createOutboundAudioData(oneSecond.subarray(i * 960, (i + 1) * 960).toString('base64')));
    await until(() => session.heard[0]?.endedAtMs !== undefined, 4_000);

    // Assess
    const heard = session.heard[0]!;
    const playedForMs = heard.endedAtMs! - heard.startedAtMs;
    console.log(`[acs-emulator playout] 1000 ms of audio sent at once was heard over ${playedForMs.toFixed(0)} ms`);
    expect(heard.ms).toBe(1000);
    expect(heard.bytes).toBe(48_000);
    expect(playedForMs).toBeGreaterThan(800);
    expect(playedForMs).toBeLessThan(2_000);
    expect(session.stats.outboundFrames).toBe(50);
  });

  it('accepts outbound frames with keys in any case and clears the buffer on StopAudio', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm16KMono');
    const connection = await mediaServer.connection(0);
    await until(() => acs.calls.get(callConnectionId)?.media);
    const session = acs.calls.get(callConnectionId)!.media!;
    const twoSeconds = Buffer.alloc(64_000, 2).toString('base64');

    // Act
    connection.socket.send(JSON.stringify({ Kind: 'AudioData', AudioData: { Data: twoSeconds } }));
    await until(() => session.agentSpeaking);
    await new Promise((r) => setTimeout(r, 200));
    connection.socket.send(JSON.stringify({ KIND: 'StopAudio', StopAudio: {} }));
    await until(() => session.stopAudio.length > 0);
    connection.socket.send(createOutboundStopAudioData());
    await until(() => session.stopAudio.length > 1);

    // Assess
    const [stop] = session.stopAudio;
    expect(stop?.wasPlaying).toBe(true);
    expect(stop?.clearedMs).toBeGreaterThan(1_000);
    expect(session.heard[0]?.stoppedByStopAudio).toBe(true);
    expect(session.heard[0]!.ms + stop!.clearedMs).toBe(2_000);
    expect(session.agentSpeaking).toBe(false);
  });

  it('starts and stops media streaming on request with MediaStreamingStarted/Stopped callbacks', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm16KMono', false);
    const media = client.getCallConnection(callConnectionId).getCallMedia();

    // Act
    await media.startMediaStreaming({ operationContext: 'start' });
    const first = await mediaServer.connection(0);
    const started = await app!.waitForEvent('MediaStreamingStarted');
    await media.stopMediaStreaming({ operationContext: 'stop' });
    const stopped = await app!.waitForEvent('MediaStreamingStopped');
    await until(() => first.socket.readyState === first.socket.CLOSED);
    await media.startMediaStreaming();
    await mediaServer.connection(1);
    await until(() => acs.calls.get(callConnectionId)?.mediaSessions.length === 2);

    // Assess
    expect(started).toMatchObject({ operationContext: 'start', mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingStarted', mediaStreamingStatusDetails: 'subscriptionStarted' } });
    expect(stopped).toMatchObject({ operationContext: 'stop', mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingStopped' } });
    expect(acs.calls.get(callConnectionId)?.mediaSessions).toHaveLength(2);
    expect(acs.calls.get(callConnectionId)?.requests.map((r) => [r.operation, r.status])).toEqual([
      ['answerCall', 200],
      ['startMediaStreaming', 202],
      ['stopMediaStreaming', 202],
      ['startMediaStreaming', 202],
    ]);
  });

  it('sends the caller\'s keys as DtmfData frames when the app asked for DTMF tones', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm16KMono', true, true);
    const connection = await mediaServer.connection(0);
    await until(() => acs.calls.get(callConnectionId)?.media);

    // Act
    acs.calls.get(callConnectionId)!.media!.sendDtmf('5');
    const frame = await until(() => connection.frames.find((f) => f.message.kind === 'DtmfData'));

    // Assess
    expect(StreamingData.parse(JSON.stringify(frame.message))).toEqual({ data: '5' });
    expect(StreamingData.getStreamingKind()).toBe('DtmfData');
  });

  it('streams speech-like caller audio followed by a TranscriptionData frame of what was said', async () => {
    // Prepare
    const { callConnectionId } = await answerWithMedia('pcm16KMono');
    const connection = await mediaServer.connection(0);
    await until(() => acs.calls.get(callConnectionId)?.media);
    const session = acs.calls.get(callConnectionId)!.media!;
    const { speechLikePcm } = await import('../../emulators/acs/index.js');

    // Act
    await session.speak(speechLikePcm(400, 16000), 'check my balance');
    await until(() => connection.frames.some((f) => f.message.kind === 'TranscriptionData'));

    // Assess
    const loud = connection.frames.filter((f) => f.message.kind === 'AudioData' && f.message.audioData.silent === false);
    expect(loud).toHaveLength(20);
    const level = rmsLevel(Buffer.concat(loud.map((f) => Buffer.from(f.message.audioData.data, 'base64'))));
    expect(level).toBeGreaterThan(0.02);
    const transcript = connection.frames.find((f) => f.message.kind === 'TranscriptionData')!.message;
    const parsed = StreamingData.parse(JSON.stringify(transcript)) as { text: string; resultState: string };
    expect(parsed).toMatchObject({ text: 'check my balance', resultState: 'Final' });
  });
});
