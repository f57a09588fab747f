import { EventEmitter } from 'node:events';
import { AcsRestError } from './errors.js';
import { RESULT, type ResultInformation } from './result-codes.js';

/**
 * Play and recognize as ACS runs them without media streaming: plays are queued and "spoken" for a
 * time proportional to their text; a recognize plays its prompt, then listens until the caller
 * answers (speech, DTMF or a choice) or the initial silence timeout fires (RecognizeFailed 8510).
 */

export interface HeardPlay {
  readonly kind: 'play';
  /** The text, SSML or file URL that was played. */
  readonly text: string;
  readonly sourceKind: string;
  readonly operationContext?: string;
  /** True for the prompt of a recognize. */
  readonly prompt: boolean;
  readonly startedAtMs: number;
  readonly durationMs: number;
  heardMs: number;
  outcome: 'playing' | 'completed' | 'canceled' | 'interrupted';
}

export interface CallerInput {
  readonly speech?: string;
  readonly tones?: string;
}

export interface MediaOpsHost {
  nowMs(): number;
  /** `callbackUri` is the operation's own `operationCallbackUri`, when the app gave one. */
  emitEvent(shortType: string, data: Record<string, unknown>, callbackUri?: string): void;
  readonly speechMsPerChar: number;
  readonly filePlayMs: number;
}

interface PlaySource {
  kind?: string;
  text?: { text?: string };
  ssml?: { ssmlText?: string };
  file?: { uri?: string };
}

interface PlayOp {
  readonly sources: PlaySource[];
  readonly operationContext?: string;
  readonly callbackUri?: string;
  readonly loop: boolean;
  readonly abort: AbortController;
  readonly prompt: boolean;
  current?: HeardPlay;
}

interface RecognizeOp {
  readonly inputType: string;
  readonly operationContext?: string;
  readonly callbackUri?: string;
  readonly interruptPrompt: boolean;
  readonly initialSilenceMs: number;
  readonly maxTones?: number;
  readonly choices: { label: string; phrases: string[]; tone?: string }[];
  state: 'prompting' | 'listening';
  prompt?: PlayOp;
  deferred?: CallerInput;
  timer?: NodeJS.Timeout;
}

const TONE_NAMES: Record<string, string> = {
  '0': 'zero', '1': 'one', '2': 'two', '3': 'three', '4': 'four', '5': 'five', '6': 'six', '7': 'seven', '8': 'eight', '9': 'nine',
  '#': 'pound', '*': 'asterisk', a: 'a', b: 'b', c: 'c', d: 'd',
};

export function toneNames(tones: string): string[] {
  return [...tones.toLowerCase()].map((t) => TONE_NAMES[t]).filter((t): t is string => t !== undefined);
}

export class MediaOps extends EventEmitter {
  readonly heard: HeardPlay[] = [];
  private readonly queue: PlayOp[] = [];
  private active: PlayOp | undefined;
  private recognizeOp: RecognizeOp | undefined;
  private stopped = false;

  constructor(private readonly host: MediaOpsHost) {
    super();
  }

  /** A play (or a recognize prompt) is being heard right now. */
  get speaking(): boolean {
    return this.active !== undefined;
  }

  get recognizing(): 'prompting' | 'listening' | undefined {
    return this.recognizeOp?.state;
  }

  play(body: Record<string, any>): void {
    const sources = (body.playSources ?? []) as PlaySource[];
    if (sources.length === 0) throw new AcsRestError(400, 'BadRequest', 'playSources must not be empty.');
    const op: PlayOp = {
      sources,
      operationContext: body.operationContext,
      callbackUri: body.operationCallbackUri,
      loop: body.playOptions?.loop === true,
      abort: new AbortController(),
      prompt: false,
    };
    if (body.interruptCallMediaOperation === true) this.cancelAll();
    this.queue.push(op);
    this.pump();
  }

