import { AppError, type AppErrorOptions } from '../errors.js';

/** Base of every error raised by the state layer; `retryable` tells callers whether trying again can help. */
export class StateError extends AppError {
  override name = 'StateError';
  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, { code: 'state_error', ...options });
  }
}

/** An identifier that cannot be part of a Redis key (empty, too long, or with a reserved character). */
export class InvalidIdentifierError extends StateError {
  override name = 'InvalidIdentifierError';
  constructor(
    readonly identifier: string,
    readonly reason: string,
  ) {
    super(`Invalid identifier ${printable(identifier)}: ${reason}`, { code: 'invalid_identifier' });
  }
}

export class InvalidKeyError extends StateError {
  override name = 'InvalidKeyError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`Not a ${reason}: ${printable(key)}`, { code: 'invalid_key' });
  }
}

export class InvalidEnvironmentError extends StateError {
  override name = 'InvalidEnvironmentError';
  constructor(readonly environment: string) {
    super(`Invalid environment ${printable(environment)}: expected one of dev, test, staging, prod`, { code: 'invalid_environment' });
  }
}

/** Redis could not be reached or did not answer in time; the operation may be retried. */
export class RedisUnavailableError extends StateError {
  override name = 'RedisUnavailableError';
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`Redis unavailable during ${operation}: ${causeMessage(cause)}`, { code: 'redis_unavailable', cause, retryable: true, context: { operation } });
  }
}

/** Redis answered with an error for this command (wrong type, script error…); retrying will not help. */
export class RedisCommandError extends StateError {
  override name = 'RedisCommandError';
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`Redis rejected ${operation}: ${causeMessage(cause)}`, { code: 'redis_rejected', cause, retryable: false, context: { operation } });
  }
}

function causeMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** Identifiers can come from the network: show them escaped and bounded. */
function printable(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown);
}

/**
 * The write journal is full while Redis is unavailable: this write was NOT kept. Counted and logged
 * by the store; the caller decides whether to drop the turn, retry later or end the call.
 */
export class JournalOverflowError extends StateError {
  override name = 'JournalOverflowError';
  constructor(
    readonly partition: string,
    readonly operation: string,
    readonly depth: number,
    readonly bytes: number,
  ) {
    super(`Write journal full (${depth} entries, ${bytes} bytes); ${operation} was not kept`, { code: 'journal_full', retryable: true, context: { partition, operation, depth, bytes } });
  }
}

/**
 * Redis answered without state this process had written there and still expected (a node restarted
 * without persistence, or a failover lost acknowledged writes), and this process holds no copy to
 * rewrite it from. Audited and counted by the caller; the caller hears a recovery prompt.
 */
export class StateLostError extends StateError {
  override name = 'StateLostError';
  constructor(
    readonly partition: string,
    readonly operation: string,
  ) {
    super(`Redis lost state of ${printable(partition)} (during ${operation}) and no copy is held here`, { code: 'state_lost', context: { partition, operation } });
  }
}

/** The store was closed; no further operations are accepted. */
export class StoreClosedError extends StateError {
  override name = 'StoreClosedError';
  constructor(readonly operation: string) {
    super(`Session store is closed (during ${operation})`, { code: 'store_closed', context: { operation } });
  }
}

/** A stored value could not be read as the layout it claims to be (corrupt JSON, unknown schema version). */
export class StateFormatError extends StateError {
  override name = 'StateFormatError';
  constructor(
    readonly key: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`Unreadable state at ${key}: ${reason}`, { code: 'state_format', cause, context: { key, reason } });
  }
}
