/**
 * PCM16 little-endian mono helpers for the media path: durations ↔ bytes, energy, silence frames, and
 * a streaming 16 kHz ↔ 24 kHz resampler.
 *
 * The resampler keeps its state (last sample, fractional read position, low-pass filter history) per
 * stream, so feeding it 20 ms frames one by one gives exactly the same samples as resampling the whole
 * stream at once: no clicks at frame boundaries.
 */

import { AppError } from '../errors.js';

export type SampleRateHz = 16000 | 24000;

export const BYTES_PER_SAMPLE = 2;
/** ACS sends and expects 20 ms frames. */
export const FRAME_DURATION_MS = 20;

export class AudioFormatError extends AppError {
  override name = 'AudioFormatError';
}

export function bytesForDurationMs(durationMs: number, sampleRateHz: number): number {
  return Math.round((durationMs * sampleRateHz) / 1000) * BYTES_PER_SAMPLE;
}

export function durationMsForBytes(byteLength: number, sampleRateHz: number): number {
  return (byteLength / BYTES_PER_SAMPLE / sampleRateHz) * 1000;
}

/** Bytes of one 20 ms frame: 640 at 16 kHz, 960 at 24 kHz. */
export function frameBytes(sampleRateHz: number): number {
  return bytesForDurationMs(FRAME_DURATION_MS, sampleRateHz);
}

/** Base64 PCM length → duration, without decoding (4 base64 chars carry 3 bytes). */
export function durationMsForBase64(base64: string, sampleRateHz: number): number {
  return durationMsForBytes(base64ByteLength(base64), sampleRateHz);
}

export function base64ByteLength(base64: string): number {
  let padding = 0;
  if (base64.endsWith('==')) padding = 2;
  else if (base64.endsWith('=')) padding = 1;
  return (base64.length * 3) / 4 - padding;
}

export function silence(durationMs: number, sampleRateHz: number): Buffer {
  return Buffer.alloc(bytesForDurationMs(durationMs, sampleRateHz));
}

/** Constants of the two rates ACS streams (about 2 KB in all), not state: every app may share them. */
const SILENT_FRAME_BASE64: Readonly<Record<SampleRateHz, string>> = {
  16000: silence(FRAME_DURATION_MS, 16000).toString('base64'),
  24000: silence(FRAME_DURATION_MS, 24000).toString('base64'),
};

/** A 20 ms silent frame as base64. */
export function silentFrameBase64(sampleRateHz: SampleRateHz): string {
  return SILENT_FRAME_BASE64[sampleRateHz];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A view of PCM16 LE bytes as samples (copies only when the buffer is unaligned or the host is big-endian). */
export function samplesOf(pcm: Uint8Array): Int16Array {
  if (pcm.byteLength % 2 !== 0) throw new AudioFormatError(`PCM16 needs an even byte count, got ${pcm.byteLength}`);
  if (LITTLE_ENDIAN && pcm.byteOffset % 2 === 0) return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength / 2);
  const out = new Int16Array(pcm.byteLength / 2);
  const view = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Samples → PCM16 LE bytes. */
export function bytesOf(samples: Int16Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] ?? 0, i * 2);
  return out;
}

/** Root-mean-square level in [0, 1] (1 = full scale). */
export function rms(pcm: Uint8Array | Int16Array): number {
  const samples = pcm instanceof Int16Array ? pcm : samplesOf(pcm);
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] ?? 0;
    sum += s * s;
  }
  return Math.sqrt(sum / samples.length) / 32768;
}

/** Level in dBFS (−Infinity for digital silence). */
export function dbfs(pcm: Uint8Array | Int16Array): number {
  const level = rms(pcm);
  return level === 0 ? -Infinity : 20 * Math.log10(level);
}

// ---------------------------------------------------------------------------------------------
// Resampling.

export interface Resampler {
  readonly fromHz: number;
  readonly toHz: number;
  /** Resamples the next chunk of the stream (PCM16 LE bytes in, bytes out). */
  process(pcm: Uint8Array): Buffer;
  /** Same on base64; when the rates match the input string is returned untouched. */
  processBase64(base64: string): string;
  /** Forgets the stream (e.g. after StopAudio), so the next chunk starts afresh. */
  reset(): void;
}

/** Creates a per-stream resampler; 16↔24 kHz, or a pass-through when the rates match. */
export function createResampler(fromHz: number, toHz: number): Resampler {
  if (fromHz === toHz) return new PassThroughResampler(fromHz);
  return new LinearResampler(fromHz, toHz);
}

class PassThroughResampler implements Resampler {
  constructor(readonly fromHz: number) {}
  get toHz(): number {
    return this.fromHz;
  }
  process(pcm: Uint8Array): Buffer {
    return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  }
  processBase64(base64: string): string {
    return base64;
  }
  reset(): void {}
}

