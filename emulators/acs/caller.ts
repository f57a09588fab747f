import { setTimeout as sleep } from 'node:timers/promises';
import { speechDurationMs, speechLikePcm } from './audio.js';
import type { EmulatedCall, RestRecord } from './call.js';
import type { SentEvent } from './callbacks.js';
import { CallerScriptError } from './errors.js';
import type { EventGridSender, IncomingCallInput } from './event-grid.js';
import type { MediaStats } from './media.js';
import type { StopAudioRecord } from './playout.js';

/**
 * A caller described as data. It rings the app through Event Grid, waits to be answered, then
 * walks its steps against whatever the app does:
 *
 * - without media streaming (play/recognize mode) a `say` answers the running recognize with a
 *   RecognizeCompleted (`recognitionType: 'speech'`), `dtmf` with a DTMF result, `silence` lets
 *   the recognize time out (RecognizeFailed 8510); plays are "heard" as text;
 * - with media streaming a `say` streams speech-like PCM (shaped noise) on the media socket,
 *   followed by a `TranscriptionData` frame whose `text` is what was said: the text channel an
 *   offline agent reads instead of running speech recognition; the agent's audio is heard at
 *   real-time pace and StopAudio is recorded.
 */

export type CallerStep =
  | { readonly waitFor: 'greeting' | 'agentSilence'; readonly timeoutMs?: number; readonly quietMs?: number }
  | { readonly say: string; readonly audioMs?: number; readonly timeoutMs?: number; readonly bargeInAfterMs?: undefined }
  | { readonly bargeInAfterMs: number; readonly say: string; readonly audioMs?: number; readonly timeoutMs?: number }
  | { readonly dtmf: string; readonly timeoutMs?: number }
  | { readonly pause: number }
  | { readonly silence: true; readonly timeoutMs?: number }
  | { readonly hangUp: true };

/** What the person on the phone does; for an outbound call (the app dials) this is the whole script. */
export interface CalleeScript {
  /** A list, or steps arriving as they are decided (an interactive caller). */
  readonly steps: readonly CallerStep[] | AsyncIterable<CallerStep>;
  /** Transfers of this call fail with CallTransferFailed instead of being accepted. */
  readonly failTransfer?: boolean;
  /** Deliver this call's callbacks twice (same event ids). */
  readonly duplicateCallbacks?: boolean;
  /**
   * Post each callback as soon as it happens, without waiting for the app to acknowledge the earlier
   * ones, as ACS does: a `CallDisconnected` then reaches the app while it is still handling a turn.
   */
  readonly overlappingCallbacks?: boolean;
}

export interface CallerScript extends IncomingCallInput, CalleeScript {}

export interface RunOptions {
  /** The person hangs up after this long whatever happens. @default 60000 */
  readonly maxDurationMs?: number;
  readonly signal?: AbortSignal;
}

export interface PlaceCallOptions extends RunOptions {
  /** Where the IncomingCall event is POSTed (the app's Event Grid webhook). */
  readonly eventGridUrl: string;
  /** @default 10000 */
  readonly answerTimeoutMs?: number;
  /**
   * Event Grid's redelivery of an IncomingCall the webhook did not accept, in ms after the first
   * attempt, while the phone still rings (`answerTimeoutMs`). Event Grid's documented schedule starts
   * 10 s, 30 s, 1 min, 5 min… and never retries 400, 401, 403 or 413; it adds a small random spread,
   * left out here so runs repeat. `[]` turns redelivery off. @default EVENT_GRID_RETRY_SCHEDULE_MS
   */
  readonly eventGridRetryMs?: readonly number[];
}

/** Event Grid's retry schedule (delivery-and-retry on Microsoft Learn), cumulative from the first attempt. */
export const EVENT_GRID_RETRY_SCHEDULE_MS: readonly number[] = [10_000, 40_000, 100_000, 400_000];

/** Statuses after which Event Grid drops (or dead-letters) a webhook delivery instead of retrying. */
const EVENT_GRID_NO_RETRY = new Set([400, 401, 403, 413]);

export type HeardItem =
  | { readonly kind: 'play'; readonly atMs: number; readonly text: string; readonly durationMs: number; readonly heardMs: number; readonly outcome: string; readonly prompt: boolean }
  | { readonly kind: 'audio'; readonly atMs: number; readonly endedAtMs?: number; readonly ms: number; readonly bytes: number; readonly stoppedByStopAudio: boolean };

