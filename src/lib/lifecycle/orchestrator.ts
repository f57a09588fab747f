import type { OrchestrationContext, Task } from 'durable-functions';
import { z } from 'zod';
import { isActivityFailure } from './activity-failure.js';
import { InvalidLifecycleInputError, LifecycleStepFailedError } from './errors.js';
import type {
  ArchiveResult,
  CallDisconnectedEvent,
  FinalizedCall,
  LifecycleAuditEntry,
  LifecycleInput,
  LifecyclePhase,
  LifecycleStatus,
  LifecycleSummary,
} from './types.js';

export const LIFECYCLE_ORCHESTRATION = 'callLifecycle';
export const CALL_DISCONNECTED_EVENT = 'CallDisconnected';
export const MAX_DURATION_REASON = 'max-duration';

/** Activity function names, as registered by `src/functions/callLifecycle.ts`. */
export const LifecycleActivity = {
  hangUpCall: 'hangUpCall',
  finalizeCall: 'finalizeCall',
  archiveTranscript: 'archiveTranscript',
  updateProfile: 'updateProfile',
  writeAnalytics: 'writeAnalytics',
  writeAudit: 'writeAudit',
  cleanupCall: 'cleanupCall',
  keepCallState: 'keepCallState',
} as const;

/** Default for {@link LifecycleInput.archiveHorizonSeconds}: a day of retrying before the archive is given up. */
export const DEFAULT_ARCHIVE_HORIZON_SECONDS = 86_400;

/**
 * How a lifecycle step is retried, on durable timers (the orchestration sleeps between attempts; no
 * activity holds a worker): `firstDelayMs` doubling up to `maxDelayMs`, until `maxAttempts` or until
 * the next attempt would start later than `horizonMs` after the first.
 */
export interface StepRetryPolicy {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly horizonMs: number;
}

/** Best-effort steps: 2, 4, 8, 16 s apart, five attempts (a throttling burst or a failover). */
export const BEST_EFFORT_RETRY: StepRetryPolicy = { firstDelayMs: 2_000, maxDelayMs: 60_000, maxAttempts: 5, horizonMs: 120_000 };

/**
 * Required steps (finalize, archive): the same start, capped at 10 minutes apart, until the horizon.
 * The cap stays under the conversation context's 30-minute TTL, which every retry slides back.
 */
export function requiredRetryPolicy(horizonSeconds: number): StepRetryPolicy {
  return { firstDelayMs: 2_000, maxDelayMs: 600_000, maxAttempts: Number.POSITIVE_INFINITY, horizonMs: horizonSeconds * 1_000 };
}

/** The orchestration instance of a call is its call connection id, so callbacks raise events without a lookup. */
export function lifecycleInstanceId(callConnectionId: string): string {
  return callConnectionId;
}

const inputSchema = z.object({
  callId: z.string().min(1),
  callConnectionId: z.string().min(1),
  startedAt: z.iso.datetime({ offset: true }),
  maxDurationSeconds: z.number().int().positive(),
  direction: z.enum(['inbound', 'outbound']),
  callerUserId: z.string().min(1).optional(),
  ended: z.object({ reason: z.string().min(1), at: z.iso.datetime({ offset: true }) }).optional(),
  archiveHorizonSeconds: z.number().int().positive().optional(),
});

