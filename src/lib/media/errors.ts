import { AppError } from '../errors.js';

/** Base error of the media relay; `retryable` tells whether the same operation may succeed later. */
export class RelayError extends AppError {
  override name: string = 'RelayError';
  constructor(message: string, retryable: boolean, options?: { cause?: unknown; code?: string }) {
    super(message, { code: options?.code ?? 'relay_error', retryable, cause: options?.cause });
  }
}

/** An ACS action the relay takes for the agent (transfer, hang up) could not be carried out. */
export class CallActionError extends RelayError {
  override name = 'CallActionError';
}
