/**
 * Relay turns as the caller hears them, observed from the two seams a call's bridge is built with —
 * its agent session factory and its group sender — so the bridge itself is untouched.
 *
 * Time to first audio runs from the end of the caller's speech to the first agent audio frame sent
 * to ACS. The end of speech is where the model's VAD put it (`speech_stopped.audio_end_ms`, a position
 * in the audio the relay appended, minus the silence window it includes), mapped back to the moment
 * the relay received that audio. Stages beside it: `vad` (end of speech → the VAD event),
 * `model` (VAD event → first audio from the model), `relay` (→ the frame handed to Web PubSub).
 *
 * Also counted here: Web PubSub messages out (every frame) and barge-ins (each StopAudio sent).
 */

import { ATTR, startSpan, type Span } from './tracing.js';
import { countBargeIn, countWebPubSubMessages, recordFirstAudio, recordStage } from './metrics.js';

/** The agent session surface observed (structurally the relay's `AgentSessionLike`). */
interface ObservedSession {
  appendAudio(base64Pcm24k: string): void;
}

interface ObservedTurn {
  readonly role: string;
  readonly responseId?: string;
  readonly timings: { readonly ttfaMs?: number };
}

interface ObservedHandlers {
  onAudioDelta?(base64: string, responseId: string, itemId: string): void;
  onSpeechStopped?(event: { readonly itemId: string; readonly audioEndMs: number }): void;
  onTurnCompleted?(turn: never): void;
}

type Factory<S extends ObservedSession, R extends { readonly handlers: ObservedHandlers }> = (request: R) => Promise<S>;

const AUDIO_FRAME_PREFIX = '{"kind":"AudioData"';
const STOP_AUDIO_PREFIX = '{"kind":"StopAudio"';
/** 24 kHz, 16-bit mono: bytes per millisecond of agent-format audio. */
const BYTES_PER_MS = 48;
/** Appends remembered for mapping audio positions to wall time: about 10 s of 20 ms frames. */
const CLOCK_ENTRIES = 512;

/** Maps positions in the audio appended to one agent session to when it was appended. */
class InputClock {
  private audioMs = 0;
  private readonly ends = new Float64Array(CLOCK_ENTRIES);
  private readonly walls = new Float64Array(CLOCK_ENTRIES);
  private next = 0;
  private size = 0;

  appended(base64: string, atEpochMs: number): void {
    const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
    this.audioMs += ((base64.length * 3) / 4 - padding) / BYTES_PER_MS;
    this.ends[this.next] = this.audioMs;
    this.walls[this.next] = atEpochMs;
    this.next = (this.next + 1) % CLOCK_ENTRIES;
    this.size = Math.min(this.size + 1, CLOCK_ENTRIES);
  }

  /** When the audio at `positionMs` had arrived (the first append reaching it); undefined if forgotten. */
  wallTimeOf(positionMs: number): number | undefined {
    let found: number | undefined;
    for (let i = 1; i <= this.size; i += 1) {
      const at = (this.next - i + CLOCK_ENTRIES) % CLOCK_ENTRIES;
      if (this.ends[at]! < positionMs) break;
      found = this.walls[at]!;
    }
    return found;
  }
}

interface PendingTurn {
  readonly turnId: string;
  readonly speechEndedAt: number;
  readonly vadAt: number;
  modelAudioAt: number | undefined;
  responseId: string | undefined;
}

/** Caller-side times to first audio by response id, until the response's turn is reported. */
const MAX_REMEMBERED = 8;

export interface RelayCallTelemetry {
  /** Wraps the factory so each session's input clock, VAD events and first audio are observed. */
  agent<S extends ObservedSession, R extends { readonly handlers: ObservedHandlers }>(factory: Factory<S, R>): Factory<S, R>;
  /** Wraps the call's sender: first audio after the end of speech, StopAudio, message counts. */
  send(sender: (group: string, frame: string) => void): (group: string, frame: string) => void;
}

export interface RelayCallTelemetryOptions {
  /**
   * The server VAD's silence window: `speech_stopped.audio_end_ms` includes it (the end of the audio
   * the VAD had when it decided), so the caller's last word was this much earlier.
   */
  readonly vadSilenceMs: number;
  readonly now?: () => number;
}

