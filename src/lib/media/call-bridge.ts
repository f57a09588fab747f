/**
 * One call on a relay: the caller's frames (from `call.<id>.in`) go to the agent session, the agent's
 * audio goes back to `call.<id>.out` as AudioData, barge-in sends StopAudio, cancels and truncates,
 * and every completed turn is appended through the ConversationManager (one flush per turn).
 *
 * Everything here is per call and bounded: frames that arrive while the agent connects wait in a
 * small ring (the oldest are dropped), the playback tracker prunes what finished playing.
 */

import { limitText, truncationMeta } from '../calls/limits.js';
import type { ConversationManager, JsonValue } from '../state/index.js';
import type { AgentReply, CallerProfile, ToolCall } from '../agent/types.js';
import { BUILT_IN_PROMPTS, nextStep, perform, PIN_REDACTED, replyMeta, type CallActions, type FixedPrompts } from '../agents/call-core.js';
import type { MediaAgentDefinition } from '../agents/media-binding.js';
import { classify } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { CompletedTurn, RealtimeAgentHandlers, ToolCallRequest, TruncatedTurn } from '../agent/realtime/index.js';
import { buildRealtimeInstructions, SilentToolOutput } from '../agent/realtime/index.js';
import { reasonFrom } from '../agent/tools.js';
import { createResampler, durationMsForBytes, frameBytes, type Resampler } from './audio.js';
import { TTS_SAMPLE_RATE_HZ, type FixedPromptAudio, type SpokenPromptName } from '../agent/tts.js';
import { buildAudioDataFrame, MediaFrameError, parseMediaFrame, STOP_AUDIO_FRAME, type MediaFrame } from './codec.js';
import { PlaybackTracker, type BargeInDecision } from './barge-in.js';
import { OutboundAudioCoalescer, type OutboundAudioOptions } from './outbound-audio.js';
import { AGENT_SAMPLE_RATE_HZ, sessionTools, type AgentSessionFactory, type AgentSessionLike } from './agent-port.js';
import { KEYPAD_INTER_DIGIT_MS, KeypadBuffer } from './keypad.js';
import { outboundGroup } from './groups.js';
import { RelayError } from './errors.js';
import { CallerAudioPosition } from './caller-audio-buffer.js';

/** Sends a text frame to a group, fire-and-forget (the relay's one Web PubSub connection). */
export type GroupSender = (group: string, frame: string) => void;

export type BargeInRecord = BargeInDecision & {
  /** Relay clock (ms) when the VAD event arrived and when StopAudio was handed to the connection. */
  readonly vadAtMs: number;
  readonly stopAudioSentAtMs: number;
  /** Inbound frames processed between the VAD event and StopAudio (0: StopAudio went out within the same frame). */
  readonly framesBetween: number;
};

/**
 * Where a call's bridge is:
 * - `connecting`: the agent session is being opened (a new call, a takeover, a reconnect attempt); the
 *   caller's audio waits in the bounded ring;
 * - `live`: the agent session is up and hears the caller;
 * - `reconnecting`: the agent's socket dropped; a new session is opened after a short wait, and the
 *   caller's audio waits in the ring meanwhile;
 * - `ending`: no agent session will be opened again (refused for good, or every reconnect failed): the
 *   caller hears the failure prompt and the call is hung up; their audio is refused;
 * - `closed`: the relay closed or abandoned the bridge; frames are refused and nothing more is sent.
 */
export type CallBridgeState = 'connecting' | 'live' | 'reconnecting' | 'ending' | 'closed';

/** The moves a bridge makes; any other is a bug, refused with {@link BridgeStateError}. */
const BRIDGE_TRANSITIONS: { readonly [From in CallBridgeState]: readonly CallBridgeState[] } = {
  connecting: ['live', 'reconnecting', 'ending', 'closed'],
  live: ['reconnecting', 'closed'],
  reconnecting: ['connecting', 'closed'],
  ending: ['closed'],
  closed: [],
};

/** Whether a bridge may go from `from` to `to`. */
export function canMoveBridge(from: CallBridgeState, to: CallBridgeState): boolean {
  return BRIDGE_TRANSITIONS[from].includes(to);
}

/** A call bridge was asked to make a move its states do not allow (a bug, never a caller's doing). */
export class BridgeStateError extends RelayError {
  override name = 'BridgeStateError';
  constructor(
    readonly callId: string,
    readonly from: CallBridgeState,
    readonly to: CallBridgeState,
  ) {
    super(`the call bridge cannot go from ${from} to ${to}`, false, { code: 'bridge_state' });
  }
}

export type CallBridgeStats = {
  framesIn: number;
  framesOut: number;
  framesDroppedWhileConnecting: number;
  badFrames: number;
  /** Frames refused or skipped, by reason (`not-json`, `invalid-base64`, `odd-length`, `unknown-kind`, `rate-change`…). */
  refusedFrames: Record<string, number>;
  turnsPersisted: number;
  flushFailures: number;
};

