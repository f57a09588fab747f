/**
 * What a lifecycle activity returns, instead of throwing, when it failed in a way no retry can change
 * (`classify` said `fatal` or `gone`). Durable Functions cannot tell failures apart: a thrown error
 * reaches the orchestrator as a `TaskFailedError` with only a type name and a message, and its retry
 * options (`callActivityWithRetry`, and our own step loop alike) retry every failure. A result is the
 * one thing that crosses the activity boundary intact, so the orchestrator ends the step at once and
 * records the failure rather than retrying invalid input for minutes.
 */
export interface ActivityFailure {
  readonly activityFailed: {
    readonly verdict: 'fatal' | 'gone';
    /** The error's name (`ArchiveRejectedError`), code and HTTP status when it had them. */
    readonly error: string;
    readonly code: string | number | null;
    readonly status: number | null;
    /** Bounded; for the log line and the output's warnings. */
    readonly message: string;
  };
}

export function isActivityFailure(value: unknown): value is ActivityFailure {
  const failed = (value as { activityFailed?: unknown } | null)?.activityFailed;
  return typeof failed === 'object' && failed !== null && typeof (failed as { message?: unknown }).message === 'string';
}
