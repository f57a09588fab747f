/**
 * The `session.update` the agent sends first: server VAD, PCM16 at 24 kHz both ways, input
 * transcription on (so user turns have text), instructions with the caller's context, and tools.
 */

import type { RealtimeFunctionTool, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import { systemPrompt } from '../../agents/built-in.js';

export const REALTIME_SAMPLE_RATE_HZ = 24000;

export type ServerVadSettings = {
  /** Activation threshold 0..1 (higher = needs louder speech). @default 0.5 */
  readonly threshold?: number;
  /** Audio kept before detected speech. @default 300 */
  readonly prefixPaddingMs?: number;
  /** Silence that ends a user turn. @default 500 */
  readonly silenceDurationMs?: number;
};

export type RealtimeSessionSettings = {
  readonly instructions: string;
  readonly tools: readonly RealtimeFunctionTool[];
  /** @default 'alloy' */
  readonly voice?: string;
  /** @default 'whisper-1' */
  readonly transcriptionModel?: string;
  /** BCP-47 language hint for input transcription, e.g. `en`. */
  readonly language?: string;
  readonly vad?: ServerVadSettings;
};

/** The server VAD's silence window: `speech_stopped` comes this long after the caller's last word. */
export const DEFAULT_VAD_SILENCE_MS = 500;

export function buildSessionUpdate(settings: RealtimeSessionSettings): SessionUpdateEvent {
  const format = { type: 'audio/pcm', rate: REALTIME_SAMPLE_RATE_HZ } as const;
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      output_modalities: ['audio'],
      instructions: settings.instructions,
      audio: {
        input: {
          format,
          transcription: {
            model: settings.transcriptionModel ?? 'whisper-1',
            ...(settings.language === undefined ? {} : { language: settings.language }),
          },
          turn_detection: {
            type: 'server_vad',
            threshold: settings.vad?.threshold ?? 0.5,
            prefix_padding_ms: settings.vad?.prefixPaddingMs ?? 300,
            silence_duration_ms: settings.vad?.silenceDurationMs ?? DEFAULT_VAD_SILENCE_MS,
            create_response: true,
            // The service stops generating the moment the caller speaks; the relay still sends
            // StopAudio and truncates to what was heard.
            interrupt_response: true,
          },
        },
        output: { format, voice: settings.voice ?? 'alloy' },
      },
      tools: [...settings.tools],
      tool_choice: 'auto',
    },
  };
}

/**
 * Instructions for a voice call: the chat agent's system prompt (same rules, same context lines,
 * phone numbers masked) plus what only matters when speaking in real time.
 */
export function buildRealtimeInstructions(input: {
  readonly context: Readonly<Record<string, unknown>>;
  readonly canTransfer: boolean;
  readonly canLookUpProfile: boolean;
}): string {
  return [
    systemPrompt(input),
    '',
    'You are speaking in real time. The caller may interrupt you; if they do, stop and listen, and do not repeat what you already said unless asked.',
  ].join('\n');
}