export type CallBridgeOptions = {
  readonly callId: string;
  readonly conversation: ConversationManager;
  readonly send: GroupSender;
  readonly agent: AgentSessionFactory;
  readonly logger: Logger;
  /** Extra instruction context (caller name…) besides the conversation context. */
  readonly context?: Readonly<Record<string, JsonValue>>;
  readonly tools?: (call: ToolCallRequest) => unknown;
  /**
   * The call's active agent definition: its instructions replace the built-in ones, its extra tools
   * are offered (and answered through it before `tools`), its voice speaks and its fixed prompts are
   * heard. Keyed PINs go to it, and a handoff switches the session to the next agent's definition.
   */
  readonly definition?: MediaAgentDefinition;
  /** The caller's profile, for a greeting in the definition's words ("Welcome back, Sam!"). */
  readonly callerProfile?: CallerProfile;
  /**
   * Offline agents only: what the caller said, from ACS's TranscriptionData frames, with the
   * utterance's offset in the stream as its id (the same utterance replayed after a failover keeps it).
   */
  readonly onCallerTranscription?: (callId: string, text: string, utteranceId?: string) => void;
  readonly onTurn?: (callId: string, turn: CompletedTurn) => void;
  readonly onBargeIn?: (callId: string, bargeIn: BargeInRecord) => void;
  /**
   * Ends the call (ACS hang-up). With it the agent's `end_call` tool works: the caller hears the fixed
   * goodbye prompt (or, without prompts, the agent's goodbye reply), and the call ends once it has
   * played out.
   */
  readonly hangUp?: (callId: string) => Promise<void>;
  /**
   * Transfers the call to a person (ACS, the configured number). With it the agent is offered
   * `transfer_to_human`: the caller hears the fixed hold prompt (or, without prompts, the agent's hold
   * reply), and the transfer starts once it has played out.
   */
  readonly transfer?: (callId: string, targetNumber?: string) => Promise<void>;
  /** The caller's profile (the caller is the call's, never the model's choice); offers `lookup_profile`. */
  readonly lookupProfile?: () => Promise<unknown>;
  /**
   * Fixed prompts (synthesised once, from the TTS cache): the greeting of a new call, the hold prompt
   * before a transfer, the failure prompt when the agent cannot be reached again. Without it the model
   * greets and the call goes on without the others.
   */
  readonly prompts?: { audio(name: SpokenPromptName, text: string): Promise<FixedPromptAudio> };
  /**
   * The rate ACS streams at (the answer's `audioFormat`). The AudioMetadata frame says it too, but it is
   * the first frame ACS sends and usually published before any relay has joined the call's group.
   * @default 24000
   */
  readonly acsSampleRateHz?: 16000 | 24000;
  /**
   * Frames kept while the agent session connects (a new call, a takeover, a reconnect), so what the
   * caller says meanwhile reaches the model. @default 250 (five seconds)
   */
  readonly maxPendingFrames?: number;
  /** How the agent's audio is coalesced into AudioData messages (see outbound-audio.ts). */
  readonly outboundAudio?: Pick<OutboundAudioOptions, 'maxMessageMs' | 'minMessageMs' | 'firstMessageMs' | 'lowWaterMs'>;
  /** Turns of history put into the instructions when a call is resumed (failover). @default 10 */
  readonly resumeTurns?: number;
  readonly now?: () => number;
  /**
   * Longest caller and agent transcripts stored per turn (LIMIT_RECOGNIZED_TEXT_CHARS and
   * LIMIT_MODEL_OUTPUT_CHARS, as on the recognize/play path); a cut is recorded as `truncatedFrom`.
   */
  readonly limits?: { readonly callerTextChars: number; readonly agentTextChars: number };
};

/** Attempts to reopen a dropped agent session (250 ms, 500 ms, 1 s, 2 s, 2 s apart). */
const MAX_AGENT_RECONNECTS = 5;
/** 20 ms frames per AudioData message of a fixed prompt (200 ms, as the model's audio at most). */
const PROMPT_MESSAGE_FRAMES = 10;
/** Allowance for network and jitter-buffer delay before treating streamed audio as heard. */
const PLAYOUT_MARGIN_MS = 200;

export class CallBridge {
  readonly stats: CallBridgeStats = { framesIn: 0, framesOut: 0, framesDroppedWhileConnecting: 0, badFrames: 0, refusedFrames: {}, turnsPersisted: 0, flushFailures: 0 };
  readonly bargeIns: BargeInRecord[] = [];
  private readonly out: string;
  private readonly now: () => number;
  private readonly abort = new AbortController();
  private session: AgentSessionLike | undefined;
  private pending: string[] = [];
  private acsRateHz = AGENT_SAMPLE_RATE_HZ;
  private audioSeen = false;
  private metadataSeen = false;
  private inbound: Resampler = createResampler(AGENT_SAMPLE_RATE_HZ, AGENT_SAMPLE_RATE_HZ);
  private outbound: Resampler = createResampler(AGENT_SAMPLE_RATE_HZ, AGENT_SAMPLE_RATE_HZ);
  private tracker = new PlaybackTracker({ sampleRateHz: AGENT_SAMPLE_RATE_HZ });
  private outboundAudio!: OutboundAudioCoalescer;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly fullTranscripts = new Map<string, BargeInRecord>();
  private bridgeState: CallBridgeState = 'connecting';
  /**
   * Another relay owns the call (or this one is dying): nothing more is written. The agent socket's
   * close handshake can still deliver a turn, and staged turns can still be waiting to flush; written
   * now, they would land after the new owner read the conversation (an answer twice, or a caller turn
   * the new owner never answers).
   */
  private abandoned = false;
  /** What happens once the agent's next turn has played out (after end_call / transfer_to_human). */
  private afterNextAgentTurn: AfterSpeech | undefined;
  /** Transcript meta for the model's next turn, when it was asked to say the call core's words. */
  private pendingTurnMeta: Record<string, JsonValue> | undefined;
  private reconnects = 0;
  /** Fixed prompts played on this call (for their synthetic response and item ids). */
  private promptCount = 0;
  /** History turn id of each prompt still playable, by its synthetic item id (a barge-in truncates it). */
  private readonly promptTurns = new Map<string, string>();
  /** A barge-in over a prompt set the conversation's barge-in flag; the next agent turn clears it. */
  private bargeInOverPrompt = false;
  /** The agent answering the call (a handoff replaces it). */
  private definition: MediaAgentDefinition | undefined;
  private readonly keypad: KeypadBuffer;
  /** What the model's tools did since its last turn, for that turn's transcript meta. */
  private pendingTools: ToolCall[] = [];
  /** Where each caller turn's speech ended in ACS's stream (turn meta, for a standby's replay). */
  private readonly callerAudioPosition = new CallerAudioPosition();