/**
 * Linear interpolation between neighbouring samples. Downsampling first runs a short windowed-sinc
 * low-pass just below the output's Nyquist frequency (0.9 × Nyquist) so content above it does not fold back as aliasing.
 * Read positions are kept as exact integer fractions (no floating-point drift over a long call).
 */
class LinearResampler implements Resampler {
  private readonly step: number; // input samples per output sample, as a numerator over `denominator`
  private readonly denominator: number;
  private readonly lowPass: FirFilter | undefined;
  private previous = 0;
  private position!: number; // read position within [previous, ...chunk], numerator over `denominator`

  constructor(
    readonly fromHz: number,
    readonly toHz: number,
  ) {
    if (!Number.isInteger(fromHz) || !Number.isInteger(toHz) || fromHz <= 0 || toHz <= 0) {
      throw new AudioFormatError(`Unsupported sample rates ${fromHz} → ${toHz}`);
    }
    const divisor = gcd(fromHz, toHz);
    this.step = fromHz / divisor;
    this.denominator = toHz / divisor;
    // 31 taps: odd, so the filter is symmetric around a centre tap (see FirFilter).
    this.lowPass = toHz < fromHz ? new FirFilter(lowPassTaps((0.45 * toHz) / fromHz, 31)) : undefined;
    this.reset();
  }

  reset(): void {
    this.previous = 0;
    // Position 1 is the first sample of the first chunk (index 0 holds `previous`).
    this.position = this.denominator;
    this.lowPass?.reset();
  }

  processBase64(base64: string): string {
    return this.process(Buffer.from(base64, 'base64')).toString('base64');
  }

  process(pcm: Uint8Array): Buffer {
    let input = samplesOf(pcm);
    if (input.length === 0) return Buffer.alloc(0);
    if (this.lowPass) input = this.lowPass.apply(input);
    const { step, denominator } = this;
    const lastIndex = input.length; // index of the last sample in [previous, ...input]
    const limit = lastIndex * denominator;
    const count = this.position > limit ? 0 : Math.floor((limit - this.position) / step) + 1;
    const out = new Int16Array(count);
    let position = this.position;
    for (let n = 0; n < count; n++) {
      const index = Math.floor(position / denominator);
      const fraction = (position - index * denominator) / denominator;
      const left = index === 0 ? this.previous : (input[index - 1] ?? 0);
      const right = fraction === 0 ? left : (input[index] ?? left);
      out[n] = Math.round(left + (right - left) * fraction);
      position += step;
    }
    this.position = position - limit;
    this.previous = input[input.length - 1] ?? 0;
    return bytesOf(out);
  }
}

/** A streaming FIR filter: keeps the last taps−1 input samples so chunks join seamlessly. */
class FirFilter {
  private readonly order: number;
  /** [history (order samples) | current chunk]; grown on demand, reused across chunks. */
  private work: Float64Array;

  constructor(private readonly taps: Float64Array) {
    this.order = taps.length - 1;
    this.work = new Float64Array(this.order + 960);
  }

  reset(): void {
    this.work.fill(0, 0, this.order);
  }

  apply(input: Int16Array): Int16Array {
    const { taps, order } = this;
    if (this.work.length < order + input.length) {
      const grown = new Float64Array(order + input.length);
      grown.set(this.work.subarray(0, order));
      this.work = grown;
    }
    const work = this.work;
    for (let i = 0; i < input.length; i++) work[order + i] = input[i] as number;
    const out = new Int16Array(input.length);
    // The taps are symmetric (odd length): pair sample k with sample order−k and halve the multiplies.
    const middle = order / 2;
    const centreTap = taps[middle] as number;
    for (let n = 0; n < input.length; n++) {
      let acc = centreTap * (work[n + middle] as number);
      for (let k = 0; k < middle; k++) acc += (taps[k] as number) * ((work[n + k] as number) + (work[n + order - k] as number));
      out[n] = clamp16(Math.round(acc));
    }
    // The newest `order` samples become the history of the next chunk.
    work.copyWithin(0, input.length, input.length + order);
    return out;
  }
}

/** Hann-windowed sinc low-pass; `cutoff` as a fraction of the sample rate (0.5 = Nyquist). Unity DC gain. */
function lowPassTaps(cutoff: number, length: number): Float64Array {
  const taps = new Float64Array(length);
  const middle = (length - 1) / 2;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const x = i - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (length - 1));
    taps[i] = sinc * window;
    sum += taps[i] ?? 0;
  }
  for (let i = 0; i < length; i++) taps[i] = (taps[i] ?? 0) / sum;
  return taps;
}

function clamp16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
