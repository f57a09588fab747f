import { COSMOS_TRANSIENT_STATUS } from '../errors.js';
import { ArchiveAbortedError, ArchiveError, ArchiveRejectedError, ArchiveUnavailableError } from './errors.js';


/** Node and SDK error codes of a connection that failed or a request that timed out. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
  'TimeoutError',
  'UND_ERR_SOCKET',
]);

export interface CosmosFailure {
  readonly statusCode: number | undefined;
  readonly transient: boolean;
  /** `x-ms-retry-after-ms` when Cosmos DB sent one. */
  readonly retryAfterMs: number | undefined;
}

/** Reads what matters from an @azure/cosmos `ErrorResponse`, a core-rest-pipeline `RestError` or a Node error. */
export function describeCosmosFailure(err: unknown): CosmosFailure {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; retryAfterInMs?: unknown; name?: unknown; message?: unknown };
  const statusCode = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const retryAfterMs = typeof e.retryAfterInMs === 'number' && Number.isFinite(e.retryAfterInMs) ? e.retryAfterInMs : undefined;
  if (statusCode !== undefined) return { statusCode, transient: COSMOS_TRANSIENT_STATUS.has(statusCode), retryAfterMs };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const transient = NETWORK_CODES.has(code) || e.name === 'TimeoutError' || /socket hang up|ECONNRESET|other side closed|timeout/i.test(message);
  return { statusCode: undefined, transient, retryAfterMs };
}

/** Turns any failure of a Cosmos DB call into an {@link ArchiveError}, keeping the original as `cause`. */
export function toArchiveError(operation: string, err: unknown, attempts?: number): ArchiveError {
  if (err instanceof ArchiveError) return err;
  if ((err as { name?: string } | undefined)?.name === 'AbortError') return new ArchiveAbortedError(operation, err);
  const failure = describeCosmosFailure(err);
  if (failure.transient) return new ArchiveUnavailableError(operation, err, failure.statusCode, attempts);
  return new ArchiveRejectedError(operation, err, failure.statusCode);
}
