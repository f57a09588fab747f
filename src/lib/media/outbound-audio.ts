/**
 * Coalesces the agent's audio into larger AudioData messages. Every message the relay sends counts
 * against Web PubSub's inbound budget (send to small group: about 400 messages/s per unit), and ACS
 * sends the caller's 20 ms frames at 50 a second; one message per 20 ms model delta doubled that.
 *
 * ACS queues what it receives and plays it at real-time pace (the emulator's playout does the same,
 * whatever the message size), so a message may carry any whole number of 20 ms frames: the Learn
 * audio-streaming overview documents 64 KB data packets, and 200 ms at 24 kHz is 12.8 KB of base64.
 *
 * When to send, given how far ahead of the caller's ear ACS already is (`leadMs`, from the playback
 * tracker):
 * - a message is due when `maxMessageMs` are pending;
 * - or when at least `minMessageMs` are pending and ACS's lead has fallen to `lowWaterMs`;
 * - the first message of a response waits for `firstMessageMs` (a model that streams faster than real
 *   time fills it at once; one paced at real time pays that much once per response);
 * - once a response is playing, whatever is pending goes out before ACS runs dry (a model slower
 *   than real time gets small messages rather than gaps);
 * - the end of a response sends the rest.
 * Barge-in drops what is pending: it was never sent, so the caller never heard it, and the heard
 * position (tracked per message sent) stays exact.
 */

import { bytesForDurationMs, durationMsForBytes, FRAME_DURATION_MS } from './audio.js';

export type OutboundAudioOptions = {
  /** The call's ACS rate: messages are whole 20 ms frames at it. */
  readonly sampleRateHz: number;
  /** @default 200 */
  readonly maxMessageMs?: number;
  /** @default 120 */
  readonly minMessageMs?: number;
  /** @default 140 */
  readonly firstMessageMs?: number;
  /** @default 40 */
  readonly lowWaterMs?: number;
  /** Sends one AudioData message (base64 PCM at the call's rate) for the response's item. */
  readonly send: (base64: string, responseId: string, itemId: string, byteLength: number) => void;
  /** How many ms of sent audio ACS has yet to play, at `nowMs`. */
  readonly leadMs: (nowMs: number) => number;
  readonly now: () => number;
};

type Pending = { responseId: string; itemId: string; chunks: Buffer[]; bytes: number; started: boolean };

export class OutboundAudioCoalescer {
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly frame: number;
  private readonly maxBytes: number;
  private readonly minBytes: number;
  private readonly firstBytes: number;
  private readonly lowWaterMs: number;
  /** Messages sent, and the ms of audio they carried (for stats). */
  messages = 0;

  constructor(private readonly options: OutboundAudioOptions) {
    this.frame = bytesForDurationMs(FRAME_DURATION_MS, options.sampleRateHz);
    const frames = (ms: number): number => Math.max(1, Math.round(ms / FRAME_DURATION_MS)) * this.frame;
    this.maxBytes = frames(options.maxMessageMs ?? 200);
    this.minBytes = Math.min(this.maxBytes, frames(options.minMessageMs ?? 120));
    this.firstBytes = Math.min(this.maxBytes, frames(options.firstMessageMs ?? 140));
    this.lowWaterMs = options.lowWaterMs ?? 40;
  }

  /** ms of audio waiting to be sent. */
  get pendingMs(): number {
    return this.pending ? durationMsForBytes(this.pending.bytes, this.options.sampleRateHz) : 0;
  }

  /** Agent audio at the call's rate, as the model's deltas arrive. */
  push(pcm: Buffer, responseId: string, itemId: string): void {
    if (pcm.length === 0) return;
    if (this.pending && (this.pending.responseId !== responseId || this.pending.itemId !== itemId)) this.flush();
    this.pending ??= { responseId, itemId, chunks: [], bytes: 0, started: false };
    this.pending.chunks.push(pcm);
    this.pending.bytes += pcm.length;
    this.evaluate();
  }

  /** Sends everything pending (the response is done, or something else is about to play). */
  flush(): void {
    const pending = this.pending;
    if (!pending) return;
    while (pending.bytes > 0) this.sendUpTo(pending, this.maxBytes);
    this.pending = undefined;
    this.clearTimer();
  }

  /** Barge-in or close: what was not sent is never heard. */
  drop(): void {
    this.pending = undefined;
    this.clearTimer();
  }

  private evaluate(): void {
    const pending = this.pending;
    if (!pending) return;
    while (pending.bytes >= this.maxBytes) this.sendUpTo(pending, this.maxBytes);
    const lead = this.options.leadMs(this.options.now());
    if (!pending.started) {
      if (pending.bytes >= this.firstBytes) this.sendUpTo(pending, this.maxBytes);
    } else if (pending.bytes >= this.minBytes && lead <= this.lowWaterMs) {
      this.sendUpTo(pending, this.maxBytes);
    } else if (pending.bytes > 0 && lead <= 0) {
      // The model is slower than real time: send what there is rather than leave a gap.
      this.sendUpTo(pending, this.maxBytes);
    }
    this.schedule(pending);
  }

  /** Re-evaluates when ACS's lead reaches the low-water mark (no delta may arrive by then). */
  private schedule(pending: Pending): void {
    this.clearTimer();
    if (pending.bytes === 0 || !pending.started) return;
    const lead = this.options.leadMs(this.options.now());
    const waitMs = pending.bytes >= this.minBytes ? lead - this.lowWaterMs : lead;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.pending === pending) this.evaluate();
    }, Math.max(1, Math.ceil(waitMs)));
    this.timer.unref();
  }

  private sendUpTo(pending: Pending, limit: number): void {
    // Whole frames only, except the tail of a response (the model's last delta may be shorter).
    let size = Math.min(pending.bytes, limit);
    if (size > this.frame) size -= size % this.frame;
    const message = take(pending, size);
    pending.started = true;
    this.messages += 1;
    this.options.send(message.toString('base64'), pending.responseId, pending.itemId, message.length);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function take(pending: Pending, size: number): Buffer {
  const whole = pending.chunks.length === 1 ? (pending.chunks[0] as Buffer) : Buffer.concat(pending.chunks, pending.bytes);
  const message = whole.subarray(0, size);
  const rest = whole.subarray(size);
  pending.chunks = rest.length > 0 ? [rest] : [];
  pending.bytes = rest.length;
  return message;
}