  constructor(private readonly options: CallBridgeOptions) {
    this.out = outboundGroup(options.callId);
    this.now = options.now ?? (() => performance.now());
    this.outboundAudio = this.coalescer(AGENT_SAMPLE_RATE_HZ);
    this.onAudioMetadata(options.acsSampleRateHz ?? AGENT_SAMPLE_RATE_HZ);
    this.definition = options.definition;
    this.keypad = new KeypadBuffer({ interDigitMs: KEYPAD_INTER_DIGIT_MS, now: this.now });
  }

  /** The agent answering the call (its scenario name), when the call has a definition. */
  get activeAgent(): string | undefined {
    return this.definition?.agentName;
  }

  get callId(): string {
    return this.options.callId;
  }

  /** Where the bridge is (see {@link CallBridgeState}); it moves only through {@link moveTo}. */
  get state(): CallBridgeState {
    return this.bridgeState;
  }

  /** A method, not a field read, so a check after an `await` sees a close that happened meanwhile. */
  private isClosed(): boolean {
    return this.bridgeState === 'closed';
  }

  /** The one way the state changes; a move the states do not allow throws {@link BridgeStateError}. */
  private moveTo(to: CallBridgeState): void {
    if (!canMoveBridge(this.bridgeState, to)) throw new BridgeStateError(this.options.callId, this.bridgeState, to);
    this.bridgeState = to;
  }

  /** Connects the agent with the caller's context; a resumed call (history in Redis) is not greeted again. */
  async start(): Promise<void> {
    const history = this.options.conversation.getHistory();
    const resumed = history.length > 0;
    const definition = this.definition;
    let instructions = this.baseInstructions(definition, true);
    if (resumed) {
      const recent = history.slice(-(this.options.resumeTurns ?? 10)).filter((t) => t.role === 'user' || t.role === 'assistant');
      instructions += `\n\nThe call was interrupted by a technical problem and resumes now. The conversation so far:\n${recent.map((t) => `${t.role === 'user' ? 'Caller' : 'You'}: ${t.content}`).join('\n')}`;
    }
    // A new call is greeted with the cached greeting prompt (no model round trip, the same words every
    // time); the model is told so it does not greet again. Without prompts the model greets.
    const greeting = resumed ? undefined : await this.loadPrompt('greeting', this.prompts().greeting(this.options.callerProfile));
    if (greeting) instructions += `\n\nYou have already greeted the caller with: "${greeting.text}" Do not greet them again; answer what they say.`;
    const session = await this.options.agent({
      callId: this.options.callId,
      instructions,
      tools: this.builtInTools(),
      ...(definition ? { extraTools: definition.extraTools, voice: definition.voice } : {}),
      handlers: this.handlers(),
      signal: this.abort.signal,
    });
    // Closed meanwhile, or the socket dropped while it opened (a reconnect is already on its way): not wanted.
    if (this.bridgeState !== 'connecting') {
      await session.close();
      return;
    }
    this.session = session;
    this.moveTo('live');
    this.reconnects = 0;
    this.callerAudioPosition.sessionStarted(this.pending.length);
    for (const frame of this.pending.splice(0)) session.appendAudio(frame);
    if (resumed) {
      // The previous relay died after the caller's turn was written but before its answer was: answer it.
      const unanswered = unansweredCallerTurn(history);
      if (unanswered !== undefined) session.respondTo(unanswered);
      return;
    }
    if (greeting) this.streamPrompt(greeting, definition ? { agent: definition.agentName } : {});
    else session.requestResponse('Greet the caller briefly and ask how you can help.');
  }

  private builtInTools(): { canTransfer: boolean; canLookUpProfile: boolean } {
    return { canTransfer: this.options.transfer !== undefined, canLookUpProfile: this.options.lookupProfile !== undefined };
  }

  /** The fixed prompts of the agent answering the call (the built-in ones without a definition). */
  private prompts(): FixedPrompts {
    return this.definition?.prompts ?? BUILT_IN_PROMPTS;
  }

  /** The agent's instructions with the call's context (none for an agent that does not share it) and what the relay speaks itself. */
  private baseInstructions(definition: MediaAgentDefinition | undefined, shareContext: boolean): string {
    const context: Record<string, JsonValue> = shareContext ? { ...this.options.conversation.getContext(), ...this.options.context } : {};
    const tools = this.builtInTools();
    let instructions = definition ? definition.instructions(context, tools) : buildRealtimeInstructions({ context, ...tools });
    // With fixed prompts the caller hears a recorded goodbye or hold message after end_call or
    // transfer_to_human; a model that also spoke one would be heard twice.
    if (this.options.prompts) {
      instructions += '\n\nWhen you end the call or transfer the caller, call the tool without saying anything first: the caller hears a recorded goodbye or hold message.';
    }
    return instructions;
  }

