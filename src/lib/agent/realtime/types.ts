/**
 * The public shapes of a realtime session: turns, handlers and options.
 */

import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import type { Logger } from '../../telemetry/logger.js';
import type { RealtimeConnectionSettings } from './connect.js';
import type { RealtimeAgentError } from './errors.js';
import type { RealtimeMetric } from './metrics.js';
import type { ServerVadSettings } from './session-config.js';
import type { ToolCallRequest } from './tools.js';

export type TurnTimings = {
  /** Wall clock (epoch ms) when the turn began: speech start for the user, response start for the agent. */
  readonly startedAtEpochMs: number;
  readonly endedAtEpochMs: number;
  /** Position in the session's input audio (user turns). */
  readonly audioStartMs?: number;
  readonly audioEndMs?: number;
  /** Agent audio generated for the turn (agent turns). */
  readonly audioDurationMs?: number;
  /** End of user speech → first agent audio (agent turns that answered speech). */
  readonly ttfaMs?: number;
};

export type CompletedTurn = {
  readonly role: 'user' | 'agent';
  readonly text: string;
  readonly itemId: string;
  readonly responseId?: string;
  readonly timings: TurnTimings;
  /** Agent turns cut short by the caller: `text` is what the caller heard. */
  readonly interrupted?: boolean;
};

export type TruncatedTurn = { readonly itemId: string; readonly responseId: string; readonly text: string; readonly audioEndMs: number };

export interface RealtimeAgentHandlers {
  /** Agent audio (base64 PCM16 24 kHz) to forward to the caller. */
  onAudioDelta?(base64: string, responseId: string, itemId: string): void;
  onSpeechStarted?(event: { readonly itemId: string; readonly audioStartMs: number }): void;
  onSpeechStopped?(event: { readonly itemId: string; readonly audioEndMs: number }): void;
  onUserTranscript?(text: string, timings: TurnTimings): void;
  /** A transcript delta (`done` false) or the whole transcript of the response (`done` true). */
  onAgentTranscript?(text: string, responseId: string, done: boolean, itemId: string): void;
  /** Runs a tool the model called; the result is sent back as the function output (JSON). */
  onToolCall?(call: ToolCallRequest): unknown;
  onTurnCompleted?(turn: CompletedTurn): void;
  /** A truncate arrived after the agent turn was already reported: replace its text by `text`. */
  onAgentTurnTruncated?(turn: TruncatedTurn): void;
  onMetrics?(metric: RealtimeMetric): void;
  /** Errors after the session is up (service errors, a dropped socket, a failing tool). */
  onError?(error: RealtimeAgentError): void;
  onClose?(info: { readonly code: number; readonly reason: string }): void;
}

export type RealtimeAgentOptions = RealtimeConnectionSettings & {
  /** Built with `buildRealtimeInstructions` from the caller's context. */
  readonly instructions: string;
  /** Built with `realtimeToolsFor`. */
  readonly tools: readonly RealtimeFunctionTool[];
  readonly handlers?: RealtimeAgentHandlers;
  readonly voice?: string;
  readonly transcriptionModel?: string;
  readonly language?: string;
  readonly vad?: ServerVadSettings;
  readonly logger?: Logger;
  /** How long to wait for `session.updated`. @default 10 000 */
  readonly sessionUpdateTimeoutMs?: number;
  /** Monotonic clock for latency metrics. @default performance.now */
  readonly now?: () => number;
};
