/**
 * The one error root of the app, and the one classifier every policy point branches on.
 *
 * Every module's errors extend {@link AppError}: a stable `code`, `retryable` (the same operation may
 * succeed later), `context` (flat fields for logs: identifiers and counts, never PII) and the standard
 * ES2022 `cause`. {@link classify} turns any thrown value (ours, the Azure SDKs', ioredis', Node's)
 * into what a policy point needs to decide: try again, give up, or accept that the call is gone.
 */

/** Flat values only: they go to logs and audit details as they are. Never phone numbers, PINs or keys. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | null>>;

export interface AppErrorOptions {
  /** Stable, machine-readable; `AppError` by default. */
  readonly code?: string;
  /** @default false */
  readonly retryable?: boolean;
  readonly context?: ErrorContext;
  readonly cause?: unknown;
}

/**
 * @example
 * throw new AppError('profile store refused the update', { code: 'profile_rejected', context: { callId }, cause: err });
 */
export class AppError extends Error {
  override name: string = 'AppError';
  readonly code: string;
  readonly retryable: boolean;
  readonly context: ErrorContext;
  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'app_error';
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
  }
}

/** The call the operation was about has ended (ACS answers 404/410 for it): nothing is left to do. */
export class CallGoneError extends AppError {
  override name = 'CallGoneError';
  constructor(message: string, options: Omit<AppErrorOptions, 'code' | 'retryable'> = {}) {
    super(message, { ...options, code: CALL_GONE, retryable: false });
  }
}

export const CALL_GONE = 'call_gone';

/**
 * - `retry`: the same operation may succeed later (outage, throttling, timeout, a dropped socket);
 * - `fatal`: it will fail again the same way (bad input, refused credentials, a bug);
 * - `gone`: what it acted on no longer exists (the call has ended); treat as done.
 */
export type ErrorClass = 'retry' | 'fatal' | 'gone';

/** ioredis replies that say "not now" rather than "never": the cluster is moving or the node is busy. */
const TRANSIENT_REDIS_REPLY = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|BUSY|MASTERDOWN|READONLY|NOREPLICAS)\b/;
/** Node and undici transport failures. */
const TRANSIENT_SYSTEM_CODE = /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|UND_ERR_\w+)$/;
/** Thrown by code, not by the world: running it again cannot change the outcome. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'ZodError']);
const MAX_CAUSE_DEPTH = 8;

/** Statuses Cosmos DB documents as transient: throttled, timeout, gone/partition moved, retry-with, unavailable. */
export const COSMOS_TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 410, 429, 449, 500, 503]);

/**
 * One verdict for any thrown value. Ours decide by `code` and `retryable`; foreign errors by their HTTP
 * status (ACS, Cosmos DB, OpenAI), Redis reply or transport code; a wrapper without a verdict of its
 * own defers to its `cause`. An error nothing is known about is `retry`: the retry policies around
 * every policy point are bounded, and dropping a transient failure would lose the event.
 */
export function classify(err: unknown): ErrorClass {
  return classifyAt(err, 0);
}

function classifyAt(err: unknown, depth: number): ErrorClass {
  if (err instanceof AppError) {
    if (err.code === CALL_GONE) return 'gone';
    return err.retryable ? 'retry' : 'fatal';
  }
  if (err === null || typeof err !== 'object') return 'retry';
  const { name, message, statusCode, status, code, cause } = err as { name?: unknown; message?: unknown; statusCode?: unknown; status?: unknown; code?: unknown; cause?: unknown };
  if (name === 'TimeoutError') return 'retry';
  if (name === 'AbortError') return 'fatal';
  // @azure/cosmos' ErrorResponse carries its status as a numeric `code`, with Cosmos DB's own transient set.
  if (typeof code === 'number' && code >= 400) return COSMOS_TRANSIENT_STATUS.has(code) ? 'retry' : 'fatal';
  const httpStatus = typeof statusCode === 'number' ? statusCode : typeof status === 'number' ? status : undefined;
  if (httpStatus !== undefined && httpStatus >= 400) return classifyStatus(httpStatus);
  if (name === 'ReplyError') return typeof message === 'string' && TRANSIENT_REDIS_REPLY.test(message) ? 'retry' : 'fatal';
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return 'retry';
  if (typeof code === 'string' && TRANSIENT_SYSTEM_CODE.test(code)) return 'retry';
  if (cause !== undefined && depth < MAX_CAUSE_DEPTH) return classifyAt(cause, depth + 1);
  if (typeof name === 'string' && PROGRAMMING_ERRORS.has(name)) return 'fatal';
  return 'retry';
}

/**
 * Statuses of the Azure SDKs' `RestError` (ACS call automation). 404/410: the resource (for ACS, the call) is gone. 408, 429, 449 and 5xx pass with time; so do 400
 * and 409, which ACS answers for call-state races that resolve by themselves ("not valid when the call
 * is not established" (8501), "a recognize operation is already running"). The rest of 4xx (refused
 * credentials or roles, a payload too large or of the wrong type) will not change on a retry.
 */
function classifyStatus(status: number): ErrorClass {
  if (status === 404 || status === 410) return 'gone';
  if (status === 400 || status === 408 || status === 409 || status === 429 || status === 449 || status >= 500) return 'retry';
  return 'fatal';
}

/** What audit details and metrics may keep of a failure: its name and codes, never its message (which may quote a caller). */
export function errorSummary(err: unknown): { readonly error: string; readonly code: string | number | null; readonly status: number | null } {
  const { name, code, statusCode, status } = (err ?? {}) as { name?: unknown; code?: unknown; statusCode?: unknown; status?: unknown };
  const httpStatus = typeof statusCode === 'number' ? statusCode : typeof status === 'number' ? status : null;
  return { error: typeof name === 'string' ? name : typeof err, code: typeof code === 'string' || typeof code === 'number' ? code : null, status: httpStatus };
}