  /**
   * The agent's socket closed under the call (service restart, network): frames wait in the bounded
   * ring while a new session is opened with the conversation so far. The caller hears a gap.
   */
  private reconnectAgent(): void {
    // Only a session that is up or opening can drop; a reconnect already waiting, an ending or a closed call has nothing to reopen.
    if (this.bridgeState !== 'live' && this.bridgeState !== 'connecting') return;
    this.session = undefined;
    const attempt = this.reconnects++;
    if (attempt >= MAX_AGENT_RECONNECTS) {
      this.options.logger.error('realtime agent unreachable; apologising and ending the call', { callId: this.options.callId, attempts: attempt });
      this.moveTo('ending');
      void this.endWithFailurePrompt();
      return;
    }
    this.moveTo('reconnecting');
    const delayMs = Math.min(2_000, 250 * 2 ** attempt);
    setTimeout(() => {
      // Closed during the wait: no session is opened for a call that is gone.
      if (this.bridgeState !== 'reconnecting') return;
      this.moveTo('connecting');
      this.start().catch((error: unknown) => {
        // Closed meanwhile, or its socket dropped while it opened and the next attempt already waits: this one no longer counts.
        if (this.bridgeState !== 'connecting') {
          this.options.logger.debug('realtime agent reconnect attempt failed; superseded', { callId: this.options.callId, state: this.bridgeState, error: error as Error });
          return;
        }
        // A refusal no retry changes (credentials, an unknown deployment) ends the call now, not after every attempt.
        if (classify(error) !== 'retry') {
          this.options.logger.error('realtime agent refused for good; apologising and ending the call', { callId: this.options.callId, attempt: attempt + 1, error: error as Error });
          this.moveTo('ending');
          void this.endWithFailurePrompt();
          return;
        }
        this.options.logger.warn('realtime agent reconnect failed', { callId: this.options.callId, attempt: attempt + 1, error: error as Error });
        this.reconnectAgent();
      });
    }, delayMs).unref();
  }

  /**
   * One text frame from `call.<id>.in` (the hot path). Never throws: a frame that cannot be used is
   * refused, counted by reason and logged once per reason per call, and the call goes on.
   */
  onInboundFrame(text: string): void {
    this.stats.framesIn += 1;
    try {
      this.handleFrame(parseMediaFrame(text));
    } catch (error) {
      this.refuse(error instanceof MediaFrameError ? error.reason : 'handler-error', error);
    }
  }

  private handleFrame(frame: MediaFrame): void {
    switch (frame.kind) {
      case 'AudioData': {
        // No agent session will hear it: an ending call has none coming, a closed one is gone.
        if (this.bridgeState === 'ending' || this.bridgeState === 'closed') return this.refuse(`call-${this.bridgeState}`);
        const audio = this.inbound.processBase64(frame.data);
        this.audioSeen = true;
        this.callerAudioPosition.heard(frame.timestamp);
        if (this.bridgeState === 'live') this.session!.appendAudio(audio);
        else this.keepWhileConnecting(audio);
        return;
      }
      case 'AudioMetadata':
        this.onAudioMetadataFrame(frame.sampleRateHz);
        return;
      case 'TranscriptionData':
        if (frame.text !== '') this.options.onCallerTranscription?.(this.options.callId, frame.text, frame.offsetTicks === undefined ? undefined : String(frame.offsetTicks));
        return;
      case 'DtmfData':
        this.onTone(frame.data);
        return;
      default:
        return;
    }
  }

  /** The stream's rate is set once, before its audio; ACS cannot change it mid-call, so a frame saying so is refused. */
  private onAudioMetadataFrame(sampleRateHz: number): void {
    if (sampleRateHz === this.acsRateHz) return;
    if (sampleRateHz !== 16000 && sampleRateHz !== 24000) return this.refuse('unsupported-rate');
    if (this.audioSeen || this.metadataSeen) return this.refuse('rate-change');
    this.metadataSeen = true;
    this.onAudioMetadata(sampleRateHz);
  }

  private refuse(reason: string, error?: unknown): void {
    this.stats.badFrames += 1;
    const count = (this.stats.refusedFrames[reason] ?? 0) + 1;
    this.stats.refusedFrames[reason] = count;
    if (count === 1) {
      this.options.logger.warn('media frame refused', {
        callId: this.options.callId,
        reason,
        ...(error instanceof Error && !(error instanceof MediaFrameError) ? { error } : {}),
      });
    }
  }

  /** Ends the agent session and writes what is staged. */
  async close(): Promise<void> {
    if (this.isClosed()) return;
    this.moveTo('closed');
    this.abort.abort();
    this.outboundAudio.drop();
    await this.session?.close().catch(() => undefined);
    await this.flush();
  }

  /** Drops the call without a goodbye (another relay took it over): nothing is written. */
  async abandon(): Promise<void> {
    if (this.isClosed()) return;
    this.abandoned = true;
    this.moveTo('closed');
    this.abort.abort();
    this.outboundAudio.drop();
    await this.session?.close().catch(() => undefined);
  }

  get playback(): PlaybackTracker {
    return this.tracker;
  }

  // ── agent → caller ─────────────────────────────────────────────────────────────────────────

  private handlers(): RealtimeAgentHandlers {
    return {
      onAudioDelta: (base64, responseId, itemId) => this.onAgentAudio(base64, responseId, itemId),
      onAgentTranscript: (text, responseId, done, itemId) => {
        if (done) this.tracker.setAgentTranscript(responseId, itemId, text);
        else this.tracker.onAgentTranscriptDelta(responseId, itemId, text);
      },
      onSpeechStarted: () => this.onCallerSpeechStarted(),
      onSpeechStopped: (event) => this.callerAudioPosition.speechStopped(event.itemId, event.audioEndMs),
      onTurnCompleted: (turn) => this.onTurnCompleted(turn),
      onAgentTurnTruncated: (turn) => this.onLateTruncation(turn),
      onToolCall: (call) => this.onToolCall(call),
      onError: (error) => this.options.logger.warn('realtime agent error', { callId: this.options.callId, code: error.code, retryable: error.retryable }),
      onClose: () => this.reconnectAgent(),
    };
  }

