/**
 * Server VAD by energy: 20 ms windows of PCM16 above an RMS threshold are speech. Speech starts at the
 * first loud window (reported `prefixPaddingMs` earlier, as the service does) and stops after
 * `silenceDurationMs` of quiet windows (reported at the point of detection, silence included).
 */

import { rms } from '../../src/lib/media/audio.js';

export type VadEvent =
  /** `onsetHeard` is false when the speech was already under way in the first audio this VAD was given. */
  | { readonly type: 'speech_started'; readonly audioStartMs: number; readonly onsetHeard: boolean }
  | { readonly type: 'speech_stopped'; readonly audioEndMs: number };

export type EnergyVadOptions = {
  readonly sampleRateHz: number;
  /** RMS level (0..1) above which a window counts as speech. @default 0.02 (about −34 dBFS) */
  readonly thresholdRms?: number;
  readonly prefixPaddingMs?: number;
  readonly silenceDurationMs?: number;
};

const WINDOW_MS = 20;

export class EnergyVad {
  private readonly windowBytes: number;
  private readonly thresholdRms: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
  private pending = Buffer.alloc(0);
  private positionMs = 0;
  private speaking = false;
  private quietMs = 0;

  constructor(options: EnergyVadOptions) {
    this.windowBytes = (options.sampleRateHz / 1000) * WINDOW_MS * 2;
    this.thresholdRms = options.thresholdRms ?? 0.02;
    this.prefixPaddingMs = options.prefixPaddingMs ?? 300;
    this.silenceDurationMs = options.silenceDurationMs ?? 500;
  }

  /** Milliseconds of input audio consumed so far. */
  get audioMs(): number {
    return this.positionMs;
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  /** Feeds audio; returns the VAD transitions it caused, in order. */
  push(pcm: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, pcm]) : pcm;
    while (data.length >= this.windowBytes) {
      const loud = rms(data.subarray(0, this.windowBytes)) >= this.thresholdRms;
      data = data.subarray(this.windowBytes);
      const windowStartMs = this.positionMs;
      this.positionMs += WINDOW_MS;
      if (!this.speaking && loud) {
        this.speaking = true;
        this.quietMs = 0;
        events.push({ type: 'speech_started', audioStartMs: Math.max(0, windowStartMs - this.prefixPaddingMs), onsetHeard: windowStartMs > 0 });
      } else if (this.speaking) {
        this.quietMs = loud ? 0 : this.quietMs + WINDOW_MS;
        if (this.quietMs >= this.silenceDurationMs) {
          this.speaking = false;
          events.push({ type: 'speech_stopped', audioEndMs: this.positionMs });
        }
      }
    }
    this.pending = Buffer.from(data);
    return events;
  }
}
