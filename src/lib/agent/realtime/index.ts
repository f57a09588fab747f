/**
 * The realtime voice agent: Azure OpenAI realtime over WebSocket (the `openai` package's
 * `OpenAIRealtimeWS`), server VAD, the chat agent's tools, barge-in through cancel + truncate.
 */

export { RealtimeAgentSession } from './session.js';
export type { CompletedTurn, RealtimeAgentHandlers, RealtimeAgentOptions, TruncatedTurn, TurnTimings } from './types.js';
export { RealtimeAgentError, connectError } from './errors.js';
export type { RealtimeAgentErrorCode } from './errors.js';
export { buildRealtimeInstructions, buildSessionUpdate, REALTIME_SAMPLE_RATE_HZ } from './session-config.js';
export type { RealtimeSessionSettings, ServerVadSettings } from './session-config.js';
export { dispatchTools, parseToolArguments, realtimeToolsFor, SilentToolOutput } from './tools.js';
export type { ToolCallRequest, ToolImplementations } from './tools.js';
export { COGNITIVE_SERVICES_SCOPE, openRealtimeSocket } from './connect.js';
export type { RealtimeConnectionSettings } from './connect.js';
export type { RealtimeAgentMetrics, RealtimeMetric, RealtimeUsage } from './metrics.js';
