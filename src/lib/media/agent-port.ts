/**
 * What the relay needs from a voice agent session, and the default factory over Azure OpenAI
 * realtime (`RealtimeAgentSession`). Tests and benchmarks may pass their own factory.
 */

import type { AppConfig } from '../config/index.js';
import type { Logger } from '../telemetry/logger.js';
import { RealtimeAgentSession, realtimeToolsFor, type RealtimeAgentHandlers, type RealtimeConnectionSettings } from '../agent/realtime/index.js';
import type { ToolAvailability } from '../agent/tools.js';
import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';

export interface AgentSessionLike {
  appendAudio(base64Pcm24k: string): void;
  requestResponse(instructions?: string): void;
  /** Adds the caller's words as text and asks for the answer (a turn left unanswered by another relay). */
  respondTo(callerText: string): void;
  cancelResponse(): void;
  /** Returns the transcript the caller heard. */
  truncate(itemId: string, audioEndMs: number): string;
  /**
   * Another agent takes the conversation over (`session.update`): its instructions, tools and voice.
   * The voice changes only while the model has not spoken yet (the service's rule).
   */
  update(settings: { readonly instructions: string; readonly tools: readonly RealtimeFunctionTool[]; readonly voice?: string | undefined }): { readonly voiceChanged: boolean };
  close(): Promise<void>;
}

export type AgentSessionRequest = {
  readonly callId: string;
  readonly instructions: string;
  readonly handlers: RealtimeAgentHandlers;
  /** The tools this call may use besides `end_call` (the instructions mention the same ones). @default none */
  readonly tools?: ToolAvailability;
  /** The tools of the call's agent definition besides the built-ins (HTTP and code tools). */
  readonly extraTools?: readonly RealtimeFunctionTool[];
  /** The agent definition's voice. @default the session's default */
  readonly voice?: string;
  readonly signal: AbortSignal;
};

export type AgentSessionFactory = (request: AgentSessionRequest) => Promise<AgentSessionLike>;

/** The agent's audio format on both sides. */
export const AGENT_SAMPLE_RATE_HZ = 24000;

/**
 * Realtime sessions from config: `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_REALTIME_DEPLOYMENT`, a key for
 * local runs or the app credential's tokens (`tokenProvider`). `socketOptions.ca` trusts a local emulator's certificate.
 */
export function realtimeAgentFactory(
  config: AppConfig,
  options: { logger?: Logger; socketOptions?: RealtimeConnectionSettings['socketOptions']; tokenProvider?: RealtimeConnectionSettings['tokenProvider'] } = {},
): AgentSessionFactory {
  return async (request) => {
    if (!config.agent.endpoint) throw new Error('AZURE_OPENAI_ENDPOINT is required for the realtime agent');
    return RealtimeAgentSession.connect({
      endpoint: config.agent.endpoint,
      deployment: config.agent.realtimeDeployment,
      apiKey: config.agent.apiKey,
      ...(options.tokenProvider ? { tokenProvider: options.tokenProvider } : {}),
      correlationId: request.callId,
      ...(options.socketOptions ? { socketOptions: options.socketOptions } : {}),
      instructions: request.instructions,
      // The tools match the instructions the bridge built for this call.
      tools: sessionTools(request.tools, request.extraTools),
      ...(request.voice === undefined ? {} : { voice: request.voice }),
      handlers: request.handlers,
      ...(options.logger ? { logger: options.logger } : {}),
      signal: request.signal,
    });
  };
}

/** The session's tools: the built-ins the call may use, then its agent definition's. */
export function sessionTools(tools: ToolAvailability | undefined, extraTools: readonly RealtimeFunctionTool[] | undefined): RealtimeFunctionTool[] {
  return [...realtimeToolsFor(tools ?? { canTransfer: false, canLookUpProfile: false }), ...(extraTools ?? [])];
}
