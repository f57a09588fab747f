/**
 * Synthetic audio: the emulator's "voice" (a tone per word, paced like speech) and the scripted
 * caller's speech (a louder tone followed by silence), both PCM16 LE mono.
 */

import { bytesForDurationMs } from '../../src/lib/media/audio.js';

/** A continuous sine: successive chunks join without a phase jump. */
export class ToneGenerator {
  private phase = 0;
  constructor(
    private readonly sampleRateHz: number,
    private readonly frequencyHz: number,
    private readonly amplitude: number,
  ) {}

  next(durationMs: number): Buffer {
    const out = Buffer.alloc(bytesForDurationMs(durationMs, this.sampleRateHz));
    const step = (2 * Math.PI * this.frequencyHz) / this.sampleRateHz;
    for (let i = 0; i < out.length / 2; i++) {
      out.writeInt16LE(Math.round(this.amplitude * 32767 * Math.sin(this.phase)), i * 2);
      this.phase += step;
    }
    this.phase %= 2 * Math.PI;
    return out;
  }
}

/** Caller speech for VAD: `speechMs` of a 300 Hz tone at −12 dBFS, then `silenceMs` of silence, in 20 ms frames. */
export function callerSpeechFrames(options: { sampleRateHz: number; speechMs: number; silenceMs: number }): Buffer[] {
  const tone = new ToneGenerator(options.sampleRateHz, 300, 0.35);
  const frames: Buffer[] = [];
  for (let t = 0; t < options.speechMs; t += 20) frames.push(tone.next(20));
  for (let t = 0; t < options.silenceMs; t += 20) frames.push(Buffer.alloc(bytesForDurationMs(20, options.sampleRateHz)));
  return frames;
}
