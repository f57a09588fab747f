/**
 * One realtime voice conversation with Azure OpenAI: caller audio in, agent audio and transcripts out,
 * server VAD deciding turns, tools run through an injected handler, barge-in through `cancelResponse`
 * and `truncate`. The session owns no call state: completed turns are handed to `onTurnCompleted` for
 * the ConversationManager to persist.
 */

import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeFunctionTool, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { durationMsForBase64 } from '../../media/audio.js';
import { truncateTranscript } from '../../media/barge-in.js';
import { openRealtimeSocket } from './connect.js';
import { RealtimeAgentError } from './errors.js';
import { REALTIME_SAMPLE_RATE_HZ, buildSessionUpdate } from './session-config.js';
import { parseToolArguments, SilentToolOutput, type ToolCallRequest } from './tools.js';
import { MetricsRecorder, type RealtimeAgentMetrics, type RealtimeMetric } from './metrics.js';
import type { RealtimeAgentHandlers, RealtimeAgentOptions, TurnTimings } from './types.js';

type ResponseState = {
  readonly id: string;
  readonly startedAtEpochMs: number;
  /** The speech stop this response answers (for TTFA), if any. */
  readonly answersSpeechStoppedAt: number | undefined;
  itemId: string | undefined;
  transcript: string;
  audioMs: number;
  firstAudioAt: number | undefined;
  ttfaMs: number | undefined;
  readonly toolCalls: Array<{ callId: string; result: Promise<unknown> }>;
};

type UserSpeech = { itemId: string; startedAtEpochMs: number; audioStartMs: number; audioEndMs?: number; endedAtEpochMs?: number };

type AgentItem = { responseId: string; transcript: string; audioMs: number; reported: boolean; truncatedText?: string };

const IGNORABLE_SERVER_ERRORS = new Set(['response_cancel_not_active']);

/**
 * @example
 * const session = await RealtimeAgentSession.connect({
 *   endpoint, deployment, apiVersion, apiKey,
 *   instructions: buildRealtimeInstructions({ context, canTransfer: true, canLookUpProfile: true }),
 *   tools: realtimeToolsFor({ canTransfer: true, canLookUpProfile: true }),
 *   handlers: { onAudioDelta: (b64) => relay.sendToCaller(b64), onTurnCompleted: (t) => conversation.append(t),
 *               onToolCall: dispatchTools({ end_call: () => ({ ok: true }) }) },
 *   signal,
 * });
 * session.appendAudio(frameBase64);
 */
export class RealtimeAgentSession {
  private readonly handlers: RealtimeAgentHandlers;
  private readonly now: () => number;
  private readonly metricsRecorder = new MetricsRecorder();
  private readonly agentItems = new Map<string, AgentItem>();
  private active: ResponseState | undefined;
  private userSpeech: UserSpeech | undefined;
  private lastSpeechStoppedAt: number | undefined;
  private sessionIdValue: string | undefined;
  private closing = false;
  /** The model has spoken in this session: the service no longer accepts a change of voice. */
  private spoke = false;
  private closedPromise: Promise<void>;
  private readonly abortListener: (() => void) | undefined;

  private constructor(
    private readonly socket: OpenAIRealtimeWS,
    private readonly options: RealtimeAgentOptions,
  ) {
    this.handlers = options.handlers ?? {};
    this.now = options.now ?? (() => performance.now());
    this.closedPromise = new Promise<void>((resolve) => {
      socket.socket.once('close', (code: number, reason: Buffer) => {
        options.signal?.removeEventListener('abort', this.abortListener ?? noop);
        const wasExpected = this.closing;
        this.closing = true;
        if (!wasExpected) {
          this.reportError(
            new RealtimeAgentError(`Realtime socket closed unexpectedly (${code})`, { code: 'unavailable', retryable: true }),
          );
        }
        this.handlers.onClose?.({ code, reason: reason.toString() });
        resolve();
      });
    });
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('event', (event) => this.onServerEvent(event));
    if (options.signal) {
      this.abortListener = () => void this.close();
      options.signal.addEventListener('abort', this.abortListener, { once: true });
    }
  }

