import { describe, expect, it } from 'vitest';
import {
  AudioFormatError,
  base64ByteLength,
  bytesForDurationMs,
  bytesOf,
  createResampler,
  dbfs,
  durationMsForBase64,
  durationMsForBytes,
  frameBytes,
  rms,
  samplesOf,
  silence,
  silentFrameBase64,
} from '../../src/lib/media/audio.js';

function sine(frequencyHz: number, sampleRateHz: number, durationMs: number, amplitude = 0.5): Int16Array {
  const count = (sampleRateHz * durationMs) / 1000;
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRateHz));
  return out;
}

/** Feeds a stream through a resampler in frames of `frameSamples` input samples. */
function resampleInFrames(fromHz: number, toHz: number, input: Int16Array, frameSamples: number): Int16Array {
  const resampler = createResampler(fromHz, toHz);
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += frameSamples) parts.push(resampler.process(bytesOf(input.slice(i, i + frameSamples))));
  return samplesOf(Buffer.concat(parts));
}

describe('PCM helpers', () => {
  it('converts durations and bytes for ACS frame sizes', () => {
    expect(frameBytes(16000)).toBe(640);
    expect(frameBytes(24000)).toBe(960);
    expect(bytesForDurationMs(1000, 24000)).toBe(48000);
    expect(durationMsForBytes(960, 24000)).toBe(20);
    const b64 = Buffer.alloc(962).toString('base64');
    expect(base64ByteLength(b64)).toBe(962);
    expect(durationMsForBase64(Buffer.alloc(640).toString('base64'), 16000)).toBe(20);
  });

  it('makes silent frames and measures energy', () => {
    expect(silence(20, 16000)).toHaveLength(640);
    expect(Buffer.from(silentFrameBase64(24000), 'base64')).toEqual(Buffer.alloc(960));
    expect(rms(silence(20, 24000))).toBe(0);
    expect(dbfs(silence(20, 24000))).toBe(-Infinity);
    const tone = sine(1000, 24000, 20, 0.5);
    expect(rms(tone)).toBeCloseTo(0.5 / Math.SQRT2, 2);
    expect(dbfs(bytesOf(tone))).toBeCloseTo(-9.03, 1);
  });

  it('reads PCM16 from an odd byte offset correctly', () => {
    const backing = Buffer.alloc(5);
    backing.writeInt16LE(-1234, 1);
    backing.writeInt16LE(4321, 3);
    expect(Array.from(samplesOf(backing.subarray(1)))).toEqual([-1234, 4321]);
    expect(() => samplesOf(Buffer.alloc(3))).toThrow(AudioFormatError);
  });
});

describe('resampler', () => {
  it('passes base64 through untouched when the rates match', () => {
    const b64 = bytesOf(sine(440, 24000, 20)).toString('base64');
    expect(createResampler(24000, 24000).processBase64(b64)).toBe(b64);
  });

  it.each([
    [16000, 24000],
    [24000, 16000],
  ])('gives the same samples frame by frame as in one pass (%i → %i Hz): no seams at frame boundaries', (fromHz, toHz) => {
    // Prepare: one second of a 440 Hz tone
    const input = sine(440, fromHz, 1000);
    // Act
    const whole = resampleInFrames(fromHz, toHz, input, input.length);
    const byFrames = resampleInFrames(fromHz, toHz, input, fromHz / 50); // 20 ms frames
    const oddChunks = resampleInFrames(fromHz, toHz, input, 7); // chunks that split the 2:3 cycle
    // Assess
    expect(byFrames.length).toBe(whole.length);
    expect(Math.abs(whole.length - (input.length * toHz) / fromHz)).toBeLessThanOrEqual(1);
    expect(Array.from(byFrames)).toEqual(Array.from(whole));
    expect(Array.from(oddChunks)).toEqual(Array.from(whole));
    // No step anywhere larger than the tone's steepest slope allows (a click would be a jump).
    const maxSlope = 0.5 * 32767 * 2 * Math.PI * (440 / toHz);
    let maxJump = 0;
    for (let i = 1; i < byFrames.length; i++) maxJump = Math.max(maxJump, Math.abs((byFrames[i] ?? 0) - (byFrames[i - 1] ?? 0)));
    expect(maxJump).toBeLessThanOrEqual(maxSlope * 1.05 + 2);
  });

  it('keeps a sine through 16 → 24 → 16 kHz with bounded error', () => {
    // Prepare
    const input = sine(440, 16000, 1000);
    // Act
    const up = resampleInFrames(16000, 24000, input, 320);
    const back = resampleInFrames(24000, 16000, up, 480);
    // Assess: align for the low-pass group delay (the best lag within ±16 samples; the 31-tap filter delays by 10), skip the warm-up.
    let bestError = Infinity;
    let bestLag = 0;
    for (let lag = -16; lag <= 16; lag++) {
      let sum = 0;
      let n = 0;
      for (let i = 100; i < Math.min(input.length, back.length) - 100; i++) {
        const diff = (back[i + lag] ?? 0) - (input[i] ?? 0);
        sum += diff * diff;
        n++;
      }
      const error = Math.sqrt(sum / n) / 32768;
      if (error < bestError) [bestError, bestLag] = [error, lag];
    }
    console.log(`16→24→16 kHz round trip of a 440 Hz sine: RMS error ${(bestError * 100).toFixed(3)} % of full scale at lag ${bestLag}`);
    expect(Math.abs(back.length - input.length)).toBeLessThanOrEqual(2);
    expect(bestError).toBeLessThan(0.01); // the tone itself is at 35 % RMS of full scale
  });

  it('filters content above the 8 kHz Nyquist limit when downsampling 24 → 16 kHz', () => {
    const high = sine(10000, 24000, 200);
    const out = resampleInFrames(24000, 16000, high, 480);
    expect(rms(out.slice(100))).toBeLessThan(rms(high) * 0.1);
  });

  it('measures the cost per 20 ms frame (figures only, no timing assertion)', () => {
    const figures: string[] = [];
    for (const [fromHz, toHz] of [
      [16000, 24000],
      [24000, 16000],
    ] as const) {
      const resampler = createResampler(fromHz, toHz);
      const frame = bytesOf(sine(440, fromHz, 20)).toString('base64');
      let produced = 0;
      let bestMs = Infinity;
      for (let round = 0; round < 5; round++) {
        const start = performance.now();
        for (let i = 0; i < 500; i++) produced += resampler.processBase64(frame).length;
        bestMs = Math.min(bestMs, performance.now() - start);
      }
      figures.push(`${fromHz / 1000}→${toHz / 1000} kHz ${((bestMs * 1000) / 500).toFixed(1)} µs/frame`);
      expect(produced).toBeGreaterThan(0);
    }
    console.log(`resampler incl. base64 decode/encode: ${figures.join(', ')}`);
  });

  it('starts afresh after reset', () => {
    const resampler = createResampler(16000, 24000);
    const frame = bytesOf(sine(440, 16000, 20));
    const first = resampler.process(frame);
    resampler.process(frame);
    resampler.reset();
    expect(resampler.process(frame)).toEqual(first);
  });
});
