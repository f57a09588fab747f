import { AppError } from '../../errors.js';

/**
 * Errors of the realtime voice agent. `retryable` tells the relay whether opening a new session (or
 * repeating the step) may succeed: a dropped socket or a 5xx is, a refused key is not.
 */

export type RealtimeAgentErrorCode =
  | 'auth' // 401/403 on the WebSocket upgrade
  | 'not-found' // unknown deployment
  | 'rate-limited' // 429
  | 'unavailable' // connection refused, 5xx, TLS failure, socket dropped
  | 'timeout' // no answer to the handshake or session.update in time
  | 'aborted' // the caller's AbortSignal fired
  | 'server' // an `error` event from the service
  | 'tool' // an injected tool implementation threw
  | 'closed'; // used after close()

export class RealtimeAgentError extends AppError {
  override name = 'RealtimeAgentError';
  declare readonly code: RealtimeAgentErrorCode;
  /** HTTP status of a refused upgrade, when there was one. */
  readonly status: number | undefined;
  /** The service's error code for `server` errors (e.g. `invalid_value`). */
  readonly serverCode: string | undefined;

  constructor(
    message: string,
    options: { code: RealtimeAgentErrorCode; retryable: boolean; status?: number; serverCode?: string; cause?: unknown },
  ) {
    super(message, { code: options.code, retryable: options.retryable, cause: options.cause, context: { status: options.status ?? null, serverCode: options.serverCode ?? null } });
    this.status = options.status;
    this.serverCode = options.serverCode;
  }
}

const UNEXPECTED_RESPONSE = /Unexpected server response: (\d{3})/;

/** Classifies a failure to open the socket (ws reports a refused upgrade as "Unexpected server response: 401"). */
export function connectError(cause: unknown): RealtimeAgentError {
  if (cause instanceof RealtimeAgentError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  const status = Number(UNEXPECTED_RESPONSE.exec(message)?.[1] ?? NaN);
  if (status === 401 || status === 403) {
    return new RealtimeAgentError(`Realtime service refused the credentials (${status})`, { code: 'auth', retryable: false, status, cause });
  }
  if (status === 404) {
    return new RealtimeAgentError('Realtime deployment not found (404)', { code: 'not-found', retryable: false, status, cause });
  }
  if (status === 429) {
    return new RealtimeAgentError('Realtime service is rate limiting (429)', { code: 'rate-limited', retryable: true, status, cause });
  }
  if (Number.isFinite(status)) {
    return new RealtimeAgentError(`Realtime service refused the connection (${status})`, {
      code: 'unavailable',
      retryable: status >= 500,
      status,
      cause,
    });
  }
  return new RealtimeAgentError(`Cannot reach the realtime service: ${message}`, { code: 'unavailable', retryable: true, cause });
}
