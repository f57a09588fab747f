/** The state layer's public surface: import from here. */
export { SessionStore, type AffinityClaim, type SessionStoreOptions, type TtsCacheKey, type TtlOption } from './session-store.js';
export { TieredStore, type StoreHealth, type StoreStatus, type TieredStoreOptions, type WriteOutcome } from './tiered-store.js';
export { ConversationManager, type ConversationOptions, type FlushResult, type LoadInfo } from './conversation/conversation-manager.js';
export { TRUNCATION, type Turn, type TurnRole } from './conversation/turns.js';
export { SCHEMA_VERSION } from './conversation/migration.js';
export { MemoryTier, type MemoryTierOptions } from './memory-tier.js';
export { RedisTier } from './redis-tier.js';
export { WriteBatch, type Command, type Reply } from './commands.js';
export { CircuitBreaker, type BreakerState, type BreakerSnapshot, type CircuitBreakerOptions } from './circuit-breaker.js';
export { WriteJournal, type JournalOptions, type JournalStats } from './journal.js';
export type { JsonValue, Fields } from './codec.js';
export { RedisKeys, TTL_POLICIES } from './keys.js';
export * from './errors.js';
