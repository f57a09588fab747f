/**
 * The caller's audio kept by a standby relay, and the position that tells which part of it the call's
 * conversation already holds.
 *
 * Positions are ACS's own: every AudioData frame carries the stream's `timestamp`, the same for every
 * relay that hears the frame. The owner records on each caller turn where the model's VAD ended that
 * speech, in the stream's time (`meta.callerAudioEnd`); a standby that takes the call over replays what
 * it kept after the last such turn, so the utterance the dead owner never persisted is heard again by
 * the new agent session.
 *
 * Silent frames (ACS marks them `silent`) are kept as their length only and rebuilt on replay, so a
 * standby's memory grows with what the caller says, not with the call's length.
 */

import type { JsonValue, Turn } from '../state/index.js';
import { buildInboundAudioDataFrame, parseMediaFrame } from './codec.js';
import { FRAME_DURATION_MS } from './audio.js';

/** Turn meta: the ACS timestamp of the latest caller frame when the model heard the turn's speech end. */
export const CALLER_AUDIO_END = 'callerAudioEnd';

/** Stop-of-speech positions remembered for turns not transcribed yet (the model reports both in order). */
const MAX_PENDING_TURN_ENDS = 16;

/**
 * The owner's side: where each caller turn's speech ended in the stream. The model reports the end in
 * its own input time (`audio_end_ms`, from the first audio the session got); the frames given to the
 * session since then, and the latest one's timestamp, turn that into stream time however late the
 * event arrives (one counter and one assignment per frame on the hot path; the arithmetic runs per turn).
 */
export class CallerAudioPosition {
  private latest: string | undefined;
  /** 20 ms frames the agent session has had, counted from its first (see {@link sessionStarted}). */
  private framesSinceSessionStart = 0;
  private readonly turnEnds = new Map<string, string>();

  /** Each caller AudioData frame, in order (whether it goes to the session now or waits for it). */
  heard(timestamp: string | undefined): void {
    this.framesSinceSessionStart += 1;
    if (timestamp !== undefined) this.latest = timestamp;
  }

  /** An agent session starts, first given the `waitingFrames` kept while it connected. */
  sessionStarted(waitingFrames: number): void {
    this.framesSinceSessionStart = waitingFrames;
  }

  /** The model's server VAD ended the caller's speech for `itemId` at `audioEndMs` of the session's input. */
  speechStopped(itemId: string, audioEndMs: number): void {
    const latestMs = this.latest === undefined ? Number.NaN : Date.parse(this.latest);
    if (Number.isNaN(latestMs) || !Number.isFinite(audioEndMs)) return;
    const heardMs = this.framesSinceSessionStart * FRAME_DURATION_MS;
    const endMs = latestMs + FRAME_DURATION_MS - Math.max(0, heardMs - audioEndMs);
    this.turnEnds.set(itemId, new Date(endMs).toISOString());
    if (this.turnEnds.size > MAX_PENDING_TURN_ENDS) this.turnEnds.delete(this.turnEnds.keys().next().value!);
  }

  /** The meta to store on the caller turn `itemId` (nothing when the frames carried no timestamps). */
  turnMeta(itemId: string | undefined): Record<string, JsonValue> {
    if (itemId === undefined) return {};
    const end = this.turnEnds.get(itemId);
    this.turnEnds.delete(itemId);
    return end === undefined ? {} : { [CALLER_AUDIO_END]: end };
  }
}

export type ReplayDecision =
  /** No caller turn persisted yet: everything kept is after it. */
  | { readonly kind: 'all' }
  /** Frames at or after `fromMs` (ACS stream time, epoch ms). */
  | { readonly kind: 'from'; readonly fromMs: number }
  /** The last caller turn has no position (written without timestamps): replaying could say it twice. */
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Where to replay from, given the persisted conversation. The recorded end is where the model's VAD
 * said the speech had stopped: the speech itself ended `vadSilenceMs` before, and the caller cannot
 * have started again before the stop. So replay starts `marginMs` after the speech's end and before
 * the stop: none of the persisted utterance is heard twice, and the next one is heard from its start.
 */
export function replayDecision(history: readonly Turn[], options: { readonly vadSilenceMs: number; readonly marginMs?: number }): ReplayDecision {
  for (let i = history.length - 1; i >= 0; i--) {
    const turn = history[i]!;
    if (turn.role !== 'user' || turn.meta?.via === 'dtmf') continue;
    const end = turn.meta?.[CALLER_AUDIO_END];
    const endMs = typeof end === 'string' ? Date.parse(end) : Number.NaN;
    if (Number.isNaN(endMs)) return { kind: 'none', reason: 'the last caller turn has no audio position' };
    return { kind: 'from', fromMs: endMs - options.vadSilenceMs + (options.marginMs ?? 100) };
  }
  return { kind: 'all' };
}

