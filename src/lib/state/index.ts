/**
 * The state layer's public surface. Code outside `src/lib/state` imports from here only (a lint rule
 * says so), so the engine (tiers, journal, breakers) and the layer's files can change without touching
 * a caller. The composition root (src/lib/app) builds the store and the repositories once.
 */
export { SessionStore, type CallStore, type RelayStore, type SessionStoreOptions, type TtlOption } from './session-store.js';
export {
  CallSessions,
  InvalidCallSessionError,
  type CallMediaView,
  type CallOutcome,
  type CallSession,
  type CallState,
  type MediaState,
  type SessionStep,
} from './call-sessions.js';
export { TurnFencing, type CallQuiescence } from './turn-fencing.js';
export { RelayLeases, type AffinityClaim } from './relay-leases.js';
export { TtsCache, type TtsCacheKey } from './tts-cache.js';
export { AuthStates, InvalidAuthStateError, type AttemptOutcome, type AuthState } from './auth-states.js';
export { ConversationManager, type ConversationOptions, type FlushResult, type LoadInfo } from './conversation/conversation-manager.js';
export { decodeTurn, type Turn, type TurnRole } from './conversation/turns.js';
export type { StoreHealth, WriteOutcome } from './tiered-store.js';
export type { JsonValue, Fields } from './codec.js';
export type { Command } from './commands.js';
export { assertValidIdentifier, RedisKeys } from './keys.js';
export { createRedis, redisOp, type ManagedRedis, type RedisClient } from './redis-client.js';
export * from './errors.js';
