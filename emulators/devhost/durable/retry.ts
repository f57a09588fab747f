/** The retry fields `df.RetryOptions` carries in a CallActivityWithRetry action. */
export interface RetryPolicy {
  readonly firstRetryIntervalInMilliseconds: number;
  readonly maxNumberOfAttempts: number;
  readonly backoffCoefficient?: number;
  readonly maxRetryIntervalInMilliseconds?: number;
  readonly retryTimeoutInMilliseconds?: number;
}

/**
 * Delay before the next attempt after `failedAttempts` failures, the way the Durable Task Framework's
 * retry interceptor computes it: first interval × coefficient^(failures−1), capped by the max interval.
 * Returns `undefined` when no attempt is left (attempts used up, or the retry timeout has passed).
 *
 * @example nextRetryDelayMs({ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3, backoffCoefficient: 2 }, 2, 0) // 2000
 */
export function nextRetryDelayMs(policy: RetryPolicy, failedAttempts: number, elapsedMs: number): number | undefined {
  if (failedAttempts >= policy.maxNumberOfAttempts) return undefined;
  const coefficient = policy.backoffCoefficient && policy.backoffCoefficient > 0 ? policy.backoffCoefficient : 1;
  let delayMs = policy.firstRetryIntervalInMilliseconds * coefficient ** (failedAttempts - 1);
  if (policy.maxRetryIntervalInMilliseconds && policy.maxRetryIntervalInMilliseconds > 0) {
    delayMs = Math.min(delayMs, policy.maxRetryIntervalInMilliseconds);
  }
  if (policy.retryTimeoutInMilliseconds && policy.retryTimeoutInMilliseconds > 0 && elapsedMs + delayMs > policy.retryTimeoutInMilliseconds) {
    return undefined;
  }
  return delayMs;
}
