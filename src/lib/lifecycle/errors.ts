/** Base of the lifecycle's errors. */
export class LifecycleError extends Error {
  override readonly name: string = 'LifecycleError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The activities ran before the composition root gave them their dependencies. */
export class LifecycleNotConfiguredError extends LifecycleError {
  override readonly name = 'LifecycleNotConfiguredError';
  constructor() {
    super('lifecycle dependencies are not set: call setLifecycleDeps() at start-up', false);
  }
}

/** The orchestration input is not a LifecycleInput. */
export class InvalidLifecycleInputError extends LifecycleError {
  override readonly name = 'InvalidLifecycleInputError';
  constructor(reason: string) {
    super(`invalid callLifecycle input: ${reason}`, false);
  }
}

/** A step the call cannot be completed without (finalize, archive) failed after all its retries. */
export class LifecycleStepFailedError extends LifecycleError {
  override readonly name = 'LifecycleStepFailedError';
  readonly attempts: number | undefined;
  constructor(
    readonly step: string,
    options?: { cause?: unknown; attempts?: number },
  ) {
    const attempts = options?.attempts === undefined ? '' : ` (${options.attempts} attempts)`;
    super(`${step} failed after its retries${attempts}: ${(options?.cause as Error | undefined)?.message ?? 'unknown error'}`, false, { cause: options?.cause });
    this.attempts = options?.attempts;
  }
}
