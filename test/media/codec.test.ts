import { describe, expect, it } from 'vitest';
import {
  MediaFrameError,
  STOP_AUDIO_FRAME,
  buildAudioDataFrame,
  buildAudioMetadataFrame,
  buildDtmfDataFrame,
  buildInboundAudioDataFrame,
  parseMediaFrame,
  parseMediaFrameGeneric,
} from '../../src/lib/media/codec.js';

const PCM_B64 = Buffer.from(Array.from({ length: 960 }, (_, i) => (i * 37) % 256)).toString('base64');

describe('media frame codec', () => {
  it('round-trips inbound AudioData through the fast path and the generic parser alike', () => {
    // Prepare
    const text = buildInboundAudioDataFrame({
      data: PCM_B64,
      timestamp: '2026-11-25T10:00:00.020Z',
      participantRawId: '4:+15550100123',
      silent: false,
    });
    // Act
    const fast = parseMediaFrame(text);
    const generic = parseMediaFrameGeneric(text);
    // Assess
    expect(fast).toEqual({
      kind: 'AudioData',
      timestamp: '2026-11-25T10:00:00.020Z',
      participantRawId: '4:+15550100123',
      data: PCM_B64,
      silent: false,
    });
    expect(generic).toEqual(fast);
  });

  it('builds outbound AudioData that passes the base64 through untouched and parses back', () => {
    const text = buildAudioDataFrame(PCM_B64);
    expect(JSON.parse(text)).toEqual({ kind: 'AudioData', audioData: { data: PCM_B64 } });
    const frame = parseMediaFrame(text);
    expect(frame.kind).toBe('AudioData');
    expect(frame.kind === 'AudioData' && frame.data).toBe(PCM_B64);
    expect(frame.kind === 'AudioData' && frame.timestamp).toBeUndefined();
  });

  it('builds StopAudio exactly as ACS expects and parses it back', () => {
    expect(JSON.parse(STOP_AUDIO_FRAME)).toEqual({ kind: 'StopAudio', stopAudio: {} });
    expect(parseMediaFrame(STOP_AUDIO_FRAME)).toEqual({ kind: 'StopAudio' });
  });

  it('matches kinds and keys case-insensitively', () => {
    const pascal = JSON.stringify({
      Kind: 'AUDIODATA',
      AudioData: { Timestamp: 't1', ParticipantRawId: '8:acs:abc', DATA: PCM_B64, Silent: true },
    });
    expect(parseMediaFrame(pascal)).toEqual({
      kind: 'AudioData',
      timestamp: 't1',
      participantRawId: '8:acs:abc',
      data: PCM_B64,
      silent: true,
    });
    expect(parseMediaFrame('{"kind":"stopaudio","StopAudio":{}}')).toEqual({ kind: 'StopAudio' });
    expect(parseMediaFrame('{"KIND":"DtmfData","DTMFDATA":{"Data":"5"}}')).toEqual({ kind: 'DtmfData', data: '5' });
  });

  it('falls back to the generic parser when the base64 carries JSON escapes (System.Text.Json writes + as \\u002B)', () => {
    const escaped = `{"kind":"AudioData","audioData":{"timestamp":"t","data":"ab\\u002BcdA==","silent":false}}`;
    const frame = parseMediaFrame(escaped);
    expect(frame.kind === 'AudioData' && frame.data).toBe('ab+cdA==');
  });

  it('parses AudioMetadata, DtmfData and transcription frames', () => {
    expect(parseMediaFrame(buildAudioMetadataFrame({ subscriptionId: 'sub-1', sampleRateHz: 24000 }))).toEqual({
      kind: 'AudioMetadata',
      subscriptionId: 'sub-1',
      encoding: 'PCM',
      sampleRateHz: 24000,
      channels: 1,
      frameLengthBytes: 960,
    });
    expect(parseMediaFrame(buildDtmfDataFrame('#'))).toEqual({ kind: 'DtmfData', data: '#' });
    expect(
      parseMediaFrame(
        JSON.stringify({
          kind: 'TranscriptionMetadata',
          transcriptionMetadata: { subscriptionId: 's', locale: 'en-US', callConnectionId: 'c', correlationId: 'r' },
        }),
      ),
    ).toEqual({ kind: 'TranscriptionMetadata', subscriptionId: 's', locale: 'en-US', callConnectionId: 'c', correlationId: 'r' });
    const data = parseMediaFrame(
      JSON.stringify({
        kind: 'TranscriptionData',
        transcriptionData: {
          text: 'Hello there',
          format: 'display',
          confidence: 0.9,
          offset: 100,
          duration: 2000,
          words: [
            { text: 'Hello', offset: 100, duration: 900 },
            { text: 'there', offset: 1000, duration: 1000 },
          ],
          participantRawID: '4:+15550100123',
          resultStatus: 'Final',
        },
      }),
    );
    expect(data).toMatchObject({
      kind: 'TranscriptionData',
      text: 'Hello there',
      confidence: 0.9,
      offsetTicks: 100,
      durationTicks: 2000,
      resultStatus: 'Final',
      words: [
        { text: 'Hello', offsetTicks: 100, durationTicks: 900 },
        { text: 'there', offsetTicks: 1000, durationTicks: 1000 },
      ],
    });
  });

  it.each([
    ['not-json', '{"kind":"AudioData",'],
    ['not-an-object', '[1,2]'],
    ['missing-kind', '{"audioData":{"data":"AA=="}}'],
    ['unknown-kind', '{"kind":"VideoData","videoData":{}}'],
    ['missing-payload', '{"kind":"AudioData"}'],
    ['invalid-field', '{"kind":"AudioData","audioData":{"data":42}}'],
    ['invalid-field', '{"kind":"AudioMetadata","audioMetadata":{"sampleRate":"fast"}}'],
    ['invalid-field', '{"kind":"AudioData","audioData":{"data":"AA==","silent":"yes"}}'],
  ])('rejects a malformed frame with reason %s', (reason, text) => {
    let caught: unknown;
    try {
      parseMediaFrame(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MediaFrameError);
    expect((caught as MediaFrameError).reason).toBe(reason);
    expect((caught as MediaFrameError).name).toBe('MediaFrameError');
  });

  it('measures the AudioData fast path against the generic parser (figures only, no timing assertion)', () => {
    const frames = Array.from({ length: 2_000 }, (_, i) =>
      buildInboundAudioDataFrame({ data: PCM_B64, timestamp: `2026-11-25T10:00:${String(i % 60).padStart(2, '0')}.000Z`, participantRawId: '4:+15550100123' }),
    );
    const measure = (parse: (text: string) => unknown): number => {
      let best = Infinity;
      for (let round = 0; round < 5; round++) {
        const start = performance.now();
        for (const frame of frames) parse(frame);
        best = Math.min(best, performance.now() - start);
      }
      return (best * 1000) / frames.length;
    };
    const genericUs = measure(parseMediaFrameGeneric);
    const fastUs = measure(parseMediaFrame);
    console.log(
      `AudioData parse (960-byte frames): generic ${genericUs.toFixed(2)} µs/frame, fast path ${fastUs.toFixed(2)} µs/frame (${(genericUs / fastUs).toFixed(1)}× faster)`,
    );
    expect(frames.map((f) => parseMediaFrame(f))).toEqual(frames.map((f) => parseMediaFrameGeneric(f)));
  });
});