  private onAgentAudio(base64: string, responseId: string, itemId: string): void {
    if (this.isClosed() || !this.tracker.shouldForward(responseId)) return;
    this.outboundAudio.push(this.outbound.process(Buffer.from(base64, 'base64')), responseId, itemId);
  }

  /** One AudioData message to ACS; the tracker learns when it went, so what was heard stays exact. */
  private sendAgentAudio(base64: string, responseId: string, itemId: string, byteLength: number): void {
    this.options.send(this.out, buildAudioDataFrame(base64));
    this.stats.framesOut += 1;
    this.tracker.onAgentAudioSent(responseId, itemId, byteLength, this.now());
  }

  private coalescer(sampleRateHz: number): OutboundAudioCoalescer {
    return new OutboundAudioCoalescer({
      sampleRateHz,
      ...this.options.outboundAudio,
      send: (base64, responseId, itemId, byteLength) => this.sendAgentAudio(base64, responseId, itemId, byteLength),
      leadMs: (atMs) => this.tracker.leadMs(atMs),
      now: this.now,
    });
  }

  /** Barge-in: StopAudio first (the caller must stop hearing the agent now), then cancel and truncate. */
  private onCallerSpeechStarted(): void {
    const vadAtMs = this.now();
    const framesAtVad = this.stats.framesIn;
    const decision = this.tracker.onCallerSpeechStarted(vadAtMs);
    if (!decision) return;
    this.options.send(this.out, STOP_AUDIO_FRAME);
    this.outboundAudio.drop();
    const stopAudioSentAtMs = this.now();
    const framesBetween = this.stats.framesIn - framesAtVad;
    const promptTurnId = this.promptTurns.get(decision.itemId);
    let heard: string | undefined;
    if (promptTurnId === undefined) {
      if (decision.responseIdToCancel !== undefined) this.session?.cancelResponse();
      heard = this.session?.truncate(decision.itemId, decision.audioEndMs);
    }
    const record: BargeInRecord = { ...decision, heardTranscript: heard ? heard : decision.heardTranscript, vadAtMs, stopAudioSentAtMs, framesBetween };
    this.bargeIns.push(record);
    if (this.bargeIns.length > 16) this.bargeIns.shift();
    this.outbound.reset();
    this.options.conversation.setBargeIn(true);
    if (promptTurnId === undefined) {
      this.fullTranscripts.set(decision.itemId, record);
    } else {
      // A fixed prompt: the model never issued it (nothing to cancel or truncate there) and its turn is
      // in the history already, so it is marked with what the caller heard, like a late truncation.
      this.promptTurns.delete(decision.itemId);
      this.options.conversation.appendToHistory('assistant', record.heardTranscript, { kind: 'truncation', replaces: promptTurnId, heardMs: decision.audioEndMs });
      this.bargeInOverPrompt = true;
      void this.flush();
    }
    this.options.onBargeIn?.(this.options.callId, record);
  }

  private onToolCall(call: ToolCallRequest): unknown {
    const definition = this.definition;
    const handoff = definition?.handoff(call);
    if (handoff) {
      // The relay speaks the announcement and the next agent's opening itself; the model is not asked.
      this.act({ ...handoff, toolCalls: [...this.takePendingTools(), ...handoff.toolCalls] }, definition?.agentName);
      return new SilentToolOutput({ ok: true, note: `the caller is with ${handoff.activeAgent ?? 'another agent'} now; say nothing more` });
    }
    if (call.name === 'end_call' && this.options.hangUp) {
      const record: ToolCall = { id: call.callId, name: 'end_call', reason: reasonFrom(JSON.stringify(call.args)) };
      if (this.options.prompts) {
        // One goodbye: the fixed goodbye prompt, once what the agent already said has played; the model
        // is not asked to reply.
        this.act({ text: '', toolCalls: [...this.takePendingTools(), record], timings: { totalMs: 0 } }, definition?.agentName);
        return new SilentToolOutput({ ok: true, note: 'the caller hears a goodbye message and the call ends; say nothing more' });
      }
      this.pendingTools.push(record);
      this.afterNextAgentTurn = { action: 'hang-up' };
      return { ok: true, note: 'the call ends after your goodbye' };
    }
    if (call.name === 'transfer_to_human' && this.options.transfer) {
      const targetNumber = definition?.transferTargetNumber;
      const record: ToolCall = { id: call.callId, name: 'transfer_to_human', reason: reasonFrom(JSON.stringify(call.args)), targetNumber: targetNumber ?? '' };
      if (this.options.prompts) {
        // One "please hold": the fixed hold prompt, once what the agent already said has played; the
        // model is not asked to reply. Without a definition the number is the app's, dialled by `transfer`.
        const toolCalls = [...this.takePendingTools(), record];
        if (targetNumber) this.act({ text: '', toolCalls, timings: { totalMs: 0 } }, definition?.agentName);
        else this.playThenAct('hold', this.prompts().hold(), this.turnMeta(toolCalls), { action: 'transfer' });
        return new SilentToolOutput({ ok: true, note: 'the caller hears a hold message and is transferred to a colleague; say nothing more' });
      }
      this.pendingTools.push(record);
      this.afterNextAgentTurn = { action: 'transfer', ...(targetNumber ? { targetNumber } : {}) };
      return { ok: true, note: 'the caller is transferred to a colleague after your reply; tell them to hold' };
    }
    if (call.name === 'lookup_profile' && this.options.lookupProfile) return this.options.lookupProfile();
    const answered = definition?.toolCall(call);
    if (answered) {
      return answered.then(({ output, record }) => {
        this.pendingTools.push(record);
        return output;
      });
    }
    return this.options.tools ? this.options.tools(call) : { error: `tool ${call.name} is not available` };
  }

