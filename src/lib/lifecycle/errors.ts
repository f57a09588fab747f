import { AppError, type AppErrorOptions } from '../errors.js';

/** Base of the lifecycle's errors. */
export class LifecycleError extends AppError {
  override readonly name: string = 'LifecycleError';
  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, { code: 'lifecycle_error', ...options });
  }
}

/** The orchestration input is not a LifecycleInput. */
export class InvalidLifecycleInputError extends LifecycleError {
  override readonly name = 'InvalidLifecycleInputError';
  constructor(reason: string) {
    super(`invalid callLifecycle input: ${reason}`, { code: 'invalid_lifecycle_input' });
  }
}

/**
 * A step the call cannot be completed without (finalize, archive) failed after all its retries, or at
 * once when its activity reported a failure no retry can change.
 */
export class LifecycleStepFailedError extends LifecycleError {
  override readonly name = 'LifecycleStepFailedError';
  readonly attempts: number | undefined;
  constructor(
    readonly step: string,
    options?: { cause?: unknown; attempts?: number; /** false: the activity reported a failure no retry can change. */ retried?: boolean },
  ) {
    const attempts = options?.attempts === undefined ? '' : ` (${options.attempts} attempts)`;
    const how = options?.retried === false ? 'failed and cannot succeed on a retry' : 'failed after its retries';
    super(`${step} ${how}${attempts}: ${(options?.cause as Error | undefined)?.message ?? 'unknown error'}`, {
      code: 'lifecycle_step_failed',
      cause: options?.cause,
      context: { step, attempts: options?.attempts ?? null },
    });
    this.attempts = options?.attempts;
  }
}
