import { AppError } from '../errors.js';

/**
 * The deadline of one callback turn (`TURN_BUDGET_MS`). The caller is waiting in silence while the
 * turn runs, so every I/O on its path is bounded by one signal: the reads, the profile lookup and the
 * model call share `answer`; the write of the turn and the ACS request that speaks it get a fresh
 * budget of the same length (`followUp`), so an answer that took the whole budget, or the apology
 * that replaced it, is still recorded and heard.
 */
export class TurnBudget {
  private readonly startedMs = performance.now();
  private signal: AbortSignal | undefined;

  constructor(readonly budgetMs: number) {}

  /**
   * Fires when the turn has had `budgetMs`, counted from its start, to get its answer ready. Made on
   * first use: most callbacks (PlayCompleted, ParticipantsUpdated…) are not turns and need no timer.
   */
  get answer(): AbortSignal {
    this.signal ??= AbortSignal.timeout(Math.max(0, Math.ceil(this.budgetMs - (performance.now() - this.startedMs))));
    return this.signal;
  }

  /** Whether the answer's budget ran out (the caller hears the apology, the turn records `timedOut`). */
  get expired(): boolean {
    return this.signal?.aborted ?? false;
  }

  /** A fresh signal for the write and the ACS request after the answer. */
  followUp(): AbortSignal {
    return AbortSignal.timeout(this.budgetMs);
  }
}

/** A turn's I/O did not finish within its budget; the redelivery of the event may. */
export class TurnBudgetExceededError extends AppError {
  override name = 'TurnBudgetExceededError';
  constructor(
    readonly operation: string,
    budgetMs: number,
    cause?: unknown,
  ) {
    super(`${operation} did not finish within the turn budget of ${budgetMs} ms`, { code: 'turn_budget_exceeded', retryable: true, context: { operation, budgetMs }, cause });
  }
}

/**
 * `work` bounded by `signal`, for I/O whose client takes no signal of its own (the session store's
 * Redis commands, the profile lookup): the turn goes on without waiting; the operation ends by its own
 * timeout. An operation given the signal and aborted by it is reported the same way, so its failure
 * reads as the timeout it is (retried) rather than as an abort by a caller (not retried).
 */
export async function withinBudget<T>(signal: AbortSignal, operation: string, budgetMs: number, work: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw new TurnBudgetExceededError(operation, budgetMs, signal.reason);
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new TurnBudgetExceededError(operation, budgetMs, signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(), expired]);
  } catch (error) {
    if (signal.aborted && !(error instanceof TurnBudgetExceededError)) throw new TurnBudgetExceededError(operation, budgetMs, error);
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
