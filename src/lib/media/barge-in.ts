/**
 * Barge-in as pure logic. The relay tells the tracker which agent audio it sent to ACS and when; ACS
 * plays it at real-time pace (20 ms frames, queued), so the tracker can tell at any moment how much of
 * each agent item the caller has actually heard. When the caller starts speaking while agent audio is
 * still playing, `onCallerSpeechStarted` returns what to do: send StopAudio, cancel the response, and
 * truncate the agent item at the heard position, with the transcript cut to match.
 *
 * Nothing here does I/O or reads a clock of its own: every method takes `atMs` (a monotonic
 * millisecond clock such as `performance.now()`), which keeps the arithmetic testable.
 */

import { STOP_AUDIO_FRAME } from './codec.js';
import { durationMsForBytes } from './audio.js';

export type WordTiming = { readonly word: string; readonly startMs: number; readonly endMs: number };

export type BargeInDecision = {
  /** The frame to send to ACS at once so it drops the agent audio it has queued. */
  readonly stopAudioFrame: string;
  /** The response to cancel, when it is still being generated. */
  readonly responseIdToCancel: string | undefined;
  readonly responseId: string;
  readonly itemId: string;
  /** Agent audio the caller actually heard from this item: the `audio_end_ms` for the truncate. */
  readonly audioEndMs: number;
  /** Agent audio of this item that had reached ACS. */
  readonly audioSentMs: number;
  readonly heardTranscript: string;
  readonly fullTranscript: string;
  readonly atMs: number;
};

export type PlaybackTrackerOptions = {
  /** Sample rate of the agent audio sent to ACS. */
  readonly sampleRateHz: number;
  /**
   * Delay between sending a frame and ACS starting to play it (network + ACS jitter buffer).
   * @default 0
   */
  readonly playbackDelayMs?: number;
};

type Segment = { startMs: number; durationMs: number };

type ItemPlayback = {
  readonly responseId: string;
  readonly itemId: string;
  segments: Segment[];
  sentMs: number;
  transcript: string;
  words: WordTiming[] | undefined;
  responseDone: boolean;
};

/** Tracks agent audio sent vs. played for one call and decides barge-ins. */
export class PlaybackTracker {
  private readonly sampleRateHz: number;
  private readonly playbackDelayMs: number;
  private readonly items = new Map<string, ItemPlayback>();
  private readonly interrupted = new Set<string>();
  private current: ItemPlayback | undefined;
  /** When ACS will have played everything sent so far. */
  private playheadFreeAtMs = 0;
  private count = 0;

  constructor(options: PlaybackTrackerOptions) {
    this.sampleRateHz = options.sampleRateHz;
    this.playbackDelayMs = options.playbackDelayMs ?? 0;
  }

  /** Barge-ins so far on this call (for analytics). */
  get bargeInCount(): number {
    return this.count;
  }

  /**
   * Whether audio of this response should still go to ACS; false once it was interrupted (deltas keep
   * arriving from the model for a moment after a cancel).
   */
  shouldForward(responseId: string): boolean {
    return !this.interrupted.has(responseId);
  }

  /** Records agent audio handed to ACS at `atMs`. */
  onAgentAudioSent(responseId: string, itemId: string, byteLength: number, atMs: number): void {
    const item = this.item(responseId, itemId);
    const durationMs = durationMsForBytes(byteLength, this.sampleRateHz);
    const startMs = Math.max(atMs + this.playbackDelayMs, this.playheadFreeAtMs);
    const last = item.segments[item.segments.length - 1];
    if (last !== undefined && last.startMs + last.durationMs === startMs) last.durationMs += durationMs;
    else item.segments.push({ startMs, durationMs });
    item.sentMs += durationMs;
    this.playheadFreeAtMs = startMs + durationMs;
  }

  onAgentTranscriptDelta(responseId: string, itemId: string, delta: string): void {
    this.item(responseId, itemId).transcript += delta;
  }

  /** Replaces the transcript (e.g. on the final transcript event), optionally with word timings. */
  setAgentTranscript(responseId: string, itemId: string, transcript: string, words?: WordTiming[]): void {
    const item = this.item(responseId, itemId);
    item.transcript = transcript;
    item.words = words;
  }

