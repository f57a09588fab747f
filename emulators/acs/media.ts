import { EventEmitter } from 'node:events';
import { WebSocket, type RawData } from 'ws';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { bytesPerFrame, bytesToMs, FRAME_MS } from './audio.js';
import { PlayoutBuffer, type HeardAudio, type StopAudioRecord } from './playout.js';

/**
 * The media WebSocket as ACS drives it: ACS is the client. It connects to the app's `transportUrl`
 * with `Authorization: Bearer <media JWT>` and the `x-ms-call-*` headers, sends one AudioMetadata
 * frame, then one AudioData frame every 20 ms on a drift-free clock (ticks are scheduled against
 * absolute time, late ticks catch up), and plays the app's outbound audio at real-time pace.
 */

const MAX_CATCH_UP_FRAMES = 5;
const TICKS_PER_MS = 10_000;

export interface MediaSessionOptions {
  readonly transportUrl: string;
  readonly token: string;
  readonly callConnectionId: string;
  readonly correlationId: string;
  readonly subscriptionId: string;
  readonly sampleRate: 16000 | 24000;
  readonly bidirectional: boolean;
  readonly enableDtmf: boolean;
  /** Raw id of the caller, put on every AudioData frame as `participantRawID`. */
  readonly participantRawId: string;
  readonly sendAuthorizationHeader: boolean;
  readonly logger: Logger;
  readonly nowMs: () => number;
}

export interface MediaStats {
  framesSent: number;
  speechFramesSent: number;
  /** Ticks that fired after the next frame was already due (the event loop was busy). */
  lateTicks: number;
  /** Frames skipped because the loop stalled for more than MAX_CATCH_UP_FRAMES frames. */
  framesSkipped: number;
  maxLatenessMs: number;
  outboundFrames: number;
  outboundBytes: number;
  /** Outbound frames ignored because bidirectional streaming was not enabled. */
  outboundIgnored: number;
  unknownOutbound: number;
}

interface Utterance {
  readonly pcm: Buffer;
  offset: number;
  readonly transcript?: string;
  startTick?: number;
  startedAtMs?: number;
  readonly done: (timing: UtteranceTiming) => void;
}

/** When an utterance's first frame began and its last frame ended, on the `nowMs` clock (absent if the stream closed first). */
export interface UtteranceTiming {
  readonly startedAtMs?: number;
  readonly endedAtMs?: number;
}

interface MediaSessionEvents {
  agentAudioStart: [];
  agentAudioEnd: [];
  stopAudio: [];
  closed: [code: number, reason: string];
}