  /** Opens the socket, configures the session and resolves once the service confirmed it. */
  static async connect(options: RealtimeAgentOptions): Promise<RealtimeAgentSession> {
    const socket = await openRealtimeSocket(options);
    const session = new RealtimeAgentSession(socket, options);
    try {
      await session.configure();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  /** The service's session id (from `session.created`). */
  get sessionId(): string | undefined {
    return this.sessionIdValue;
  }

  /** The response being generated, if any. */
  get activeResponseId(): string | undefined {
    return this.active?.id;
  }

  get isClosed(): boolean {
    return this.closing;
  }

  /**
   * Another agent takes the conversation over (a handoff): its instructions and tools by
   * `session.update`, the conversation kept. The service accepts a new voice only until the model has
   * produced audio in the session, so after that the voice stays; returns whether it changed.
   */
  update(settings: { readonly instructions: string; readonly tools: readonly RealtimeFunctionTool[]; readonly voice?: string | undefined }): { readonly voiceChanged: boolean } {
    if (this.closing) return { voiceChanged: false };
    const voiceChanged = settings.voice !== undefined && !this.spoke;
    this.socket.send({
      type: 'session.update',
      session: { type: 'realtime', instructions: settings.instructions, tools: [...settings.tools], ...(voiceChanged ? { audio: { output: { voice: settings.voice } } } : {}) },
    });
    return { voiceChanged };
  }

  /** Sends caller audio (base64 PCM16 LE mono 24 kHz). Cheap: the string is passed through. */
  appendAudio(base64Pcm: string): void {
    if (this.closing) return;
    this.socket.send({ type: 'input_audio_buffer.append', audio: base64Pcm });
  }

  /** Asks the model to speak without caller input (e.g. the greeting), optionally with instructions. */
  requestResponse(instructions?: string): void {
    if (this.closing) return;
    this.socket.send({ type: 'response.create', ...(instructions === undefined ? {} : { response: { instructions } }) });
  }

  /**
   * Puts the caller's words into the conversation as a text item and asks for the answer: for a turn
   * the caller finished on another session (a relay that died before answering it).
   */
  respondTo(callerText: string): void {
    if (this.closing) return;
    this.socket.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: callerText }] } });
    this.socket.send({ type: 'response.create' });
  }

  /** Cancels the response being generated; a no-op when none is (the service may have stopped it already). */
  cancelResponse(): void {
    if (this.closing || this.active === undefined) return;
    this.socket.send({ type: 'response.cancel', response_id: this.active.id });
  }

  /**
   * Tells the service the caller heard only `audioEndMs` of the agent item, so the conversation (and the
   * reported agent turn) holds what was actually said. Returns the heard transcript.
   */
  truncate(itemId: string, audioEndMs: number): string {
    const item = this.agentItems.get(itemId);
    // Never past the audio the service generated (it refuses that); unknown items are passed as given.
    const requestedMs = Math.max(0, Math.floor(audioEndMs));
    const clampedMs = item === undefined ? requestedMs : Math.min(requestedMs, Math.floor(item.audioMs));
    const heard = item === undefined ? '' : truncateTranscript(item.transcript, clampedMs, item.audioMs);
    if (!this.closing) {
      this.socket.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: clampedMs });
    }
    if (item !== undefined) {
      item.truncatedText = heard;
      if (item.reported) this.handlers.onAgentTurnTruncated?.({ itemId, responseId: item.responseId, text: heard, audioEndMs: clampedMs });
    }
    return heard;
  }

  metrics(): RealtimeAgentMetrics {
    return this.metricsRecorder.snapshot();
  }

  /** Closes the socket (idempotent); resolves once it is closed. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.socket.close({ code: 1000, reason: 'session closed' });
      // A peer that never answers the close handshake must not keep the process alive.
      const timer = setTimeout(() => this.socket.socket.terminate(), 2_000);
      timer.unref();
      await this.closedPromise;
      clearTimeout(timer);
      return;
    }
    await this.closedPromise;
  }

  // ---------------------------------------------------------------------------------------------

  private configure(): Promise<void> {
    const timeoutMs = this.options.sessionUpdateTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new RealtimeAgentError('No session.updated from the realtime service', { code: 'timeout', retryable: true })),
        timeoutMs,
      );
      const onEvent = (event: RealtimeServerEvent): void => {
        if (event.type === 'session.updated') done();
      };
      const onError = (error: Error & { error?: { code?: string | null; message?: string } }): void => {
        done(
          new RealtimeAgentError(`Realtime session rejected its configuration: ${error.message}`, {
            code: 'server',
            retryable: false,
            serverCode: error.error?.code ?? undefined,
            cause: error,
          }),
        );
      };
      const onClose = (): void =>
        done(
          this.options.signal?.aborted
            ? new RealtimeAgentError('Realtime connection aborted', { code: 'aborted', retryable: false, cause: this.options.signal.reason })
            : new RealtimeAgentError('Realtime socket closed before the session was configured', { code: 'unavailable', retryable: true }),
        );
      const done = (error?: RealtimeAgentError): void => {
        clearTimeout(timer);
        this.socket.off('event', onEvent);
        this.socket.off('error', onError);
        this.socket.socket.off('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      this.socket.on('event', onEvent);
      this.socket.on('error', onError);
      this.socket.socket.once('close', onClose);
      this.socket.send(
        buildSessionUpdate({
          instructions: this.options.instructions,
          tools: this.options.tools,
          voice: this.options.voice,
          transcriptionModel: this.options.transcriptionModel,
          language: this.options.language,
          vad: this.options.vad,
        }),
      );
    });
  }

  private onServerEvent(event: RealtimeServerEvent): void {
    switch (event.type) {
      case 'session.created':
        // The service sends the id although the request-shaped type in the SDK does not declare it.
        this.sessionIdValue = (event.session as { id?: string }).id;
        break;
      case 'input_audio_buffer.speech_started':
        this.userSpeech = { itemId: event.item_id, startedAtEpochMs: Date.now(), audioStartMs: event.audio_start_ms };
        this.handlers.onSpeechStarted?.({ itemId: event.item_id, audioStartMs: event.audio_start_ms });
        break;
      case 'input_audio_buffer.speech_stopped':
        this.lastSpeechStoppedAt = this.now();
        if (this.userSpeech?.itemId === event.item_id) {
          this.userSpeech.audioEndMs = event.audio_end_ms;
          this.userSpeech.endedAtEpochMs = Date.now();
        }
        this.handlers.onSpeechStopped?.({ itemId: event.item_id, audioEndMs: event.audio_end_ms });
        break;
      case 'conversation.item.input_audio_transcription.completed':
        this.onUserTranscript(event.item_id, event.transcript);
        break;
      case 'response.created':
        this.onResponseCreated(event.response.id ?? `response-${Date.now()}`);
        break;
      case 'response.output_item.added':
        if (this.active && event.item.type === 'message' && event.item.id) {
          this.active.itemId = event.item.id;
          this.agentItems.set(event.item.id, { responseId: this.active.id, transcript: '', audioMs: 0, reported: false });
        }
        break;
      case 'response.output_audio.delta':
        this.spoke = true;
        this.onAudioDelta(event.response_id, event.item_id, event.delta);
        break;
      case 'response.output_audio_transcript.delta':
        this.onTranscriptDelta(event.response_id, event.item_id, event.delta);
        break;
      case 'response.output_audio_transcript.done':
        this.handlers.onAgentTranscript?.(event.transcript, event.response_id, true, event.item_id);
        break;
      case 'response.function_call_arguments.done':
        this.onFunctionCall(event.response_id, event.call_id, event.name, event.arguments);
        break;
      case 'response.done':
        void this.onResponseDone(event.response);
        break;
      default:
        break;
    }
  }

  private onUserTranscript(itemId: string, transcript: string): void {
    const speech = this.userSpeech?.itemId === itemId ? this.userSpeech : undefined;
    const endedAtEpochMs = speech?.endedAtEpochMs ?? Date.now();
    const timings: TurnTimings = {
      startedAtEpochMs: speech?.startedAtEpochMs ?? endedAtEpochMs,
      endedAtEpochMs,
      ...(speech ? { audioStartMs: speech.audioStartMs } : {}),
      ...(speech?.audioEndMs === undefined ? {} : { audioEndMs: speech.audioEndMs }),
    };
    this.handlers.onUserTranscript?.(transcript, timings);
    if (transcript.trim() !== '') this.handlers.onTurnCompleted?.({ role: 'user', text: transcript, itemId, timings });
  }

  private onResponseCreated(responseId: string): void {
    // Latency is measured for the first response after the caller stopped speaking.
    const answers = this.lastSpeechStoppedAt;
    this.lastSpeechStoppedAt = undefined;
    this.active = {
      id: responseId,
      startedAtEpochMs: Date.now(),
      answersSpeechStoppedAt: answers,
      itemId: undefined,
      transcript: '',
      audioMs: 0,
      firstAudioAt: undefined,
      ttfaMs: undefined,
      toolCalls: [],
    };
  }

  private onAudioDelta(responseId: string, itemId: string, delta: string): void {
    const response = this.active?.id === responseId ? this.active : undefined;
    const durationMs = durationMsForBase64(delta, REALTIME_SAMPLE_RATE_HZ);
    if (response) {
      response.audioMs += durationMs;
      if (response.firstAudioAt === undefined) {
        response.firstAudioAt = this.now();
        if (response.answersSpeechStoppedAt !== undefined) {
          response.ttfaMs = response.firstAudioAt - response.answersSpeechStoppedAt;
          this.emitMetric(this.metricsRecorder.recordTtfa(responseId, response.ttfaMs));
        }
      }
    }
    const item = this.agentItems.get(itemId);
    if (item) item.audioMs += durationMs;
    this.handlers.onAudioDelta?.(delta, responseId, itemId);
  }

  private onTranscriptDelta(responseId: string, itemId: string, delta: string): void {
    if (this.active?.id === responseId) this.active.transcript += delta;
    const item = this.agentItems.get(itemId);
    if (item) item.transcript += delta;
    this.handlers.onAgentTranscript?.(delta, responseId, false, itemId);
  }

  private onFunctionCall(responseId: string, callId: string, name: string, argumentsJson: string): void {
    const request: ToolCallRequest = { name, args: parseToolArguments(argumentsJson), callId, responseId };
    const result = Promise.resolve()
      .then(() => (this.handlers.onToolCall ? this.handlers.onToolCall(request) : { error: 'no tools available' }))
      .catch((error: unknown) => {
        this.reportError(new RealtimeAgentError(`Tool ${name} failed`, { code: 'tool', retryable: false, cause: error }));
        return { error: `tool ${name} failed` };
      });
    this.active?.toolCalls.push({ callId, result });
  }

  private async onResponseDone(response: { id?: string; status?: string; usage?: unknown }): Promise<void> {
    const state = this.active?.id === response.id ? this.active : undefined;
    if (state) this.active = undefined;
    const responseId = response.id ?? state?.id ?? 'unknown';
    this.emitMetric(this.metricsRecorder.recordResponse(responseId, response.status ?? 'completed', response.usage));
    if (state === undefined) return;

    const item = state.itemId === undefined ? undefined : this.agentItems.get(state.itemId);
    if (state.itemId !== undefined && item !== undefined && item.transcript.trim() !== '') {
      const interrupted = response.status === 'cancelled' || item.truncatedText !== undefined;
      item.reported = true;
      this.handlers.onTurnCompleted?.({
        role: 'agent',
        text: item.truncatedText ?? item.transcript,
        itemId: state.itemId,
        responseId,
        interrupted,
        timings: {
          startedAtEpochMs: state.startedAtEpochMs,
          endedAtEpochMs: Date.now(),
          audioDurationMs: Math.round(state.audioMs),
          ...(state.ttfaMs === undefined ? {} : { ttfaMs: state.ttfaMs }),
        },
      });
    }
    this.pruneAgentItems();

    // Tool calls end a response; the model continues once it has the outputs, unless every output
    // is silent (the caller hears something else instead).
    if (state.toolCalls.length > 0 && response.status === 'completed') {
      let reply = false;
      for (const call of state.toolCalls) {
        const result = await call.result;
        if (this.closing) return;
        const silent = result instanceof SilentToolOutput;
        if (!silent) reply = true;
        const output: unknown = silent ? result.output : result;
        this.socket.send({
          type: 'conversation.item.create',
          item: { type: 'function_call_output', call_id: call.callId, output: JSON.stringify(output ?? null) },
        });
      }
      if (reply) this.socket.send({ type: 'response.create' });
    }
  }

  private pruneAgentItems(): void {
    // Only the latest few items can still be truncated; keep memory bounded on long calls.
    while (this.agentItems.size > 8) {
      const oldest = this.agentItems.keys().next().value;
      if (oldest === undefined) break;
      this.agentItems.delete(oldest);
    }
  }

  private onSocketError(error: Error & { error?: { code?: string | null; message?: string; type?: string } }): void {
    const serverCode = error.error?.code ?? undefined;
    if (serverCode !== undefined && IGNORABLE_SERVER_ERRORS.has(serverCode)) return;
    if (error.error !== undefined) {
      this.reportError(
        new RealtimeAgentError(`Realtime service error: ${error.error.message ?? error.message}`, {
          code: 'server',
          retryable: error.error.type === 'server_error',
          serverCode,
          cause: error,
        }),
      );
      return;
    }
    this.reportError(new RealtimeAgentError(`Realtime socket error: ${error.message}`, { code: 'unavailable', retryable: true, cause: error }));
  }

  private reportError(error: RealtimeAgentError): void {
    if (this.handlers.onError) this.handlers.onError(error);
    else this.options.logger?.warn('realtime agent error', { code: error.code, retryable: error.retryable, message: error.message });
  }

  private emitMetric(metric: RealtimeMetric): void {
    this.handlers.onMetrics?.(metric);
  }
}

function noop(): void {}
