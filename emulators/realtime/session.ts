/**
 * One emulated realtime conversation: the protocol subset the agent uses, GA event names as typed in
 * openai 6.49 (`response.output_audio.delta`, `response.output_audio_transcript.delta`…).
 */

import type { WebSocket } from 'ws';
import { durationMsForBytes, FRAME_DURATION_MS } from '../../src/lib/media/audio.js';
import { EnergyVad } from './vad.js';
import { ToneGenerator } from './voice.js';
import type { Responder, ResponderReply } from './responder.js';
import type { UtteranceScript } from './utterances.js';

export const EMULATOR_SAMPLE_RATE_HZ = 24000;

export type EmulatedSessionOptions = {
  readonly responder: Responder;
  readonly utterances: UtteranceScript;
  readonly correlationId: string | undefined;
  /** Length of each spoken word. */
  readonly speechMsPerWord: number;
  /** 1 = real time, 0.5 = twice as fast, 0 = all at once. */
  readonly paceFactor: number;
  readonly vadThresholdRms: number;
  /** What a user turn whose start the session never heard is transcribed as (see {@link TailTranscription}). */
  readonly tailTranscription: TailTranscription;
};

/**
 * A session that joins an utterance already under way (a relay that took the call over mid-sentence)
 * hears only its tail. `unintelligible`, as a real model would not recover the words it never heard:
 * the turn is transcribed as an empty transcript (the scripted words it stood for are used up), and
 * the response is created as server VAD does. `whole`: the scripted words are transcribed as if the
 * whole utterance had been heard (lenient, for tests about something else).
 */
export type TailTranscription = 'unintelligible' | 'whole';

export type EmulatedItem = {
  readonly id: string;
  readonly role: 'user' | 'assistant' | 'tool';
  readonly type: 'message' | 'function_call' | 'function_call_output';
  text: string;
  /** Assistant audio generated for the item so far. */
  audioMs: number;
  /** Word start times of assistant audio, for exact truncation. */
  readonly words: Array<{ word: string; startMs: number }>;
  truncatedAtMs?: number;
  /** The words that started before the truncation point: what the caller heard. */
  heardText?: string;
  name?: string;
  callId?: string;
};

type ActiveResponse = {
  readonly id: string;
  readonly item: EmulatedItem | undefined;
  timer: NodeJS.Timeout | undefined;
  finish: (status: 'completed' | 'cancelled', reason?: string) => void;
};

type SessionConfig = Record<string, any>;

let counter = 0;
const nextId = (prefix: string): string => `${prefix}_${Date.now().toString(36)}${(++counter).toString(36).padStart(4, '0')}`;

