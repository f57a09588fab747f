import type { Command, Reply } from './commands.js';

/** Returned by the memory tier for a read it cannot answer (absent, partial or not fresh enough). */
export const MISS: unique symbol = Symbol('state.miss');
export type Miss = typeof MISS;

export interface ExecOptions {
  /** Run as one transaction (MULTI/EXEC in Redis). Every command must then address one hash tag. */
  readonly atomic?: boolean;
  /** Name for latency histograms and error messages, e.g. `conversation.flush`. */
  readonly name?: string;
}

/**
 * A storage tier: executes a list of {@link Command}s and returns one reply per command.
 * Both tiers implement exactly this; everything else (TTL policy, tiering, journal, decoding)
 * lives once, above them.
 */
export interface StateBackend {
  readonly tier: 'memory' | 'redis';
  exec(commands: readonly Command[], options?: ExecOptions): Promise<(Reply | Miss)[]>;
}