export interface SaidItem {
  readonly atMs: number;
  /** On the media socket: when the utterance's last frame ended (`atMs` is when its first began). */
  readonly endedAtMs?: number;
  readonly text?: string;
  readonly tones?: string;
  /** How it reached the app: a recognize result, the media socket, or nobody listened. */
  readonly via: 'recognize' | 'media' | 'unheard';
}

export interface CallRecording {
  readonly callConnectionId?: string;
  readonly serverCallId: string;
  /** Status the app's Event Grid webhook answered the IncomingCall with (inbound calls only). */
  readonly incomingCallStatus?: number;
  readonly answered: boolean;
  /** Everything the caller heard, in order. */
  readonly heard: HeardItem[];
  /** Texts of the plays heard (fully or partly). */
  readonly heardText: string[];
  readonly heardAudioMs: number;
  readonly stopAudio: StopAudioRecord[];
  readonly said: SaidItem[];
  /** Every REST request the app made on this call, in order. */
  readonly requests: RestRecord[];
  readonly operations: string[];
  readonly events: SentEvent[];
  readonly eventTypes: string[];
  readonly endedBy: 'app' | 'caller' | 'transfer' | 'timeout' | 'unanswered';
  /** Steps that timed out or found nobody listening. */
  readonly notes: string[];
  readonly media?: { readonly sampleRate: number; readonly stats: MediaStats };
  readonly durationMs: number;
}

interface Host {
  callByServerCallId(serverCallId: string): EmulatedCall | undefined;
  nowMs(): number;
}

const POLL_MS = 5;

export async function placeScriptedCall(host: Host, eventGrid: EventGridSender, script: CallerScript, options: PlaceCallOptions): Promise<CallRecording> {
  const startedAtMs = host.nowMs();
  let delivery = await eventGrid.sendIncomingCall(options.eventGridUrl, script);
  const notes: string[] = [];
  const answerDeadline = host.nowMs() + (options.answerTimeoutMs ?? 10_000);
  const retries = [...(options.eventGridRetryMs ?? EVENT_GRID_RETRY_SCHEDULE_MS)];
  let call: EmulatedCall | undefined;
  while (!call && host.nowMs() < answerDeadline && !options.signal?.aborted) {
    call = host.callByServerCallId(delivery.serverCallId);
    if (call) break;
    const accepted = delivery.status >= 200 && delivery.status < 300;
    const nextRetryAtMs = retries[0] === undefined ? undefined : startedAtMs + retries[0];
    if (!accepted && !EVENT_GRID_NO_RETRY.has(delivery.status) && nextRetryAtMs !== undefined && host.nowMs() >= nextRetryAtMs) {
      retries.shift();
      const retried = await eventGrid.redeliver(options.eventGridUrl, delivery.eventId);
      notes.push(`IncomingCall redelivered by Event Grid after status ${delivery.status}; now ${retried.status}`);
      delivery = { ...delivery, ...retried };
      continue;
    }
    await sleep(POLL_MS);
  }
  if (!call) {
    notes.push(`not answered within ${options.answerTimeoutMs ?? 10_000} ms (IncomingCall status ${delivery.status})`);
    return emptyRecording(delivery.serverCallId, delivery.status, notes, host.nowMs() - startedAtMs);
  }
  return runScript(host, call, script, options, { startedAtMs, incomingCallStatus: delivery.status, notes });
}

/** Plays a script through a call that exists already (answered inbound, or created by the app). */
export async function runScript(
  host: Host,
  call: EmulatedCall,
  script: CalleeScript,
  options: RunOptions,
  context: { startedAtMs?: number; incomingCallStatus?: number; notes?: string[] } = {},
): Promise<CallRecording> {
  const startedAtMs = context.startedAtMs ?? host.nowMs();
  const notes = context.notes ?? [];
  const said: SaidItem[] = [];
  if (script.failTransfer) call.failTransfers = true;
  if (script.duplicateCallbacks) call.duplicateCallbacks = true;
  if (script.overlappingCallbacks) call.overlappingCallbacks = true;
  const runner = new StepRunner(call, host, notes, said, options.signal);
  const maxTimer = setTimeout(() => runner.timeOut(), options.maxDurationMs ?? 60_000);
  try {
    await runner.run(script.steps);
  } finally {
    clearTimeout(maxTimer);
  }
  await call.callbacksSettled();
  return recordingOf(call, context.incomingCallStatus, notes, said, runner.timedOut, host.nowMs() - startedAtMs);
}