  recognize(body: Record<string, any>): void {
    if (this.recognizeOp) throw new AcsRestError(400, 'BadRequest', 'A recognize operation is already running on this call.');
    const options = body.recognizeOptions ?? {};
    const prompts = (body.playPrompts ?? (body.playPrompt ? [body.playPrompt] : [])) as PlaySource[];
    const op: RecognizeOp = {
      inputType: String(body.recognizeInputType ?? 'speech').toLowerCase(),
      operationContext: body.operationContext,
      callbackUri: body.operationCallbackUri,
      interruptPrompt: options.interruptPrompt === true,
      initialSilenceMs: Number(options.initialSilenceTimeoutInSeconds ?? 5) * 1000,
      maxTones: options.dtmfOptions?.maxTonesToCollect,
      choices: (options.choices ?? []).map((c: any) => ({ label: String(c.label), phrases: (c.phrases ?? []).map(String), tone: c.tone })),
      state: 'prompting',
    };
    this.recognizeOp = op;
    if (body.interruptCallMediaOperation === true) this.cancelPlays();
    if (prompts.length > 0) {
      op.prompt = { sources: prompts, operationContext: op.operationContext, callbackUri: op.callbackUri, loop: false, abort: new AbortController(), prompt: true };
      this.queue.unshift(op.prompt);
      this.pump();
    } else {
      this.startListening(op);
    }
    this.emit('recognizeStart');
  }

  /**
   * The caller's answer to a running recognize. Returns false when nothing listens for this kind
   * of input (the caller spoke, but no recognize of that type was running).
   */
  answer(input: CallerInput): boolean {
    const op = this.recognizeOp;
    if (!op || !this.accepts(op, input)) return false;
    if (op.state === 'prompting') {
      if (!op.interruptPrompt) {
        op.deferred = input;
        return true;
      }
      this.interrupt(op.prompt);
    }
    this.complete(op, input);
    return true;
  }

  cancelAll(): void {
    this.cancelPlays();
    const op = this.recognizeOp;
    if (op) {
      this.finishRecognize(op);
      if (op.prompt) this.interrupt(op.prompt);
      this.host.emitEvent('RecognizeCanceled', { operationContext: op.operationContext, resultInformation: RESULT.canceled }, op.callbackUri);
    }
  }

  /** The call ended: everything stops and no more events are sent. */
  stop(): void {
    this.stopped = true;
    for (const op of [...this.queue.splice(0), this.active]) op?.abort.abort();
    if (this.recognizeOp) this.finishRecognize(this.recognizeOp);
  }

  private cancelPlays(): void {
    for (const op of this.queue.splice(0)) {
      if (!op.prompt) this.host.emitEvent('PlayCanceled', { operationContext: op.operationContext, resultInformation: RESULT.canceled }, op.callbackUri);
    }
    if (this.active && !this.active.prompt) {
      const op = this.active;
      this.interrupt(op);
      this.host.emitEvent('PlayCanceled', { operationContext: op.operationContext, resultInformation: RESULT.canceled }, op.callbackUri);
    }
  }

  private interrupt(op: PlayOp | undefined): void {
    if (!op) return;
    const index = this.queue.indexOf(op);
    if (index >= 0) this.queue.splice(index, 1);
    op.abort.abort();
  }

  private accepts(op: RecognizeOp, input: CallerInput): boolean {
    if (input.tones !== undefined) return op.inputType === 'dtmf' || op.inputType === 'speechordtmf' || op.inputType === 'choices';
    return op.inputType !== 'dtmf';
  }

  private startListening(op: RecognizeOp): void {
    if (this.stopped || this.recognizeOp !== op) return;
    op.state = 'listening';
    this.emit('listening');
    if (op.deferred) {
      this.complete(op, op.deferred);
      return;
    }
    op.timer = setTimeout(() => {
      this.finishRecognize(op);
      this.host.emitEvent('RecognizeFailed', { operationContext: op.operationContext, resultInformation: RESULT.initialSilenceTimeout }, op.callbackUri);
    }, op.initialSilenceMs);
  }

