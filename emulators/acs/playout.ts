import { EventEmitter } from 'node:events';
import { bytesPerFrame, bytesToMs } from './audio.js';

/**
 * The phone's side of the agent's audio: a jitter buffer that the media clock drains by one 20 ms
 * frame per tick, so a burst sent at once is heard at real-time pace. Records what was actually
 * heard (contiguous segments) and what each StopAudio threw away.
 *
 * Like a phone's jitter buffer it conceals a late frame: the agent is still speaking while the buffer
 * has been dry for fewer than `UNDERRUN_GRACE_FRAMES` ticks, so audio paced in real time over a busy
 * network (or a busy machine) is one segment, not many.
 */

/** Dry ticks (20 ms each) a segment survives before the agent counts as silent. */
export const UNDERRUN_GRACE_FRAMES = 5;

export interface HeardAudio {
  /** When the first frame of this segment started playing (emulator clock, ms). */
  readonly startedAtMs: number;
  /** When playback of the segment ended (buffer ran dry, StopAudio, or the stream closed). */
  endedAtMs?: number;
  bytes: number;
  ms: number;
  stoppedByStopAudio: boolean;
}

export interface StopAudioRecord {
  readonly atMs: number;
  readonly clearedBytes: number;
  readonly clearedMs: number;
  /** Whether the agent was audible when StopAudio arrived. */
  readonly wasPlaying: boolean;
}

export class PlayoutBuffer extends EventEmitter {
  readonly heard: HeardAudio[] = [];
  readonly stops: StopAudioRecord[] = [];
  private readonly chunks: Buffer[] = [];
  private headOffset = 0;
  private buffered = 0;
  private current: HeardAudio | undefined;
  /** Consecutive ticks the current segment found the buffer dry. */
  private dryTicks = 0;
  /** When the current segment's last audio frame finished playing. */
  private lastAudioEndMs = 0;
  private readonly frameBytes: number;

  constructor(
    private readonly sampleRate: number,
    private readonly nowMs: () => number,
  ) {
    super();
    this.frameBytes = bytesPerFrame(sampleRate);
  }

  get playing(): boolean {
    return this.current !== undefined;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  get bufferedMs(): number {
    return bytesToMs(this.buffered, this.sampleRate);
  }

  get heardMs(): number {
    return this.heard.reduce((sum, h) => sum + h.ms, 0);
  }

  get heardBytes(): number {
    return this.heard.reduce((sum, h) => sum + h.bytes, 0);
  }

  enqueue(pcm: Buffer): void {
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.buffered += pcm.length;
  }

  /** One clock tick: 20 ms of buffered audio reaches the caller's ear. */
  drainFrame(): void {
    if (this.buffered === 0) {
      if (this.current && ++this.dryTicks >= UNDERRUN_GRACE_FRAMES) this.endSegment(false);
      return;
    }
    this.dryTicks = 0;
    let wanted = Math.min(this.frameBytes, this.buffered);
    const taken = wanted;
    while (wanted > 0) {
      const head = this.chunks[0] as Buffer;
      const available = head.length - this.headOffset;
      const take = Math.min(available, wanted);
      this.headOffset += take;
      wanted -= take;
      if (this.headOffset >= head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.buffered -= taken;
    if (!this.current) {
      this.current = { startedAtMs: this.nowMs(), bytes: 0, ms: 0, stoppedByStopAudio: false };
      this.heard.push(this.current);
      this.emit('start');
    }
    this.current.bytes += taken;
    this.current.ms = bytesToMs(this.current.bytes, this.sampleRate);
    this.lastAudioEndMs = this.nowMs() + bytesToMs(taken, this.sampleRate);
  }

  /** StopAudio: everything not yet played is dropped at once. */
  stop(): void {
    this.stops.push({
      atMs: this.nowMs(),
      clearedBytes: this.buffered,
      clearedMs: bytesToMs(this.buffered, this.sampleRate),
      wasPlaying: this.playing,
    });
    this.chunks.length = 0;
    this.headOffset = 0;
    this.buffered = 0;
    this.endSegment(true);
  }

  /** The stream closed: whatever is buffered is never heard. */
  finish(): void {
    this.chunks.length = 0;
    this.headOffset = 0;
    this.buffered = 0;
    this.endSegment(false);
  }

  private endSegment(byStopAudio: boolean): void {
    // In an underrun the agent's audio ended with the last frame played, not when the wait gave up.
    const endedAtMs = this.dryTicks > 0 ? this.lastAudioEndMs : this.nowMs();
    this.dryTicks = 0;
    if (!this.current) return;
    this.current.endedAtMs = endedAtMs;
    this.current.stoppedByStopAudio = byStopAudio;
    this.current = undefined;
    this.emit('end');
  }
}