export function parseLifecycleInput(value: unknown): LifecycleInput {
  const parsed = inputSchema.safeParse(value);
  if (!parsed.success) throw new InvalidLifecycleInputError(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  return parsed.data;
}

/**
 * One call, from answer to archive. Waits for `CallDisconnected` or the max-duration timer (hanging up
 * when the timer wins; the loser is cancelled), then finalizes, archives, updates the profile, writes
 * analytics and audit, and cleans Redis. Finalize and archive are required: if they fail after their
 * retries the orchestration fails and Redis is left intact (its TTLs still apply) so nothing is lost.
 * The other steps are best-effort and reported in the output's `warnings`.
 *
 * Deterministic: time comes from `context.df.currentUtcDateTime`, all I/O happens in activities. The
 * max duration counts from the orchestration's start (not the caller-supplied `startedAt`), so a skewed
 * clock elsewhere cannot end a call early.
 */
export function* callLifecycleOrchestrator(context: OrchestrationContext): Generator<Task, LifecycleSummary, any> {
  const input = parseLifecycleInput(context.df.getInput());
  const setPhase = (phase: LifecyclePhase, endReason?: string) => {
    const status: LifecycleStatus = { phase, callId: input.callId, ...(endReason ? { endReason } : {}) };
    context.df.setCustomStatus(status);
  };
  const now = () => context.df.currentUtcDateTime.toISOString();
  const warnings: string[] = [];
  // Logged once, not on every replay of the history.
  const log = (level: 'warn' | 'error', message: string, fields: Record<string, unknown>) => {
    if (context.df.isReplaying) return;
    context[level](message, { instanceId: context.df.instanceId, callId: input.callId, ...fields });
  };

  // Giving up at the horizon is loud: logged as an error and counted once (not on every replay), since
  // the audit entry that records it goes to the Cosmos DB account that may be the one that is down.
  const reportGaveUp = (activity: string, error: unknown) => {
    log('error', 'call not archived: its lifecycle gave up at the retry horizon', { step: activity, cause: causeOf(error) });
    if (context.df.isReplaying) return;
    void import('../telemetry/metrics.js')
      .then((metrics) => metrics.countArchiveGaveUp(activity))
      .catch((countError: unknown) => context.warn('could not count the call given up', { instanceId: context.df.instanceId, callId: input.callId, cause: causeOf(countError) }));
  };

  /**
   * Runs one step under `policy`, logging every failed attempt with its cause; throws after the last,
   * or at once when the activity reports a failure no retry can change.
   */
  const step = function* (activity: string, payload: unknown, policy: StepRetryPolicy, beforeRetry?: () => Generator<Task, unknown, any>): Generator<Task, unknown, any> {
    const firstMs = context.df.currentUtcDateTime.getTime();
    for (let attemptNo = 1; ; attemptNo += 1) {
      let result: unknown;
      try {
        result = yield context.df.callActivity(activity, payload);
      } catch (error) {
        const cause = causeOf(error);
        const delayMs = Math.min(policy.firstDelayMs * 2 ** (attemptNo - 1), policy.maxDelayMs);
        const elapsedMs = context.df.currentUtcDateTime.getTime() - firstMs;
        if (attemptNo >= policy.maxAttempts || elapsedMs + delayMs > policy.horizonMs) {
          log('error', 'lifecycle step failed; no attempt left', { step: activity, attempt: attemptNo, elapsedMs, cause });
          throw new LifecycleStepFailedError(activity, { cause: error, attempts: attemptNo });
        }
        log('warn', 'lifecycle step failed; retrying', { step: activity, attempt: attemptNo, retryInMs: delayMs, cause });
        if (beforeRetry) yield* beforeRetry();
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + delayMs));
        continue;
      }
      if (!isActivityFailure(result)) return result;
      const { verdict, error, code, status, message } = result.activityFailed;
      log('error', 'lifecycle step failed; a retry cannot change it', { step: activity, attempt: attemptNo, verdict, error, code, status, cause: message });
      throw new LifecycleStepFailedError(activity, { cause: Object.assign(new Error(message), { name: error }), attempts: attemptNo, retried: false });
    }
  };
  const attempt = function* (activity: string, payload: unknown): Generator<Task, unknown, any> {
    try {
      return yield* step(activity, payload, BEST_EFFORT_RETRY);
    } catch (error) {
      warnings.push(`${activity}: ${causeOf(error)}`);
      return undefined;
    }
  };
  const required = requiredRetryPolicy(input.archiveHorizonSeconds ?? DEFAULT_ARCHIVE_HORIZON_SECONDS);
  // While a required step waits for its dependency, the call's state in Redis must outlive the wait.
  const keepState = function* (): Generator<Task, unknown, any> {
    try {
      const kept: unknown = yield context.df.callActivity(LifecycleActivity.keepCallState, { callId: input.callId });
      if (isActivityFailure(kept)) log('warn', 'could not extend the call state TTLs while archival is pending', { cause: kept.activityFailed.message, error: kept.activityFailed.error });
      return kept;
    } catch (error) {
      log('warn', 'could not extend the call state TTLs while archival is pending', { cause: causeOf(error) });
      return undefined;
    }
  };

  let endReason: string;
  let endedAt: string;
  let hungUpByLifecycle = false;
  if (input.ended) {
    // Started at the hang-up, for a call whose lifecycle was missing: the end is already known.
    endReason = input.ended.reason;
    endedAt = input.ended.at;
  } else {
    setPhase('in-call');
    const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.maxDurationSeconds * 1_000);
    const disconnected = context.df.waitForExternalEvent(CALL_DISCONNECTED_EVENT);
    const maxDuration = context.df.createTimer(deadline);
    const winner: Task = yield context.df.Task.any([disconnected, maxDuration]);
    if (winner === disconnected) {
      maxDuration.cancel();
      const event = (disconnected.result ?? {}) as Partial<CallDisconnectedEvent>;
      endReason = typeof event.reason === 'string' && event.reason ? event.reason : 'disconnected';
      endedAt = typeof event.at === 'string' && event.at ? event.at : now();
    } else {
      setPhase('hanging-up', MAX_DURATION_REASON);
      yield* attempt(LifecycleActivity.hangUpCall, { callConnectionId: input.callConnectionId });
      hungUpByLifecycle = warnings.length === 0;
      endReason = MAX_DURATION_REASON;
      endedAt = now();
    }
  }

  setPhase('finalizing', endReason);
  let call: FinalizedCall;
  try {
    call = (yield* step(LifecycleActivity.finalizeCall, {
      callId: input.callId,
      callConnectionId: input.callConnectionId,
      direction: input.direction,
      ...(input.callerUserId ? { callerUserId: input.callerUserId } : {}),
      startedAt: input.startedAt,
      endedAt,
      endReason,
    }, required, keepState)) as FinalizedCall;
  } catch (error) {
    setPhase('gave-up', endReason);
    reportGaveUp(LifecycleActivity.finalizeCall, error);
    yield* attempt(LifecycleActivity.writeAudit, auditEntry(input, context, 'archive_failed', now(), { step: LifecycleActivity.finalizeCall, error: causeOf(error) }));
    throw error;
  }

  setPhase('archiving', endReason);
  let archived: ArchiveResult;
  try {
    archived = (yield* step(LifecycleActivity.archiveTranscript, call, required, keepState)) as ArchiveResult;
  } catch (error) {
    setPhase('gave-up', endReason);
    reportGaveUp(LifecycleActivity.archiveTranscript, error);
    yield* attempt(LifecycleActivity.writeAudit, auditEntry(input, context, 'archive_failed', now(), { step: LifecycleActivity.archiveTranscript, error: causeOf(error) }));
    throw error;
  }

  let profileUpdated = false;
  if (call.callerUserId) {
    setPhase('updating-profile', endReason);
    const before = warnings.length;
    yield* attempt(LifecycleActivity.updateProfile, call);
    profileUpdated = warnings.length === before;
  }

  setPhase('writing-analytics', endReason);
  yield* attempt(LifecycleActivity.writeAnalytics, call);

  setPhase('writing-audit', endReason);
  if (hungUpByLifecycle) yield* attempt(LifecycleActivity.writeAudit, auditEntry(input, context, 'hung_up_max_duration', endedAt));
  yield* attempt(
    LifecycleActivity.writeAudit,
    auditEntry(input, context, 'ended', endedAt, { endReason, durationSeconds: call.durationSeconds, turnCount: call.turnCount }),
  );

  setPhase('cleaning-up', endReason);
  yield* attempt(LifecycleActivity.cleanupCall, { callId: input.callId });

  setPhase('done', endReason);
  return {
    callId: input.callId,
    callConnectionId: input.callConnectionId,
    direction: input.direction,
    endReason,
    endedAt,
    hungUpByLifecycle,
    durationSeconds: call.durationSeconds,
    turnCount: call.turnCount,
    turnsArchived: archived.turnsArchived,
    profileUpdated,
    warnings,
  };
}

/** The activity's own message, without the library's wrapping, for logs and warnings. */
function causeOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}

function auditEntry(
  input: LifecycleInput,
  context: OrchestrationContext,
  action: LifecycleAuditEntry['action'],
  at: string,
  details?: LifecycleAuditEntry['details'],
): LifecycleAuditEntry {
  return {
    callId: input.callId,
    action,
    actor: 'callLifecycle',
    at,
    ...(details ? { details } : {}),
    // One entry per action per orchestration instance, whatever the number of attempts.
    idempotencyKey: `${context.df.instanceId}:${action}`,
  };
}