  /** The tool records waiting for the next agent turn, handed over once. */
  private takePendingTools(): ToolCall[] {
    return this.pendingTools.splice(0);
  }

  /** The transcript meta of the agent's turn: the call core's, with the tools of the turn. */
  private turnMeta(toolCalls: readonly ToolCall[]): Record<string, JsonValue> {
    return replyMeta({ toolCalls }, this.definition?.agentName);
  }

  // ── the call core on the media path ─────────────────────────────────────────────────────────

  /**
   * What the agent's reply does to the call, decided by the call core (`nextStep`) as on the
   * recognize/play path, and carried out by the relay's {@link CallActions} adapter.
   */
  private act(reply: AgentReply, answeringAgent: string | undefined, timing: Record<string, JsonValue> = {}): void {
    const meta = { ...replyMeta(reply, answeringAgent), ...timing };
    const step = nextStep(reply, this.prompts());
    perform(step, this.callActions(meta)).catch((error: unknown) => this.options.logger.error('the agent\'s next step failed', { callId: this.options.callId, step: step.kind, error: error as Error }));
  }

  /** The media relay adapter of the call core: speech is a fixed prompt (or the model's words without prompts) after what plays now. */
  private callActions(meta: Record<string, JsonValue>): CallActions {
    return {
      listen: async (text) => this.playThenAct('spoken', text, meta, undefined),
      sayAndHangUp: async (text) => this.playThenAct('goodbye', text, meta, { action: 'hang-up' }),
      sayAndTransfer: async (text, targetNumber) => this.playThenAct('hold', text, meta, { action: 'transfer', targetNumber }),
      handOff: async (text, to) => {
        this.switchAgent(to);
        this.playThenAct('spoken', text, meta, undefined);
      },
    };
  }

  /**
   * Agent `to` of the call's scenario takes over: the realtime session gets its instructions, tools
   * and voice (`session.update`), and `_activeAgent` records it in the conversation so a relay that
   * takes the call over resumes with it. A handoff that does not share context gives the next agent
   * none of the call's context fields.
   */
  private switchAgent(to: string): void {
    const current = this.definition;
    if (!current) return;
    const next = current.forAgent(to);
    this.definition = next;
    this.options.conversation.setActiveAgent(to);
    const shareContext = current.sharesContextWith(to);
    const update = this.session?.update({ instructions: this.baseInstructions(next, shareContext), tools: sessionTools(this.builtInTools(), next.extraTools), voice: next.voice });
    if (update && !update.voiceChanged && next.voice !== current.voice) {
      this.options.logger.info('handoff keeps the voice: the realtime service changes it only before the model has spoken', { callId: this.options.callId, to });
    }
    this.options.logger.info('call handed to another agent', { callId: this.options.callId, from: current.agentName, to, shareContext });
    void this.flush();
  }

  /** A keypad tone (ACS DtmfData): gathered into a PIN or a menu key for an agent that takes one, ignored otherwise. */
  private onTone(tone: string): void {
    const digits = this.definition?.keypadDigits;
    if (digits === undefined || this.isClosed()) return;
    const keyed = this.keypad.push(tone, digits);
    if (keyed !== undefined) void this.onKeyed(keyed);
  }

  /**
   * A whole entry: the definition answers it (never the model). A PIN's turn keeps only that one was
   * keyed; a menu key is kept as pressed.
   */
  private async onKeyed(keys: string): Promise<void> {
    const definition = this.definition!;
    const keyedAtMs = this.now();
    let reply: AgentReply;
    try {
      reply = await definition.keypad(keys);
    } catch (error) {
      this.options.logger.error('keypad entry could not be answered; apologising', { callId: this.options.callId, error: error as Error });
      reply = { text: definition.prompts.trouble(), toolCalls: [], timings: { totalMs: 0 } };
    }
    if (this.isClosed()) return;
    const pin = definition.prompts.pinDigits !== 1 || reply.toolCalls.some((t) => t.name === 'verify_caller');
    if (pin) this.options.conversation.appendToHistory('user', PIN_REDACTED, { redacted: 'pin', via: 'dtmf' });
    else this.options.conversation.appendToHistory('user', `(pressed ${keys})`, { via: 'dtmf' });
    // The caller's wait, as on the recognize/play path: from the last tone to the answer ready to speak.
    this.act(reply, definition.agentName, { turnMs: Math.round((this.now() - keyedAtMs) * 10) / 10 });
  }

  /**
   * Once the caller has heard the agent's last words: speaks `text` (a fixed prompt in the agent's
   * words; without prompts, the model is asked to say it), then hangs up or transfers once it has been
   * heard.
   */
  private playThenAct(name: SpokenPromptName, text: string, meta: Record<string, JsonValue>, then: AfterSpeech | undefined): void {
    this.whenPlayedOut(() => {
      if (!this.options.prompts) {
        this.pendingTurnMeta = meta;
        if (then) this.afterNextAgentTurn = then;
        this.session?.requestResponse(`Say exactly this to the caller, and nothing else: "${text}"`);
        return;
      }
      void this.playPrompt(name, text, meta).then((durationMs) => {
        if (then) this.afterMs(durationMs, () => this.carryOut(then));
      });
    });
  }

  private carryOut(then: AfterSpeech): void {
    const fail = (error: unknown): void => this.options.logger.warn(`${then.action} after the agent's reply failed`, { callId: this.options.callId, error: error as Error });
    if (then.action === 'hang-up') {
      if (this.options.hangUp) this.options.hangUp(this.options.callId).catch(fail);
      else this.options.logger.warn('the agent ended the call, but this relay cannot hang up', { callId: this.options.callId });
      return;
    }
    if (this.options.transfer) this.options.transfer(this.options.callId, then.targetNumber).catch(fail);
    else this.options.logger.warn('the agent transferred the call, but this relay cannot transfer', { callId: this.options.callId });
  }