export type CallerAudioBufferLimits = {
  /** Caller audio kept, by stream time. @default 30 000 */
  readonly maxDurationMs?: number;
  /** Characters of frames kept (silent frames count as a few). @default 1 MiB */
  readonly maxChars?: number;
};

export const DEFAULT_STANDBY_BUFFER_MS = 30_000;
export const DEFAULT_STANDBY_BUFFER_CHARS = 1024 * 1024;

/** A kept frame: its stream time, and its text (or, for silence, the length of its base64 data). */
type Kept = { readonly atMs: number; readonly text: string | undefined; readonly silentChars: number; readonly timestamp: string | undefined };

const SILENT_COST_CHARS = 32;

/**
 * The caller's frames of one call as a standby hears them: AudioData and TranscriptionData (the
 * offline agents' text channel), bounded by duration and size, oldest dropped first. DTMF is not kept:
 * a tone replayed would key a digit twice.
 */
export class CallerAudioBuffer {
  private readonly frames: Kept[] = [];
  private head = 0;
  private chars = 0;
  private latestMs: number | undefined;
  private readonly maxDurationMs: number;
  private readonly maxChars: number;
  /** Frames dropped by the bounds, and frames refused (not a caller frame, or unreadable). */
  dropped = 0;
  refused = 0;

  constructor(limits: CallerAudioBufferLimits = {}) {
    this.maxDurationMs = limits.maxDurationMs ?? DEFAULT_STANDBY_BUFFER_MS;
    this.maxChars = limits.maxChars ?? DEFAULT_STANDBY_BUFFER_CHARS;
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  /** Characters held (the bound's measure). */
  get size(): number {
    return this.chars;
  }

  /** One text frame from `call.<id>.in`. Never throws: what cannot be kept is counted. */
  push(text: string): void {
    let frame;
    try {
      frame = parseMediaFrame(text);
    } catch {
      this.refused += 1;
      return;
    }
    if (frame.kind === 'AudioData') {
      const atMs = frame.timestamp === undefined ? Number.NaN : Date.parse(frame.timestamp);
      if (Number.isNaN(atMs)) {
        this.refused += 1;
        return;
      }
      this.latestMs = atMs;
      if (frame.silent) this.keep({ atMs, text: undefined, silentChars: frame.data.length, timestamp: frame.timestamp }, SILENT_COST_CHARS);
      else this.keep({ atMs, text, silentChars: 0, timestamp: frame.timestamp }, text.length);
    } else if (frame.kind === 'TranscriptionData') {
      // Said at the end of its utterance: placed at the latest audio frame's time.
      if (this.latestMs === undefined) return;
      this.keep({ atMs: this.latestMs, text, silentChars: 0, timestamp: undefined }, text.length);
    }
  }

  /**
   * The frames to replay (rebuilt silence included), oldest first. When the buffer does not reach back
   * to where the replay should start (the standby joined late, or the bounds dropped the oldest), it
   * may begin inside an utterance: that partial utterance is left out (up to the first silent frame),
   * since its tail alone would be heard as something else or nothing.
   */
  replay(decision: ReplayDecision): string[] {
    if (decision.kind === 'none') return [];
    const out: string[] = [];
    const zeros = new Map<number, string>();
    const oldest = this.frames[this.head];
    let partial = oldest !== undefined && (decision.kind === 'all' || oldest.atMs > decision.fromMs);
    for (let i = this.head; i < this.frames.length; i++) {
      const kept = this.frames[i]!;
      if (decision.kind === 'from' && kept.atMs < decision.fromMs) continue;
      if (partial) {
        if (kept.text !== undefined) continue;
        partial = false;
      }
      if (kept.text !== undefined) {
        out.push(kept.text);
        continue;
      }
      let data = zeros.get(kept.silentChars);
      if (data === undefined) {
        data = Buffer.alloc(Math.floor((kept.silentChars * 3) / 4)).toString('base64');
        zeros.set(kept.silentChars, data);
      }
      out.push(buildInboundAudioDataFrame({ data, silent: true, ...(kept.timestamp === undefined ? {} : { timestamp: kept.timestamp }) }));
    }
    return out;
  }

  private keep(kept: Kept, cost: number): void {
    this.frames.push(kept);
    this.chars += cost;
    const oldestAllowedMs = kept.atMs - this.maxDurationMs;
    while (this.head < this.frames.length && (this.chars > this.maxChars || this.frames[this.head]!.atMs < oldestAllowedMs)) {
      const oldest = this.frames[this.head]!;
      this.chars -= oldest.text === undefined ? SILENT_COST_CHARS : oldest.text.length;
      this.head += 1;
      this.dropped += 1;
    }
    // Compact now and then rather than shifting on every frame.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames.splice(0, this.head);
      this.head = 0;
    }
  }
}