class StepRunner {
  timedOut = false;
  private readonly ended: Promise<void>;
  private readonly abort = new AbortController();
  private lastSpeakingAtMs = 0;

  constructor(
    private readonly call: EmulatedCall,
    private readonly host: Host,
    private readonly notes: string[],
    private readonly said: SaidItem[],
    signal?: AbortSignal,
  ) {
    this.ended = call.isActive ? new Promise((resolve) => call.once('ended', () => resolve())) : Promise.resolve();
    void this.ended.then(() => this.abort.abort());
    signal?.addEventListener('abort', () => this.timeOut(), { once: true });
  }

  timeOut(): void {
    if (!this.call.isActive) return;
    this.timedOut = true;
    this.notes.push('the call hit its maximum duration; the caller hung up');
    this.call.hangUpByCaller();
  }

  async run(steps: readonly CallerStep[] | AsyncIterable<CallerStep>): Promise<void> {
    await this.noting(() => this.until(() => this.call.state !== 'connecting', 10_000, 'the call never connected'));
    if (this.call.mediaStreaming?.startMediaStreaming === true) {
      const streamingSettled = (): boolean => this.call.media !== undefined || this.call.events.some((e) => e.type === 'MediaStreamingFailed');
      await this.noting(() => this.until(streamingSettled, 5_000, 'media streaming never started'));
    }
    const iterator = Symbol.asyncIterator in steps ? steps[Symbol.asyncIterator]() : steps[Symbol.iterator]();
    const ended = this.ended.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        if (!this.call.isActive) break;
        // A step still being decided (typed) must not keep the runner past the end of the call.
        const next = await Promise.race([iterator.next(), ended]);
        if (next.done) break;
        await this.noting(() => this.step(next.value));
      }
    } finally {
      await iterator.return?.();
    }
    await this.ended;
  }

  /** A step that cannot complete is noted in the recording; the script goes on. */
  private async noting(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof CallerScriptError)) throw error;
      this.notes.push(error.message);
    }
  }

  private async step(step: CallerStep): Promise<void> {
    if ('hangUp' in step) {
      this.call.hangUpByCaller();
      return;
    }
    if ('pause' in step) return this.sleep(step.pause);
    if ('waitFor' in step) return this.waitForAgent(step.waitFor === 'greeting', step.quietMs ?? 300, step.timeoutMs ?? 10_000);
    if ('silence' in step) return this.stayQuiet(step.timeoutMs);
    if ('dtmf' in step) return this.pressKeys(step.dtmf, step.timeoutMs ?? 10_000);
    if (step.bargeInAfterMs !== undefined) {
      await this.until(() => this.call.agentSpeaking, step.timeoutMs ?? 10_000, `barge-in: the agent never spoke before "${step.say}"`);
      await this.sleep(step.bargeInAfterMs);
    }
    return this.speak(step.say, step.audioMs, step.timeoutMs ?? 10_000);
  }

  /** 'greeting': something was heard (ever) and the agent then went quiet; 'agentSilence': only the quiet. */
  private async waitForAgent(requireSpeech: boolean, quietMs: number, timeoutMs: number): Promise<void> {
    this.lastSpeakingAtMs = this.host.nowMs();
    await this.until(
      () => {
        const now = this.host.nowMs();
        if (this.call.agentSpeaking) this.lastSpeakingAtMs = now;
        const spoke = !requireSpeech || this.heardCount() > 0;
        return spoke && !this.call.agentSpeaking && now - this.lastSpeakingAtMs >= quietMs;
      },
      timeoutMs,
      requireSpeech ? `no greeting within ${timeoutMs} ms` : `the agent did not fall silent within ${timeoutMs} ms`,
    );
  }

  private async speak(text: string, audioMs: number | undefined, timeoutMs: number): Promise<void> {
    const media = this.call.media;
    if (media?.isOpen) {
      const pcm = speechLikePcm(audioMs ?? speechDurationMs(text), media.sampleRate, this.said.length + 1);
      const index = this.said.push({ atMs: this.host.nowMs(), text, via: 'media' }) - 1;
      const timing = await media.speak(pcm, text);
      if (timing.startedAtMs !== undefined) this.said[index] = { atMs: timing.startedAtMs, ...(timing.endedAtMs === undefined ? {} : { endedAtMs: timing.endedAtMs }), text, via: 'media' };
      return;
    }
    await this.answerRecognize({ speech: text }, timeoutMs, `"${text}"`);
  }

  private async pressKeys(tones: string, timeoutMs: number): Promise<void> {
    const media = this.call.media;
    if (media?.isOpen && media.options.enableDtmf) {
      this.said.push({ atMs: this.host.nowMs(), tones, via: 'media' });
      for (const tone of tones) {
        media.sendDtmf(tone);
        await this.sleep(100);
      }
      return;
    }
    await this.answerRecognize({ tones }, timeoutMs, `DTMF ${tones}`);
  }

  private async answerRecognize(input: { speech?: string; tones?: string }, timeoutMs: number, what: string): Promise<void> {
    const deadline = this.host.nowMs() + timeoutMs;
    while (this.host.nowMs() < deadline && this.call.isActive) {
      if (this.call.ops.recognizing && this.call.ops.answer(input)) {
        this.said.push({ atMs: this.host.nowMs(), text: input.speech, tones: input.tones, via: 'recognize' });
        return;
      }
      await this.sleep(POLL_MS);
    }
    this.said.push({ atMs: this.host.nowMs(), text: input.speech, tones: input.tones, via: 'unheard' });
    if (this.call.isActive) throw new CallerScriptError(`nobody was listening for ${what} within ${timeoutMs} ms`);
  }

  private async stayQuiet(timeoutMs: number | undefined): Promise<void> {
    if (this.call.media?.isOpen) return this.sleep(timeoutMs ?? 3_000);
    await this.until(() => this.call.ops.recognizing !== undefined, timeoutMs ?? 10_000, 'silence: no recognize started');
    await this.until(() => this.call.ops.recognizing === undefined, 120_000, 'silence: the recognize never ended');
  }

  private heardCount(): number {
    return this.call.heardPlays.length + this.call.mediaSessions.reduce((n, s) => n + s.heard.length, 0);
  }

  private async until(predicate: () => boolean, timeoutMs: number, failure: string): Promise<void> {
    const deadline = this.host.nowMs() + timeoutMs;
    while (!predicate()) {
      if (!this.call.isActive) return;
      if (this.host.nowMs() >= deadline) throw new CallerScriptError(failure);
      await this.sleep(POLL_MS);
    }
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
    } catch {
      // the call ended: the step is over
    }
  }
}

