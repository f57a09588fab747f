/** Errors raised by the dev host itself (never by the functions it serves). */
export class DevHostError extends Error {
  override readonly name: string = 'DevHostError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A durable request that the real extension would also refuse (unknown orchestrator, running instance…). */
export class DurableRequestError extends DevHostError {
  override readonly name = 'DurableRequestError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 410 | 501,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A replay produced something the local engine cannot perform (entities, sub-orchestrations, HTTP calls). */
export class UnsupportedActionError extends DevHostError {
  override readonly name = 'UnsupportedActionError';
}
