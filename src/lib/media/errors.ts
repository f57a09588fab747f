/** Base error of the media relay; `retryable` tells whether the same operation may succeed later. */
export class RelayError extends Error {
  override name: string = 'RelayError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An ACS action the relay takes for the agent (transfer, hang up) could not be carried out. */
export class CallActionError extends RelayError {
  override name = 'CallActionError';
}