function recordingOf(call: EmulatedCall, incomingCallStatus: number | undefined, notes: string[], said: SaidItem[], timedOut: boolean, durationMs: number): CallRecording {
  const plays: HeardItem[] = call.heardPlays.map((p) => ({
    kind: 'play',
    atMs: p.startedAtMs,
    text: p.text,
    durationMs: p.durationMs,
    heardMs: p.heardMs,
    outcome: p.outcome,
    prompt: p.prompt,
  }));
  const audio: HeardItem[] = call.mediaSessions.flatMap((s) =>
    s.heard.map((h) => ({ kind: 'audio' as const, atMs: h.startedAtMs, endedAtMs: h.endedAtMs, ms: h.ms, bytes: h.bytes, stoppedByStopAudio: h.stoppedByStopAudio })),
  );
  const heard = [...plays, ...audio].sort((a, b) => a.atMs - b.atMs);
  const session = call.mediaSessions.at(-1);
  return {
    callConnectionId: call.callConnectionId,
    serverCallId: call.serverCallId,
    incomingCallStatus,
    answered: true,
    heard,
    heardText: plays.filter((p) => p.kind === 'play' && p.heardMs > 0).map((p) => (p as { text: string }).text),
    heardAudioMs: audio.reduce((sum, a) => sum + (a.kind === 'audio' ? a.ms : 0), 0),
    stopAudio: call.mediaSessions.flatMap((s) => [...s.stopAudio]),
    said,
    requests: [...call.requests],
    operations: call.requests.map((r) => r.operation),
    events: [...call.events],
    eventTypes: call.events.map((e) => e.type),
    endedBy: timedOut ? 'timeout' : (call.endedBy ?? 'caller'),
    notes,
    media: session ? { sampleRate: session.sampleRate, stats: { ...session.stats } } : undefined,
    durationMs,
  };
}

function emptyRecording(serverCallId: string, incomingCallStatus: number, notes: string[], durationMs: number): CallRecording {
  return {
    serverCallId,
    incomingCallStatus,
    answered: false,
    heard: [],
    heardText: [],
    heardAudioMs: 0,
    stopAudio: [],
    said: [],
    requests: [],
    operations: [],
    events: [],
    eventTypes: [],
    endedBy: 'unanswered',
    notes,
    durationMs,
  };
}