  /** The model finished generating this response: a barge-in then needs no cancel. */
  onResponseDone(responseId: string): void {
    for (const item of this.items.values()) if (item.responseId === responseId) item.responseDone = true;
  }

  /** Whether the caller is hearing agent audio at `atMs`. */
  isAgentAudible(atMs: number): boolean {
    return this.current !== undefined && atMs < this.playheadFreeAtMs;
  }

  /** Milliseconds of audio sent that ACS has still to play at `atMs` (how far ahead of the caller's ear it is). */
  leadMs(atMs: number): number {
    return Math.max(0, this.playheadFreeAtMs - atMs);
  }

  /** Milliseconds of the item's audio the caller has heard by `atMs`. */
  heardMs(itemId: string, atMs: number): number {
    const item = this.items.get(itemId);
    return item === undefined ? 0 : heardOf(item, atMs);
  }

  /**
   * The caller started speaking. Returns the barge-in to carry out, or undefined when no agent audio
   * is playing (nothing to interrupt).
   */
  onCallerSpeechStarted(atMs: number): BargeInDecision | undefined {
    const item = this.current;
    if (item === undefined || !this.isAgentAudible(atMs)) return undefined;
    const audioEndMs = Math.floor(heardOf(item, atMs));
    this.count += 1;
    this.interrupted.add(item.responseId);
    this.playheadFreeAtMs = atMs; // ACS drops its queue on StopAudio
    this.current = undefined;
    return {
      stopAudioFrame: STOP_AUDIO_FRAME,
      responseIdToCancel: item.responseDone ? undefined : item.responseId,
      responseId: item.responseId,
      itemId: item.itemId,
      audioEndMs,
      audioSentMs: item.sentMs,
      heardTranscript: truncateTranscript(item.transcript, audioEndMs, item.sentMs, item.words),
      fullTranscript: item.transcript,
      atMs,
    };
  }

  /** Forgets items that finished playing before `atMs`, keeping memory bounded on long calls. */
  prune(atMs: number): void {
    for (const [itemId, item] of this.items) {
      if (item !== this.current && item.responseDone && endOf(item) <= atMs) this.items.delete(itemId);
    }
    if (this.interrupted.size > 64) this.interrupted.clear();
  }

  private item(responseId: string, itemId: string): ItemPlayback {
    let item = this.items.get(itemId);
    if (item === undefined) {
      item = { responseId, itemId, segments: [], sentMs: 0, transcript: '', words: undefined, responseDone: false };
      this.items.set(itemId, item);
    }
    this.current = item;
    return item;
  }
}

function heardOf(item: ItemPlayback, atMs: number): number {
  let heard = 0;
  for (const segment of item.segments) heard += Math.min(segment.durationMs, Math.max(0, atMs - segment.startMs));
  return heard;
}

function endOf(item: ItemPlayback): number {
  const last = item.segments[item.segments.length - 1];
  return last === undefined ? 0 : last.startMs + last.durationMs;
}

/**
 * The part of an agent transcript the caller heard. With word timings, the words that started before
 * `heardMs`; without, a share of the text proportional to `heardMs / totalMs`, cut back to a whole word.
 */
export function truncateTranscript(
  transcript: string,
  heardMs: number,
  totalMs: number,
  words?: readonly WordTiming[],
): string {
  if (words !== undefined && words.length > 0) {
    return words
      .filter((w) => w.startMs < heardMs)
      .map((w) => w.word)
      .join(' ');
  }
  if (totalMs <= 0 || heardMs <= 0) return '';
  if (heardMs >= totalMs) return transcript.trim();
  const cut = Math.round((transcript.length * heardMs) / totalMs);
  // Keep the word the cut falls in only if more than half of it was heard.
  let end = cut;
  if (cut < transcript.length && /\S/.test(transcript.charAt(cut))) {
    const wordStart = transcript.lastIndexOf(' ', cut) + 1;
    const nextSpace = transcript.indexOf(' ', cut);
    const wordEnd = nextSpace === -1 ? transcript.length : nextSpace;
    end = cut - wordStart > (wordEnd - wordStart) / 2 ? wordEnd : wordStart;
  }
  return transcript.slice(0, end).trim();
}