export class EmulatedRealtimeSession {
  readonly id = nextId('sess');
  readonly correlationId: string | undefined;
  /** The conversation, oldest first. */
  readonly items: EmulatedItem[] = [];
  /** Client event types in arrival order (audio appends counted, not listed). */
  readonly received: string[] = [];
  readonly responses: Array<{ id: string; status: string; reason?: string }> = [];
  appendedAudioMs = 0;
  config: SessionConfig = {
    type: 'realtime',
    instructions: '',
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: EMULATOR_SAMPLE_RATE_HZ },
        transcription: null,
        turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true },
      },
      output: { format: { type: 'audio/pcm', rate: EMULATOR_SAMPLE_RATE_HZ }, voice: 'alloy' },
    },
    tools: [],
  };
  closed = false;

  private readonly vad: EnergyVad;
  private active: ActiveResponse | undefined;
  private userItemId: string | undefined;
  /** Whether the current user turn's speech began within this session's audio (see TailTranscription). */
  private userOnsetHeard = true;
  /** User turns transcribed as unintelligible because only their tail was heard. */
  unintelligibleTurns = 0;
  private lastUserText = '';
  private pendingToolOutputs: Array<{ name: string; output: string }> = [];
  private responseCount = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: EmulatedSessionOptions,
  ) {
    this.correlationId = options.correlationId;
    this.vad = new EnergyVad({ sampleRateHz: EMULATOR_SAMPLE_RATE_HZ, thresholdRms: options.vadThresholdRms });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('close', () => {
      this.closed = true;
      if (this.active?.timer) clearTimeout(this.active.timer);
      this.active = undefined;
    });
    this.send({ type: 'session.created', session: { id: this.id, object: 'realtime.session', ...this.config } });
  }

  /** Whether server VAD hears the caller speaking now (tests time a failure mid-utterance by it). */
  get callerSpeaking(): boolean {
    return this.vad.isSpeaking;
  }

  /** Ends the conversation from the server side. */
  terminate(): void {
    if (this.active?.timer) clearTimeout(this.active.timer);
    this.active = undefined;
    this.ws.terminate();
  }

  private send(event: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ event_id: nextId('event'), ...event }));
  }

  private error(code: string, message: string, clientEventId?: string, type = 'invalid_request_error'): void {
    this.send({ type: 'error', error: { type, code, message, param: null, event_id: clientEventId ?? null } });
  }

  private onMessage(text: string): void {
    let event: Record<string, any>;
    try {
      event = JSON.parse(text) as Record<string, any>;
    } catch {
      this.error('invalid_json', 'The event is not valid JSON');
      return;
    }
    const type = String(event['type']);
    if (type !== 'input_audio_buffer.append') this.received.push(type);
    switch (type) {
      case 'session.update':
        return this.onSessionUpdate(event);
      case 'input_audio_buffer.append':
        return this.onAudio(String(event['audio'] ?? ''));
      case 'input_audio_buffer.commit':
        return this.commitUserTurn(this.userItemId ?? nextId('item'));
      case 'input_audio_buffer.clear':
        this.send({ type: 'input_audio_buffer.cleared' });
        return;
      case 'conversation.item.create':
        return this.onItemCreate(event);
      case 'conversation.item.truncate':
        return this.onTruncate(event);
      case 'response.create':
        if (this.active) {
          this.error('conversation_already_has_active_response', `Conversation already has an active response in progress: ${this.active.id}`, event['event_id']);
          return;
        }
        void this.startResponse(event['response']?.instructions);
        return;
      case 'response.cancel':
        if (!this.active || (event['response_id'] && event['response_id'] !== this.active.id)) {
          this.error('response_cancel_not_active', 'Cancellation failed: no active response found.', event['event_id']);
          return;
        }
        this.active.finish('cancelled', 'client_cancelled');
        return;
      default:
        this.error('unknown_event', `Unsupported event type ${type}`, event['event_id']);
    }
  }

  private onSessionUpdate(event: Record<string, any>): void {
    const session = event['session'] as SessionConfig | undefined;
    if (!session || session['type'] !== 'realtime') {
      this.error('missing_required_parameter', "Missing required parameter: 'session.type'.", event['event_id']);
      return;
    }
    const rate = session['audio']?.input?.format?.rate;
    if (rate !== undefined && rate !== EMULATOR_SAMPLE_RATE_HZ) {
      this.error('invalid_value', 'audio/pcm only supports a rate of 24000', event['event_id']);
      return;
    }
    this.config = {
      ...this.config,
      ...session,
      audio: {
        input: { ...this.config['audio'].input, ...session['audio']?.input },
        output: { ...this.config['audio'].output, ...session['audio']?.output },
      },
    };
    const vad = this.config['audio'].input.turn_detection;
    if (vad) {
      this.vad.prefixPaddingMs = vad.prefix_padding_ms ?? 300;
      this.vad.silenceDurationMs = vad.silence_duration_ms ?? 500;
    }
    this.send({ type: 'session.updated', session: { id: this.id, object: 'realtime.session', ...this.config } });
  }

  private onAudio(base64: string): void {
    const pcm = Buffer.from(base64, 'base64');
    this.appendedAudioMs += durationMsForBytes(pcm.length, EMULATOR_SAMPLE_RATE_HZ);
    const vadConfig = this.config['audio'].input.turn_detection;
    if (!vadConfig) return;
    for (const transition of this.vad.push(pcm)) {
      if (transition.type === 'speech_started') {
        this.userItemId = nextId('item');
        this.userOnsetHeard = transition.onsetHeard;
        this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: transition.audioStartMs, item_id: this.userItemId });
        if (this.active && vadConfig.interrupt_response !== false) this.active.finish('cancelled', 'turn_detected');
      } else {
        const itemId = this.userItemId ?? nextId('item');
        this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: transition.audioEndMs, item_id: itemId });
        this.commitUserTurn(itemId);
        if (vadConfig.create_response !== false && !this.active) void this.startResponse(undefined);
      }
    }
  }

  private commitUserTurn(itemId: string): void {
    const previous = this.items[this.items.length - 1]?.id ?? null;
    const scripted = this.options.utterances.next([this.correlationId, this.id]);
    const tailOnly = !this.userOnsetHeard && this.options.tailTranscription === 'unintelligible';
    this.userOnsetHeard = true;
    if (tailOnly) this.unintelligibleTurns += 1;
    const transcript = tailOnly ? '' : scripted;
    const item: EmulatedItem = { id: itemId, role: 'user', type: 'message', text: transcript, audioMs: 0, words: [] };
    this.items.push(item);
    this.lastUserText = transcript;
    this.userItemId = undefined;
    this.send({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: previous });
    this.send({
      type: 'conversation.item.created',
      previous_item_id: previous,
      item: { id: itemId, object: 'realtime.item', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_audio', transcript: null }] },
    });
    if (this.config['audio'].input.transcription) {
      this.send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: 1 },
      });
    }
  }

  private onItemCreate(event: Record<string, any>): void {
    const item = event['item'] as Record<string, any> | undefined;
    const id = (item?.['id'] as string | undefined) ?? nextId('item');
    if (item?.['type'] === 'function_call_output') {
      const call = this.items.find((i) => i.type === 'function_call' && i.callId === item['call_id']);
      if (!call) {
        this.error('invalid_value', `No function call with call_id ${String(item['call_id'])}`, event['event_id']);
        return;
      }
      const output = String(item['output'] ?? '');
      this.items.push({ id, role: 'tool', type: 'function_call_output', text: output, audioMs: 0, words: [], callId: call.callId, name: call.name });
      this.pendingToolOutputs.push({ name: call.name ?? '', output });
    } else if (item?.['type'] === 'message') {
      const text = (item['content'] as Array<{ text?: string }> | undefined)?.map((c) => c.text ?? '').join(' ') ?? '';
      const role = item['role'] === 'assistant' ? 'assistant' : 'user';
      this.items.push({ id, role, type: 'message', text, audioMs: 0, words: [] });
      if (role === 'user') this.lastUserText = text;
    } else {
      this.error('invalid_value', `Unsupported item type ${String(item?.['type'])}`, event['event_id']);
      return;
    }
    this.send({ type: 'conversation.item.created', previous_item_id: null, item: { ...item, id, object: 'realtime.item', status: 'completed' } });
  }

  private onTruncate(event: Record<string, any>): void {
    const item = this.items.find((i) => i.id === event['item_id']);
    const audioEndMs = Number(event['audio_end_ms']);
    if (!item || item.role !== 'assistant') {
      this.error('invalid_value', `No assistant audio item with id ${String(event['item_id'])}`, event['event_id']);
      return;
    }
    if (!Number.isFinite(audioEndMs) || audioEndMs < 0 || audioEndMs > Math.ceil(item.audioMs)) {
      this.error('invalid_value', `audio_end_ms ${audioEndMs} is beyond the item's ${item.audioMs} ms of audio`, event['event_id']);
      return;
    }
    item.truncatedAtMs = audioEndMs;
    item.heardText = item.words
      .filter((w) => w.startMs < audioEndMs)
      .map((w) => w.word)
      .join(' ');
    this.send({ type: 'conversation.item.truncated', item_id: item.id, content_index: 0, audio_end_ms: audioEndMs });
  }

  private async startResponse(responseInstructions: string | undefined): Promise<void> {
    const responseId = nextId('resp');
    this.responseCount += 1;
    // Reserve the slot at once so a second response.create in the same tick is refused.
    const placeholder: ActiveResponse = { id: responseId, item: undefined, timer: undefined, finish: () => {} };
    this.active = placeholder;
    const userText = this.lastUserText;
    const toolOutputs = this.pendingToolOutputs;
    this.lastUserText = '';
    this.pendingToolOutputs = [];
    this.send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
    let reply: ResponderReply;
    try {
      reply = await this.options.responder({
        sessionId: this.id,
        correlationId: this.correlationId,
        userText,
        toolOutputs,
        instructions: String(this.config['instructions'] ?? ''),
        toolNames: ((this.config['tools'] ?? []) as Array<{ name?: string }>).map((t) => t.name ?? ''),
        responseInstructions,
        responseNumber: this.responseCount,
      });
    } catch (error) {
      this.active = undefined;
      this.responses.push({ id: responseId, status: 'failed' });
      this.send({ type: 'response.done', response: { id: responseId, object: 'realtime.response', status: 'failed', output: [], status_details: { type: 'failed', error: { type: 'server_error', code: 'responder_failed', message: String(error) } } } });
      return;
    }
    if (this.closed || this.active !== placeholder) return; // cancelled while the responder ran
    if ('toolCall' in reply) this.sendToolCall(responseId, reply.toolCall.name, JSON.stringify(reply.toolCall.arguments), userText);
    else this.speak(responseId, reply.text, userText);
  }

  private sendToolCall(responseId: string, name: string, args: string, userText: string): void {
    const callId = nextId('call');
    const item: EmulatedItem = { id: nextId('item'), role: 'assistant', type: 'function_call', text: args, audioMs: 0, words: [], name, callId };
    this.items.push(item);
    const wire = { id: item.id, object: 'realtime.item', type: 'function_call', name, call_id: callId };
    this.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { ...wire, arguments: '', status: 'in_progress' } });
    this.send({ type: 'response.function_call_arguments.delta', response_id: responseId, item_id: item.id, output_index: 0, call_id: callId, delta: args });
    this.send({ type: 'response.function_call_arguments.done', response_id: responseId, item_id: item.id, output_index: 0, call_id: callId, name, arguments: args });
    const done = { ...wire, arguments: args, status: 'completed' };
    this.send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: done });
    this.active = undefined;
    this.responses.push({ id: responseId, status: 'completed' });
    this.send({ type: 'response.done', response: { id: responseId, object: 'realtime.response', status: 'completed', output: [done], usage: usage(userText, args, 0) } });
  }

  /** Streams synthetic speech for `text`: one 20 ms audio delta per frame, each word's transcript as it starts. */
  private speak(responseId: string, text: string, userText: string): void {
    const words = text.split(/\s+/).filter(Boolean);
    const totalFrames = Math.max(1, Math.ceil((words.length * this.options.speechMsPerWord) / FRAME_DURATION_MS));
    const item: EmulatedItem = { id: nextId('item'), role: 'assistant', type: 'message', text: '', audioMs: 0, words: [] };
    this.items.push(item);
    const base = { response_id: responseId, item_id: item.id, output_index: 0, content_index: 0 };
    this.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { id: item.id, object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] } });
    this.send({ type: 'response.content_part.added', ...base, part: { type: 'audio', transcript: '' } });

    const tone = new ToneGenerator(EMULATOR_SAMPLE_RATE_HZ, 220, 0.3);
    const frameMs = FRAME_DURATION_MS * this.options.paceFactor;
    const startedAt = performance.now();
    let sentFrames = 0;
    let sentWords = 0;
    const active: ActiveResponse = {
      id: responseId,
      item,
      timer: undefined,
      finish: (status, reason) => {
        if (this.active !== active) return;
        if (active.timer) clearTimeout(active.timer);
        this.active = undefined;
        this.responses.push({ id: responseId, status, ...(reason ? { reason } : {}) });
        const itemStatus = status === 'completed' ? 'completed' : 'incomplete';
        const content = [{ type: 'output_audio', transcript: item.text }];
        if (status === 'completed') {
          this.send({ type: 'response.output_audio.done', ...base });
          this.send({ type: 'response.output_audio_transcript.done', ...base, transcript: item.text });
          this.send({ type: 'response.content_part.done', ...base, part: { type: 'audio', transcript: item.text } });
        }
        const done = { id: item.id, object: 'realtime.item', type: 'message', role: 'assistant', status: itemStatus, content };
        this.send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: done });
        this.send({
          type: 'response.done',
          response: {
            id: responseId,
            object: 'realtime.response',
            status,
            ...(status === 'cancelled' ? { status_details: { type: 'cancelled', reason } } : {}),
            output: [done],
            usage: usage(userText, item.text, item.audioMs),
          },
        });
      },
    };
    this.active = active;

    const tick = (): void => {
      if (this.active !== active || this.closed) return;
      const due = frameMs === 0 ? totalFrames : Math.min(totalFrames, Math.floor((performance.now() - startedAt) / frameMs) + 1);
      while (sentFrames < due) {
        const frameStartMs = sentFrames * FRAME_DURATION_MS;
        while (sentWords < words.length && sentWords * this.options.speechMsPerWord <= frameStartMs) {
          const delta = (sentWords === 0 ? '' : ' ') + words[sentWords];
          item.words.push({ word: words[sentWords] ?? '', startMs: sentWords * this.options.speechMsPerWord });
          item.text += delta;
          sentWords += 1;
          this.send({ type: 'response.output_audio_transcript.delta', ...base, delta });
        }
        this.send({ type: 'response.output_audio.delta', ...base, delta: tone.next(FRAME_DURATION_MS).toString('base64') });
        item.audioMs += FRAME_DURATION_MS;
        sentFrames += 1;
      }
      if (sentFrames >= totalFrames) active.finish('completed');
      else active.timer = setTimeout(tick, Math.max(1, frameMs));
    };
    tick();
  }
}

/** Deterministic token counts: a token per word, audio at 10 tokens per second in and 20 out. */
function usage(userText: string, replyText: string, replyAudioMs: number): Record<string, unknown> {
  const inputText = userText.split(/\s+/).filter(Boolean).length;
  const outputText = replyText.split(/\s+/).filter(Boolean).length;
  const outputAudio = Math.ceil(replyAudioMs / 50);
  return {
    input_tokens: inputText + 10,
    output_tokens: outputText + outputAudio,
    total_tokens: inputText + 10 + outputText + outputAudio,
    input_token_details: { text_tokens: inputText, audio_tokens: 10, cached_tokens: 0 },
    output_token_details: { text_tokens: outputText, audio_tokens: outputAudio },
  };
}
