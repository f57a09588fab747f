import { ArchiveAbortedError } from './errors.js';
import { describeCosmosFailure, toArchiveError } from './cosmos-errors.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Our own bounded retry around one Cosmos DB request, on top of the SDK's policies.
 *
 * Why both: the SDK retries 429 (honouring `x-ms-retry-after-ms`) but, on a single-region account,
 * does not retry writes that got a 503, a timeout or a reset connection (it only fails over reads).
 * Every write in this module is an upsert on a deterministic id or a create whose conflict means
 * "already there", so repeating it is safe.
 */
export interface ArchiveRetryPolicy {
  /** Attempts per request, the first included. @default 4 */
  readonly attempts: number;
  /** First back-off; doubles per attempt, with full jitter. @default 100 */
  readonly baseDelayMs: number;
  /** Upper bound of one back-off, also of a server-sent retry-after. @default 2000 */
  readonly maxDelayMs: number;
}

export const DEFAULT_ARCHIVE_RETRY: ArchiveRetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2000 };

export interface RetryContext {
  readonly policy: ArchiveRetryPolicy;
  readonly logger?: Logger | undefined;
  readonly signal?: AbortSignal | undefined;
}

export async function withArchiveRetry<T>(operation: string, run: () => Promise<T>, ctx: RetryContext): Promise<T> {
  const { policy, signal } = ctx;
  for (let attempt = 1; ; attempt += 1) {
    if (signal?.aborted) throw new ArchiveAbortedError(operation, signal.reason);
    try {
      return await run();
    } catch (err) {
      if (signal?.aborted) throw new ArchiveAbortedError(operation, err);
      const failure = describeCosmosFailure(err);
      if (!failure.transient || attempt >= policy.attempts) throw toArchiveError(operation, err, attempt);
      const backoffMs = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const waitMs = Math.min(policy.maxDelayMs, Math.max(backoffMs, failure.retryAfterMs ?? 0));
      ctx.logger?.debug('cosmos request failed; retrying', { operation, attempt, statusCode: failure.statusCode, waitMs: Math.round(waitMs) });
      await sleep(waitMs, signal, operation);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ArchiveAbortedError(operation, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure after the rest settle. */
export async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
