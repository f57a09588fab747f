import { createHash } from 'node:crypto';
import type { Command } from './commands.js';
import { RedisUnavailableError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { MemoryTier } from './memory-tier.js';
import type { TieredStore } from './tiered-store.js';
import { quietLogger, type Logger } from '../telemetry/logger.js';

export interface TtsCacheKey {
  readonly text: string;
  readonly voice: string;
  readonly format: string;
}

/** What the cache needs of the engine: key names and TTLs, the memory tier, and Redis directly. */
export interface TtsCacheEngine {
  readonly keys: RedisKeys;
  readonly memory: Pick<MemoryTier, 'read' | 'applyWrites'>;
  direct: TieredStore['direct'];
}

/**
 * Synthesised audio by text, voice and format (`tts:{id}:audio`, the tts_cache TTL). A cache, so
 * never journaled: while Redis is away a read is a miss and synthesis goes on. Its entries never
 * change, so memory answers first.
 *
 * @example
 * const cache = new TtsCache(store, logger);
 * const audio = (await cache.getTts(key)) ?? (await synthesize(key));
 */
export class TtsCache {
  constructor(
    private readonly engine: TtsCacheEngine,
    private readonly logger: Logger = quietLogger,
  ) {}

  /** The cache id of a synthesis: SHA-256 of text, voice and format. */
  static id(request: TtsCacheKey): string {
    return createHash('sha256').update(`${request.voice}\u0000${request.format}\u0000${request.text}`).digest('hex').slice(0, 40);
  }

  async getTts(request: TtsCacheKey): Promise<Buffer | undefined> {
    const { keys, memory } = this.engine;
    const key = keys.tts(TtsCache.id(request));
    const command: Command = { op: 'get', key, binary: true };
    const held = memory.read([command], Number.POSITIVE_INFINITY)[0];
    if (Buffer.isBuffer(held)) return held;
    try {
      const [audio] = await this.engine.direct('tts.get', [command]);
      if (!Buffer.isBuffer(audio)) return undefined;
      memory.applyWrites([{ op: 'set', key, value: audio, ttlSeconds: keys.ttl('tts', 'audio') }], true);
      return audio;
    } catch (err) {
      // A cache: when Redis is away (or refuses), a miss is the right answer; synthesis goes on.
      this.logFailure('tts.get', err);
      return undefined;
    }
  }

  async setTts(request: TtsCacheKey, audio: Buffer, options: { readonly ttlSeconds?: number } = {}): Promise<void> {
    const { keys, memory } = this.engine;
    const command: Command = { op: 'set', key: keys.tts(TtsCache.id(request)), value: audio, ttlSeconds: keys.ttl('tts', 'audio', options.ttlSeconds) };
    memory.applyWrites([command], false);
    await this.engine.direct('tts.set', [command]).catch((err: unknown) => this.logFailure('tts.set', err));
  }

  private logFailure(operation: string, err: unknown): void {
    if (err instanceof RedisUnavailableError) return; // counted by the breaker; expected while Redis is away
    this.logger.warn('tts cache operation failed', { operation, error: err instanceof Error ? err.name : 'Error' });
  }
}
