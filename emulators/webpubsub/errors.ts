/**
 * Errors of the Web PubSub emulator. Every failure the emulator reports to a client (an HTTP
 * status on the REST plane, a refused upgrade, an error ack) starts as one of these, so the
 * status and the wire name travel with the error.
 */
export class WebPubSubEmulatorError extends Error {
  override readonly name: string = 'WebPubSubEmulatorError';
  /** HTTP status used when this error ends a REST call or refuses a WebSocket upgrade. */
  readonly statusCode: number;

  constructor(message: string, statusCode = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.statusCode = statusCode;
  }
}

/** A bearer or client token that is missing, badly signed, for another audience, or expired. */
export class TokenRejectedError extends WebPubSubEmulatorError {
  override readonly name = 'TokenRejectedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 401, options);
  }
}

/** The caller is authenticated but lacks the role the operation needs. */
export class PermissionDeniedError extends WebPubSubEmulatorError {
  override readonly name = 'PermissionDeniedError';
  constructor(message: string) {
    super(message, 403);
  }
}

/** A malformed request: bad JSON, missing field, invalid group name, unsupported body type. */
export class BadRequestError extends WebPubSubEmulatorError {
  override readonly name = 'BadRequestError';
  constructor(message: string, statusCode = 400) {
    super(message, statusCode);
  }
}

/** An upstream event handler failed, timed out or refused the event. */
export class UpstreamError extends WebPubSubEmulatorError {
  override readonly name = 'UpstreamError';
  /** Status the handler answered with, when it answered at all. */
  readonly upstreamStatus: number | undefined;
  constructor(message: string, upstreamStatus?: number, options?: { cause?: unknown }) {
    super(message, upstreamStatus !== undefined && upstreamStatus >= 400 && upstreamStatus < 500 ? upstreamStatus : 500, options);
    this.upstreamStatus = upstreamStatus;
  }
}