  /** Runs `action` once nothing the agent said is still playing to the caller. */
  private whenPlayedOut(action: () => void): void {
    const poll = (): void => {
      if (this.isClosed()) return;
      if (this.tracker.isAgentAudible(this.now()) || this.outboundAudio.pendingMs > 0) {
        setTimeout(poll, 100).unref();
        return;
      }
      action();
    };
    setTimeout(poll, 100).unref();
  }

  /** No agent session can be opened again: the caller hears the failure prompt, then the call ends. */
  private async endWithFailurePrompt(): Promise<void> {
    const durationMs = await this.playPrompt('failure', this.prompts().failure(), {});
    const hangUp = this.options.hangUp;
    if (!hangUp) return;
    this.afterMs(durationMs, () => {
      hangUp(this.options.callId).catch((error: unknown) => this.options.logger.warn('hang-up after the failure prompt failed', { callId: this.options.callId, error: error as Error }));
    });
  }

  /**
   * Streams a fixed prompt to the caller. Resolves with its duration in ms; 0 when there are no prompts
   * or the audio could not be had (the call goes on without it).
   */
  private async playPrompt(name: SpokenPromptName, text: string, meta: Record<string, JsonValue>): Promise<number> {
    const audio = await this.loadPrompt(name, text);
    return audio ? this.streamPrompt(audio, meta) : 0;
  }

  /** The prompt's audio from the TTS cache (synthesised once); undefined without prompts or on failure. */
  private async loadPrompt(name: SpokenPromptName, text: string): Promise<FixedPromptAudio | undefined> {
    const prompts = this.options.prompts;
    if (!prompts || this.isClosed()) return undefined;
    try {
      const audio = await prompts.audio(name, text);
      return this.isClosed() ? undefined : audio;
    } catch (error) {
      this.options.logger.warn('fixed prompt unavailable; going on without it', { callId: this.options.callId, prompt: name, error: error as Error });
      return undefined;
    }
  }

  /**
   * Sends a prompt in 20 ms AudioData frames at the call's rate (ACS queues and plays them in real
   * time), records it as an agent turn in the conversation and reports it like the model's turns.
   * Returns its duration in ms.
   */
  private streamPrompt(audio: FixedPromptAudio, meta: Record<string, JsonValue>): number {
    if (this.isClosed()) return 0;
    const rateHz = this.acsRateHz;
    this.outboundAudio.flush(); // what the model said so far plays first
    const pcm = createResampler(TTS_SAMPLE_RATE_HZ, rateHz).process(audio.pcm);
    const size = frameBytes(rateHz);
    // The whole prompt is at hand: messages of PROMPT_MESSAGE_FRAMES frames, the last padded to a whole frame.
    const messageBytes = size * PROMPT_MESSAGE_FRAMES;
    for (let offset = 0; offset < pcm.length; offset += messageBytes) {
      let message = pcm.subarray(offset, offset + messageBytes);
      if (message.length % size !== 0) message = Buffer.concat([message, Buffer.alloc(size - (message.length % size))]);
      this.options.send(this.out, buildAudioDataFrame(message.toString('base64')));
      this.stats.framesOut += 1;
    }
    const sentBytes = Math.ceil(pcm.length / size) * size;
    const durationMs = durationMsForBytes(sentBytes, rateHz);
    const startedAtEpochMs = Date.now();
    // The prompt plays like an agent response, so the caller can talk over it (barge-in); its ids are
    // the relay's own and never reach the model.
    const count = ++this.promptCount;
    const itemId = `prompt_${audio.name}_${count}`;
    const responseId = `prompt_response_${count}`;
    this.tracker.onAgentAudioSent(responseId, itemId, sentBytes, this.now());
    this.tracker.setAgentTranscript(responseId, itemId, audio.text);
    this.tracker.onResponseDone(responseId);
    const turn = this.options.conversation.appendToHistory('assistant', audio.text, { kind: 'prompt', prompt: audio.name, ...meta });
    this.promptTurns.set(itemId, turn.id);
    if (this.promptTurns.size > 8) this.promptTurns.delete(this.promptTurns.keys().next().value!);
    this.options.onTurn?.(this.options.callId, { role: 'agent', text: audio.text, itemId, timings: { startedAtEpochMs, endedAtEpochMs: startedAtEpochMs + durationMs, audioDurationMs: durationMs } });
    void this.flush();
    return durationMs;
  }

  /** Runs `action` once `durationMs` (plus a little jitter allowance) has passed, unless the call closed. */
  private afterMs(durationMs: number, action: () => void): void {
    setTimeout(() => {
      if (!this.isClosed()) action();
    }, durationMs + PLAYOUT_MARGIN_MS).unref();
  }

  // ── turns → Redis ──────────────────────────────────────────────────────────────────────────

  /** The turn with its text within the configured limit, and the cut to record (logged once per turn). */
  private bounded(turn: CompletedTurn): CompletedTurn & { readonly cut: Record<string, JsonValue> } {
    const maxChars = turn.role === 'user' ? this.options.limits?.callerTextChars : this.options.limits?.agentTextChars;
    if (maxChars === undefined) return { ...turn, cut: {} };
    const bounded = limitText(turn.text, maxChars);
    if (bounded.truncatedFrom !== undefined) {
      this.options.logger.warn('media turn transcript over the limit; truncated', { callId: this.options.callId, role: turn.role, length: bounded.truncatedFrom, kept: bounded.text.length });
    }
    return { ...turn, text: bounded.text, cut: truncationMeta(bounded) };
  }

