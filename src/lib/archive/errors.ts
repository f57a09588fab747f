import { AppError } from '../errors.js';

/**
 * Errors of the archive module. Callers (the lifecycle activities) look at `retryable` only: true means
 * the same call may succeed later (throttling, outage, timeout, a concurrent re-archive), false means
 * the input or the request is wrong and retrying cannot help.
 */
export class ArchiveError extends AppError {
  override name = 'ArchiveError';
  /** What was being done, e.g. `transcripts.upsertPage`. */
  readonly operation: string;
  /** HTTP status from Cosmos DB when there was one. */
  readonly statusCode: number | undefined;
  constructor(message: string, options: { operation: string; code?: string; cause?: unknown; retryable?: boolean; statusCode?: number }) {
    super(message, {
      code: options.code ?? 'archive_error',
      retryable: options.retryable ?? false,
      cause: options.cause,
      context: { operation: options.operation, statusCode: options.statusCode ?? null },
    });
    this.operation = options.operation;
    this.statusCode = options.statusCode;
  }
}

/** Cosmos DB throttled, was unavailable, timed out or the connection failed, and our retries ran out. */
export class ArchiveUnavailableError extends ArchiveError {
  override name = 'ArchiveUnavailableError';
  constructor(operation: string, cause: unknown, statusCode?: number, readonly attempts?: number) {
    super(`Cosmos DB unavailable during ${operation}${attempts ? ` after ${attempts} attempts` : ''}: ${causeMessage(cause)}`, {
      operation,
      code: 'archive_unavailable',
      cause,
      retryable: true,
      ...(statusCode === undefined ? {} : { statusCode }),
    });
  }
}

/** Cosmos DB answered with an error that retrying will not change (400, 401, 403, 409, 413…). */
export class ArchiveRejectedError extends ArchiveError {
  override name = 'ArchiveRejectedError';
  constructor(operation: string, cause: unknown, statusCode?: number) {
    super(`Cosmos DB rejected ${operation}${statusCode ? ` (${statusCode})` : ''}: ${causeMessage(cause)}`, {
      operation,
      code: 'archive_rejected',
      cause,
      retryable: false,
      ...(statusCode === undefined ? {} : { statusCode }),
    });
  }
}

/** The caller handed the archive something it must not store (bad id, raw phone number, oversized turn). */
export class InvalidArchiveInputError extends ArchiveError {
  override name = 'InvalidArchiveInputError';
  constructor(operation: string, readonly reason: string) {
    super(`Invalid input to ${operation}: ${reason}`, { operation, code: 'invalid_archive_input', retryable: false });
  }
}

/**
 * A transcript's header and pages disagree: a re-archive of the same call is in flight or was
 * interrupted. Archiving the call again repairs it, so this is retryable.
 */
export class TranscriptIntegrityError extends ArchiveError {
  override name = 'TranscriptIntegrityError';
  constructor(readonly callId: string, reason: string) {
    super(`Transcript of call ${JSON.stringify(callId)} is inconsistent: ${reason}`, { operation: 'transcripts.read', code: 'transcript_inconsistent', retryable: true });
  }
}

/** The profile cache could not be invalidated after an update, so a stale copy could be served until its TTL. */
export class ProfileCacheError extends ArchiveError {
  override name = 'ProfileCacheError';
  constructor(operation: string, cause: unknown) {
    super(`Profile cache not invalidated during ${operation}: ${causeMessage(cause)}`, { operation, code: 'profile_cache_stale', cause, retryable: true });
  }
}

/** The caller's AbortSignal fired; nothing is retried after that. */
export class ArchiveAbortedError extends ArchiveError {
  override name = 'ArchiveAbortedError';
  constructor(operation: string, cause?: unknown) {
    super(`${operation} aborted`, { operation, code: 'archive_aborted', cause, retryable: false });
  }
}

export function causeMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
