/**
 * The state layer's public surface. Code outside `src/lib/state` imports from here only (a lint rule
 * says so), so what the layer keeps to itself can change without touching its callers.
 */
export { SessionStore, type CallStore, type RelayStore, type SessionStoreOptions, type TtlOption } from './session-store.js';
export {
  CALL_OUTCOMES,
  CALL_STATES,
  CallSessions,
  InvalidCallSessionError,
  MEDIA_STATES,
  SessionStepSchema,
  type CallMediaView,
  type CallOutcome,
  type CallSession,
  type CallSessionRecords,
  type CallState,
  type MediaState,
  type SessionStep,
} from './call-sessions.js';
export { AuthStates, InvalidAuthStateError, type AttemptOutcome, type AuthState, type AuthStateEngine } from './auth-states.js';
export { RelayLeases, type AffinityClaim, type LeaseEngine } from './relay-leases.js';
export { TurnFencing, type CallQuiescence, type FencingEngine } from './turn-fencing.js';
export { TtsCache, type TtsCacheEngine, type TtsCacheKey } from './tts-cache.js';
export type { StoreHealth, StoreStatus, WriteOutcome } from './tiered-store.js';
export { ConversationManager, type ConversationEngine, type ConversationOptions, type FlushResult, type LoadInfo } from './conversation/conversation-manager.js';
export { decodeTurn, TRUNCATION, type Turn, type TurnRole } from './conversation/turns.js';
export { decodeJson, type JsonValue, type Fields } from './codec.js';
export type { Command, Reply } from './commands.js';
export { assertValidIdentifier, RedisKeys } from './keys.js';
export { createRedis, redisOp, type ManagedRedis, type RedisClient } from './redis-client.js';
export * from './errors.js';
