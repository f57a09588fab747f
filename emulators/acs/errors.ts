/** Base of every error the ACS emulator raises; `retryable` tells callers whether trying again can help. */
export class AcsEmulatorError extends Error {
  override name = 'AcsEmulatorError';
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/** A REST request the emulator refuses; carries the HTTP status and the ACS error code for the body. */
export class AcsRestError extends AcsEmulatorError {
  override name = 'AcsRestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A callback or Event Grid POST that did not get a 2xx answer after every retry. */
export class DeliveryFailedError extends AcsEmulatorError {
  override name = 'DeliveryFailedError';
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(`Delivery to ${url} failed${status === undefined ? '' : ` with status ${status}`}`, { ...options, retryable: true });
  }
}

/** A scripted caller step that could not complete (the call ended, or a wait timed out). */
export class CallerScriptError extends AcsEmulatorError {
  override name = 'CallerScriptError';
}
