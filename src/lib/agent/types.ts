/**
 * The voice agent of the recognize/play mode: one call of `respond` per caller utterance. Each turn is
 * a stateless callback invocation, so everything the agent needs (history, caller context) comes in.
 */

import { AppError } from '../errors.js';

export interface Turn {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

/** What the profile store knows about a returning caller (the Cosmos profile, reduced). */
export interface CallerProfile {
  readonly userId: string;
  readonly displayName?: string | undefined;
  readonly callCount?: number | undefined;
  readonly lastCallAt?: string | undefined;
  readonly lastCallSummary?: string | undefined;
}

/** Injected: the agent never reaches the profile store itself. */
export type ProfileLookup = (userId: string) => Promise<CallerProfile | undefined>;

/**
 * Tool calls the agent made in this turn. `end_call` and `transfer_to_human` are actions for the
 * call-control handler, to run after the reply was played; `lookup_profile` already ran inside the
 * agent and is reported for the transcript.
 */
export type ToolCall =
  | { readonly id: string; readonly name: 'end_call'; readonly reason: string }
  | {
      readonly id: string;
      readonly name: 'transfer_to_human';
      readonly reason: string;
      /** From configuration (TRANSFER_TARGET_NUMBER), never from the model. */
      readonly targetNumber: string;
    }
  | { readonly id: string; readonly name: 'lookup_profile'; readonly found: boolean }
  | { readonly id: string; readonly name: 'verify_caller'; readonly result: 'verified' | 'wrong_pin' | 'locked_out' | 'no_pin_on_file' }
  | {
      readonly id: string;
      readonly name: 'handoff';
      /** The agent that takes over from the next turn (its instructions, tools and voice). */
      readonly to: string;
      readonly mode: 'announced' | 'discreet';
      readonly shareContext: boolean;
      readonly reason: string;
    }
  /** A tool of the agent's definition (HTTP or code) that ran inside the agent; no arguments or results kept. */
  | { readonly id: string; readonly name: string & {}; readonly status: 'ok' | 'refused' | 'failed'; readonly latencyMs: number; readonly refused?: string };

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
}

export interface AgentReply {
  /** What to say to the caller (never empty). */
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
  readonly usage?: TokenUsage;
  readonly timings: { readonly firstTokenMs?: number; readonly totalMs: number };
  /** Set when the reply hands the call to another agent of the scenario: it answers from the next turn. */
  readonly activeAgent?: string;
}

export interface AgentInput {
  readonly callId: string;
  /** Earlier turns of this call, oldest first (without the current utterance). */
  readonly history: readonly Turn[];
  /** The caller's utterance; empty when the caller stayed silent or at the start of the call. */
  readonly userText: string;
  /**
   * Facts about the call for the system prompt: `userId` (for profile lookup), `callerName`,
   * `direction`, `purpose` (outbound)… Phone numbers are masked before they reach the model.
   */
  readonly context: Readonly<Record<string, unknown>>;
  readonly signal?: AbortSignal;
  /** The call's scenario (routed by the called number); the default scenario when absent. */
  readonly scenario?: string | undefined;
  /** The agent answering this call (`_activeAgent` of the conversation); the scenario's entry when absent. */
  readonly activeAgent?: string | undefined;
  /** Streamed text as it arrives (the Azure OpenAI agent); lets a caller start speaking early. */
  readonly onTextDelta?: (delta: string) => void;
}

export interface ChatAgent {
  respond(input: AgentInput): Promise<AgentReply>;
}

export type AgentErrorCode = 'aborted' | 'timeout' | 'rate_limited' | 'unavailable' | 'auth' | 'not_found' | 'bad_request' | 'invalid_response' | 'config';

/** Base error of the agent module. `retryable`: trying the same turn again may succeed. */
export class AgentError extends AppError {
  override name: string = 'AgentError';
  declare readonly code: AgentErrorCode;
  readonly status: number | undefined;
  constructor(message: string, options: { code: AgentErrorCode; retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { code: options.code, retryable: options.retryable, cause: options.cause, context: { status: options.status ?? null } });
    this.status = options.status;
  }
}