  private onTurnCompleted(completed: CompletedTurn): void {
    if (this.abandoned) return;
    const conversation = this.options.conversation;
    const turn = this.bounded(completed);
    if (turn.role === 'user') {
      conversation.appendToHistory('user', turn.text, { itemId: turn.itemId, ...timingMeta(turn), ...turn.cut, ...this.callerAudioPosition.turnMeta(turn.itemId) });
    } else {
      this.outboundAudio.flush(); // the response is complete: its tail goes now
      if (turn.responseId !== undefined) this.tracker.onResponseDone(turn.responseId);
      this.tracker.prune(this.now());
      // The tools of this turn and who spoke it (the call core's transcript meta, as on the recognize/play path).
      // With a definition, the caller's wait (end of speech to first audio) is the turn's latency per agent.
      const wait: Record<string, JsonValue> = this.definition && turn.timings.ttfaMs !== undefined ? { turnMs: Math.round(turn.timings.ttfaMs) } : {};
      const agentMeta = { ...(this.pendingTurnMeta ?? this.turnMeta(this.takePendingTools())), ...wait };
      this.pendingTurnMeta = undefined;
      const bargeIn = this.fullTranscripts.get(turn.itemId);
      if (bargeIn) {
        // The generated turn, then a truncation marker with what the caller heard: reads show the
        // heard text, the raw history keeps what the model said, and analytics count the marker.
        this.fullTranscripts.delete(turn.itemId);
        const generated = this.options.limits ? limitText(bargeIn.fullTranscript || turn.text, this.options.limits.agentTextChars) : { text: bargeIn.fullTranscript || turn.text };
        const full = conversation.appendToHistory('assistant', generated.text, { itemId: turn.itemId, interrupted: true, ...timingMeta(turn), ...truncationMeta(generated), ...agentMeta });
        conversation.appendToHistory('assistant', turn.text, { kind: 'truncation', replaces: full.id, heardMs: bargeIn.audioEndMs });
        conversation.setBargeIn(false);
      } else {
        conversation.appendToHistory('assistant', turn.text, { itemId: turn.itemId, ...(turn.interrupted ? { interrupted: true } : {}), ...timingMeta(turn), ...turn.cut, ...agentMeta });
        if (this.bargeInOverPrompt) conversation.setBargeIn(false);
      }
      this.bargeInOverPrompt = false;
    }
    this.options.onTurn?.(this.options.callId, turn);
    if (turn.role === 'agent' && this.afterNextAgentTurn !== undefined) {
      const then = this.afterNextAgentTurn;
      this.afterNextAgentTurn = undefined;
      this.whenPlayedOut(() => this.carryOut(then));
    }
    void this.flush().then(() => {
      this.stats.turnsPersisted += 1;
    });
  }

  /** The agent turn was reported before the truncate reached the session: mark what the caller heard. */
  private onLateTruncation(turn: TruncatedTurn): void {
    if (this.abandoned) return;
    this.fullTranscripts.delete(turn.itemId);
    this.options.conversation.truncateLastAgentTurn(turn.text, { heardMs: turn.audioEndMs });
    void this.flush();
  }

  /** One flush at a time, in order; a failure (journal full, store closed) stays staged for the next. */
  private flush(): Promise<void> {
    this.flushChain = this.flushChain.then(async () => {
      if (this.abandoned) return;
      try {
        await this.options.conversation.flush();
      } catch (error) {
        this.stats.flushFailures += 1;
        this.options.logger.warn('turn not persisted yet; kept for the next flush', { callId: this.options.callId, error: error as Error });
      }
    });
    return this.flushChain;
  }

  // ── formats and buffers ────────────────────────────────────────────────────────────────────

  private onAudioMetadata(sampleRateHz: number): void {
    if (sampleRateHz === this.acsRateHz || (sampleRateHz !== 16000 && sampleRateHz !== 24000)) return;
    this.acsRateHz = sampleRateHz;
    this.inbound = createResampler(sampleRateHz, AGENT_SAMPLE_RATE_HZ);
    this.outbound = createResampler(AGENT_SAMPLE_RATE_HZ, sampleRateHz);
    this.tracker = new PlaybackTracker({ sampleRateHz });
    this.outboundAudio.drop();
    this.outboundAudio = this.coalescer(sampleRateHz);
  }

  private keepWhileConnecting(audio: string): void {
    this.pending.push(audio);
    const max = this.options.maxPendingFrames ?? 250;
    if (this.pending.length > max) {
      this.stats.framesDroppedWhileConnecting += this.pending.length - max;
      this.pending.splice(0, this.pending.length - max);
    }
  }
}

/** What follows the agent's words once the caller has heard them. */
type AfterSpeech = { readonly action: 'hang-up' } | { readonly action: 'transfer'; readonly targetNumber?: string | undefined };

/** The caller's last words when no agent turn followed them (truncation markers count as agent turns). */
function unansweredCallerTurn(history: ReadonlyArray<{ readonly role: string; readonly content: string }>): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const turn = history[i]!;
    if (turn.role === 'assistant') return undefined;
    if (turn.role === 'user') return turn.content.trim() === '' ? undefined : turn.content;
  }
  return undefined;
}

function timingMeta(turn: CompletedTurn): Record<string, JsonValue> {
  const t = turn.timings;
  return {
    startedAt: new Date(t.startedAtEpochMs).toISOString(),
    endedAt: new Date(t.endedAtEpochMs).toISOString(),
    ...(t.ttfaMs === undefined ? {} : { ttfaMs: Math.round(t.ttfaMs) }),
    ...(t.audioDurationMs === undefined ? {} : { audioMs: t.audioDurationMs }),
  };
}