export function relayCallTelemetry(callId: string, workerId: string, options: RelayCallTelemetryOptions): RelayCallTelemetry {
  const now = options.now ?? Date.now;
  let clock = new InputClock();
  let pending: PendingTurn | undefined;
  const callerTtfa = new Map<string, number>();
  const attributes = { [ATTR.path]: 'relay' };

  const onSpeechStopped = (event: { itemId: string; audioEndMs: number }) => {
    const vadAt = now();
    const speechEndedAt = clock.wallTimeOf(Math.max(0, event.audioEndMs - options.vadSilenceMs)) ?? vadAt - options.vadSilenceMs;
    pending = { turnId: event.itemId, speechEndedAt: Math.min(speechEndedAt, vadAt), vadAt, modelAudioAt: undefined, responseId: undefined };
  };

  const firstAudioSent = (turn: PendingTurn) => {
    const sentAt = now();
    const ttfaMs = sentAt - turn.speechEndedAt;
    recordFirstAudio(ttfaMs, attributes);
    if (turn.responseId !== undefined) {
      callerTtfa.set(turn.responseId, ttfaMs);
      if (callerTtfa.size > MAX_REMEMBERED) callerTtfa.delete(callerTtfa.keys().next().value!);
    }
    const stages: [string, number][] = [['vad', turn.vadAt - turn.speechEndedAt]];
    if (turn.modelAudioAt !== undefined) stages.push(['model', turn.modelAudioAt - turn.vadAt], ['relay', sentAt - turn.modelAudioAt]);
    const span: Span = startSpan('relay turn', {
      callId,
      startTime: turn.speechEndedAt,
      attributes: { [ATTR.turnId]: turn.turnId, [ATTR.path]: 'relay', [ATTR.workerId]: workerId, 'rtvoice.turn.first_audio_ms': Math.round(ttfaMs) },
    });
    for (const [stage, ms] of stages) {
      recordStage(stage, ms, attributes);
      span.setAttribute(`rtvoice.stage.${stage}_ms`, Math.round(ms));
    }
    span.addEvent('vad speech_stopped', turn.vadAt);
    if (turn.modelAudioAt !== undefined) span.addEvent('model first audio', turn.modelAudioAt);
    span.end(sentAt);
  };

  return {
    agent(factory) {
      return async (request) => {
        const handlers = request.handlers;
        // A new session has its own input audio clock (positions restart at 0).
        const sessionClock = new InputClock();
        clock = sessionClock;
        const observed: ObservedHandlers = {
          ...handlers,
          onSpeechStopped: (event) => {
            onSpeechStopped(event);
            handlers.onSpeechStopped?.(event);
          },
          onAudioDelta: (base64, responseId, itemId) => {
            if (pending && pending.modelAudioAt === undefined) {
              pending.modelAudioAt = now();
              pending.responseId = responseId;
            }
            handlers.onAudioDelta?.(base64, responseId, itemId);
          },
          // The stored turn's `ttfaMs` becomes the caller's wait (last word → first frame sent); the
          // model's own (speech_stopped → first audio delta) is the `model` stage beside it.
          onTurnCompleted: (turn: never) => {
            const observed = turn as ObservedTurn;
            const waited = observed.role === 'agent' && observed.responseId !== undefined ? callerTtfa.get(observed.responseId) : undefined;
            if (waited === undefined) {
              handlers.onTurnCompleted?.(turn);
              return;
            }
            callerTtfa.delete(observed.responseId!);
            handlers.onTurnCompleted?.({ ...observed, timings: { ...observed.timings, ttfaMs: waited } } as never);
          },
        };
        const session = await factory({ ...request, handlers: observed });
        const append = session.appendAudio.bind(session);
        session.appendAudio = (base64: string) => {
          sessionClock.appended(base64, now());
          append(base64);
        };
        return session;
      };
    },
    send(sender) {
      return (group, frame) => {
        sender(group, frame);
        countWebPubSubMessages('out');
        if (frame.startsWith(AUDIO_FRAME_PREFIX)) {
          const turn = pending;
          if (turn) {
            pending = undefined;
            firstAudioSent(turn);
          }
        } else if (frame.startsWith(STOP_AUDIO_PREFIX)) {
          countBargeIn(attributes);
        }
      };
    },
  };
}

/** Inbound media messages of a relay (counted per batch by the caller, not per frame). */
export function countInboundMessages(count: number): void {
  if (count > 0) countWebPubSubMessages('in', count);
}