export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly stats: MediaStats = {
    framesSent: 0,
    speechFramesSent: 0,
    lateTicks: 0,
    framesSkipped: 0,
    maxLatenessMs: 0,
    outboundFrames: 0,
    outboundBytes: 0,
    outboundIgnored: 0,
    unknownOutbound: 0,
  };
  readonly playout: PlayoutBuffer;
  private readonly frameBytes: number;
  private readonly silence: Buffer;
  private readonly utterances: Utterance[] = [];
  private clockStartMs = 0;
  private clockStartEpochMs = 0;
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly socket: WebSocket,
    readonly options: MediaSessionOptions,
  ) {
    super();
    this.frameBytes = bytesPerFrame(options.sampleRate);
    this.silence = Buffer.alloc(this.frameBytes);
    this.playout = new PlayoutBuffer(options.sampleRate, options.nowMs);
    this.playout.on('start', () => this.emit('agentAudioStart'));
    this.playout.on('end', () => this.emit('agentAudioEnd'));
  }

  /** Connects to the transport URL; rejects when the server refuses the upgrade. */
  static connect(options: MediaSessionOptions, signal?: AbortSignal): Promise<MediaSession> {
    const headers: Record<string, string> = {
      'x-ms-call-correlation-id': options.correlationId,
      'x-ms-call-connection-id': options.callConnectionId,
    };
    if (options.sendAuthorizationHeader) headers.authorization = `Bearer ${options.token}`;
    const socket = new WebSocket(options.transportUrl, { headers, handshakeTimeout: 5_000 });
    return new Promise((resolve, reject) => {
      const onAbort = (): void => socket.terminate();
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('open', () => {
        signal?.removeEventListener('abort', onAbort);
        const session = new MediaSession(socket, options);
        session.start();
        resolve(session);
      });
      socket.once('unexpected-response', (_req, res) => {
        socket.terminate();
        reject(new Error(`Media transport refused the connection with HTTP ${res.statusCode ?? 0}`));
      });
      socket.once('error', (error) => reject(error));
    });
  }

  get sampleRate(): number {
    return this.options.sampleRate;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** The agent's audio is being played to the caller right now. */
  get agentSpeaking(): boolean {
    return this.playout.playing;
  }

  get heard(): readonly HeardAudio[] {
    return this.playout.heard;
  }

  get stopAudio(): readonly StopAudioRecord[] {
    return this.playout.stops;
  }

  /** Queues caller audio; resolves when its last frame went out (and its transcript, if any). */
  speak(pcm: Buffer, transcript?: string): Promise<UtteranceTiming> {
    if (this.closed) return Promise.resolve({});
    return new Promise((resolve) => this.utterances.push({ pcm, offset: 0, transcript, done: resolve }));
  }

  /** Sends a DtmfData frame (only when the app asked for DTMF tones in the media streaming options). */
  sendDtmf(tone: string): boolean {
    if (!this.options.enableDtmf || this.closed) return false;
    this.send({ kind: 'DtmfData', dtmfData: { data: tone } });
    return true;
  }

  close(code = 1000, reason = 'media streaming stopped'): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.playout.finish();
    for (const pending of this.utterances.splice(0)) pending.done({});
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    else this.socket.terminate();
  }

  private start(): void {
    this.socket.on('message', (data, isBinary) => this.onOutbound(data, isBinary));
    this.socket.on('close', (code, reason) => {
      const wasOpen = !this.closed;
      this.closed = true;
      clearTimeout(this.timer);
      this.playout.finish();
      for (const pending of this.utterances.splice(0)) pending.done({});
      if (wasOpen) this.emit('closed', code, reason.toString());
    });
    this.socket.on('error', (error) => this.options.logger.warn('ACS emulator: media socket error', { error }));
    this.send({
      kind: 'AudioMetadata',
      audioMetadata: {
        subscriptionId: this.options.subscriptionId,
        encoding: 'PCM',
        sampleRate: this.options.sampleRate,
        channels: 1,
        length: this.frameBytes,
      },
    });
    this.clockStartMs = performance.now();
    this.clockStartEpochMs = Date.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const dueAt = this.clockStartMs + (this.tick + 1) * FRAME_MS;
    this.timer = setTimeout(() => this.onTick(), Math.max(0, dueAt - performance.now()));
  }

  private onTick(): void {
    if (this.closed) return;
    const now = performance.now();
    let due = Math.floor((now - this.clockStartMs) / FRAME_MS) - this.tick;
    const latenessMs = now - (this.clockStartMs + (this.tick + 1) * FRAME_MS);
    this.stats.maxLatenessMs = Math.max(this.stats.maxLatenessMs, latenessMs);
    if (due > 1) this.stats.lateTicks += 1;
    if (due > MAX_CATCH_UP_FRAMES) {
      this.stats.framesSkipped += due - MAX_CATCH_UP_FRAMES;
      this.tick += due - MAX_CATCH_UP_FRAMES;
      due = MAX_CATCH_UP_FRAMES;
    }
    for (let i = 0; i < due && !this.closed; i += 1) {
      this.sendFrame();
      this.playout.drainFrame();
      this.tick += 1;
    }
    this.schedule();
  }

  private sendFrame(): void {
    const utterance = this.utterances[0];
    let data = this.silence;
    if (utterance) {
      utterance.startTick ??= this.tick;
      utterance.startedAtMs ??= this.frameTimeMs(this.tick);
      data = Buffer.alloc(this.frameBytes);
      utterance.pcm.copy(data, 0, utterance.offset, utterance.offset + this.frameBytes);
      utterance.offset += this.frameBytes;
      this.stats.speechFramesSent += 1;
    }
    this.send({
      kind: 'AudioData',
      audioData: {
        timestamp: new Date(this.clockStartEpochMs + this.tick * FRAME_MS).toISOString(),
        participantRawID: this.options.participantRawId,
        data: data.toString('base64'),
        silent: utterance === undefined,
      },
    });
    this.stats.framesSent += 1;
    if (utterance && utterance.offset >= utterance.pcm.length) {
      this.utterances.shift();
      if (utterance.transcript) this.sendTranscript(utterance);
      utterance.done({ ...(utterance.startedAtMs === undefined ? {} : { startedAtMs: utterance.startedAtMs }), endedAtMs: this.frameTimeMs(this.tick + 1) });
    }
  }

  /** Where frame `tick` begins in stream time, on the `nowMs` clock (a burst of late frames still covers its own 20 ms). */
  private frameTimeMs(tick: number): number {
    return this.clockStartMs + tick * FRAME_MS + (this.options.nowMs() - performance.now());
  }

  /** The text channel for offline agents: a TranscriptionData frame (a kind the SDK's StreamingData parses). */
  private sendTranscript(utterance: Utterance): void {
    const offsetMs = (utterance.startTick ?? this.tick) * FRAME_MS;
    const durationMs = bytesToMs(utterance.pcm.length, this.options.sampleRate);
    const words = (utterance.transcript ?? '').split(/\s+/).filter(Boolean);
    const perWordMs = durationMs / Math.max(1, words.length);
    this.send({
      kind: 'TranscriptionData',
      transcriptionData: {
        text: utterance.transcript,
        format: 'display',
        confidence: 0.95,
        offset: offsetMs * TICKS_PER_MS,
        duration: durationMs * TICKS_PER_MS,
        words: words.map((text, i) => ({ text, offset: (offsetMs + i * perWordMs) * TICKS_PER_MS, duration: perWordMs * TICKS_PER_MS })),
        participantRawID: this.options.participantRawId,
        resultStatus: 'Final',
      },
    });
  }

  private send(message: unknown): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private onOutbound(data: RawData, isBinary: boolean): void {
    const message = parseOutbound(data, isBinary);
    if (!message) {
      this.stats.unknownOutbound += 1;
      return;
    }
    if (!this.options.bidirectional) {
      this.stats.outboundIgnored += 1;
      return;
    }
    if (message.kind === 'audiodata') {
      this.stats.outboundFrames += 1;
      this.stats.outboundBytes += message.pcm.length;
      this.playout.enqueue(message.pcm);
    } else {
      this.playout.stop();
      this.emit('stopAudio');
    }
  }
}

type OutboundMessage = { kind: 'audiodata'; pcm: Buffer } | { kind: 'stopaudio' };

/** ACS reads outbound keys case-insensitively (`kind`/`Kind`, `audioData`/`AudioData`, `data`/`Data`). */
export function parseOutbound(data: RawData, isBinary: boolean): OutboundMessage | undefined {
  if (isBinary) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
  } catch {
    return undefined;
  }
  const kind = field(parsed, 'kind');
  if (typeof kind !== 'string') return undefined;
  switch (kind.toLowerCase()) {
    case 'audiodata': {
      const payload = field(field(parsed, 'audioData'), 'data');
      return typeof payload === 'string' ? { kind: 'audiodata', pcm: Buffer.from(payload, 'base64') } : undefined;
    }
    case 'stopaudio':
      return { kind: 'stopaudio' };
    default:
      return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const wanted = name.toLowerCase();
  for (const [key, inner] of Object.entries(value)) if (key.toLowerCase() === wanted) return inner;
  return undefined;
}