  private complete(op: RecognizeOp, input: CallerInput): void {
    this.finishRecognize(op);
    const base = { operationContext: op.operationContext };
    if (input.tones !== undefined && op.inputType !== 'choices') {
      const tones = toneNames(input.tones).slice(0, op.maxTones ?? undefined);
      this.host.emitEvent('RecognizeCompleted', { ...base, resultInformation: RESULT.maxDigitsReceived, recognitionType: 'dtmf', dtmfResult: { tones } }, op.callbackUri);
      return;
    }
    if (op.inputType === 'choices') {
      const said = (input.speech ?? '').toLowerCase();
      const tone = input.tones !== undefined ? toneNames(input.tones)[0] : undefined;
      const choice = op.choices.find((c) =>
        tone !== undefined ? c.tone === tone : c.label.toLowerCase() === said || c.phrases.some((p) => said.includes(p.toLowerCase())),
      );
      if (!choice) {
        this.host.emitEvent('RecognizeFailed', { ...base, resultInformation: { code: 400, subCode: 8547, message: 'Action failed, speech option not matched.' } }, op.callbackUri);
        return;
      }
      this.host.emitEvent('RecognizeCompleted', {
        ...base,
        resultInformation: { code: 200, subCode: 8545, message: 'Action completed, speech option matched.' },
        recognitionType: 'choices',
        choiceResult: { label: choice.label, recognizedPhrase: input.speech ?? input.tones, confidence: 0.95 },
      }, op.callbackUri);
      return;
    }
    this.host.emitEvent('RecognizeCompleted', {
      ...base,
      resultInformation: RESULT.recognizeCompleted,
      recognitionType: 'speech',
      speechResult: { speech: input.speech ?? '', confidence: 0.95 },
    }, op.callbackUri);
  }

  private finishRecognize(op: RecognizeOp): void {
    clearTimeout(op.timer);
    if (this.recognizeOp === op) this.recognizeOp = undefined;
  }

  private pump(): void {
    if (this.active || this.stopped) return;
    const op = this.queue.shift();
    if (!op) return;
    this.active = op;
    void this.run(op).finally(() => {
      this.active = undefined;
      this.emit('playEnd');
      this.pump();
    });
  }

  private async run(op: PlayOp): Promise<void> {
    do {
      for (const source of op.sources) {
        const heard = this.startHeard(op, source);
        this.emit('playStart');
        const finished = await waitFor(heard.durationMs, op.abort.signal);
        heard.heardMs = Math.min(heard.durationMs, this.host.nowMs() - heard.startedAtMs);
        if (!finished) {
          heard.outcome = op.prompt ? 'interrupted' : 'canceled';
          return;
        }
        heard.outcome = 'completed';
      }
    } while (op.loop && !op.abort.signal.aborted);
    if (this.stopped) return;
    if (op.prompt) {
      const recognize = this.recognizeOp;
      if (recognize && recognize.prompt === op) this.startListening(recognize);
    } else {
      this.host.emitEvent('PlayCompleted', { operationContext: op.operationContext, resultInformation: RESULT.actionCompleted }, op.callbackUri);
    }
  }

  private startHeard(op: PlayOp, source: PlaySource): HeardPlay {
    const kind = String(source.kind ?? 'text').toLowerCase();
    const text = kind === 'ssml' ? (source.ssml?.ssmlText ?? '') : kind === 'file' ? (source.file?.uri ?? '') : (source.text?.text ?? '');
    const spoken = kind === 'ssml' ? text.replace(/<[^>]+>/g, '').trim() : text;
    const durationMs = kind === 'file' ? this.host.filePlayMs : Math.max(100, spoken.length * this.host.speechMsPerChar);
    const heard: HeardPlay = {
      kind: 'play',
      text: spoken,
      sourceKind: kind,
      operationContext: op.operationContext,
      prompt: op.prompt,
      startedAtMs: this.host.nowMs(),
      durationMs,
      heardMs: 0,
      outcome: 'playing',
    };
    op.current = heard;
    this.heard.push(heard);
    return heard;
  }
}

function waitFor(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export type { ResultInformation };
