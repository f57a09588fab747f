import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { z } from 'zod';
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
} as const;

/** The orchestration instance of a call is its call connection id, so callbacks raise events without a lookup. */
export function lifecycleInstanceId(callConnectionId: string): string {
  return callConnectionId;
}

/**
 * Retry policy of every lifecycle activity: 2 s, 4 s, 8 s, 16 s apart (capped at 60 s), five attempts,
 * so a Redis failover or a Cosmos throttling burst of up to half a minute is absorbed.
 */
export function lifecycleRetryOptions(): df.RetryOptions {
  const retry = new df.RetryOptions(2_000, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 60_000;
  return retry;
}

const inputSchema = z.object({
  callId: z.string().min(1),
  callConnectionId: z.string().min(1),
  startedAt: z.iso.datetime({ offset: true }),
  maxDurationSeconds: z.number().int().positive(),
  direction: z.enum(['inbound', 'outbound']),
  callerUserId: z.string().min(1).optional(),
  ended: z.object({ reason: z.string().min(1), at: z.iso.datetime({ offset: true }) }).optional(),
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
  const retry = lifecycleRetryOptions();
  const setPhase = (phase: LifecyclePhase, endReason?: string) => {
    const status: LifecycleStatus = { phase, callId: input.callId, ...(endReason ? { endReason } : {}) };
    context.df.setCustomStatus(status);
  };
  const now = () => context.df.currentUtcDateTime.toISOString();
  const warnings: string[] = [];
  const attempt = function* (activity: string, payload: unknown): Generator<Task, unknown, any> {
    try {
      return yield context.df.callActivityWithRetry(activity, retry, payload);
    } catch (error) {
      warnings.push(`${activity}: ${(error as Error).message}`);
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
    call = yield context.df.callActivityWithRetry(LifecycleActivity.finalizeCall, retry, {
      callId: input.callId,
      callConnectionId: input.callConnectionId,
      direction: input.direction,
      ...(input.callerUserId ? { callerUserId: input.callerUserId } : {}),
      startedAt: input.startedAt,
      endedAt,
      endReason,
    });
  } catch (error) {
    throw new LifecycleStepFailedError(LifecycleActivity.finalizeCall, { cause: error });
  }

  setPhase('archiving', endReason);
  let archived: ArchiveResult;
  try {
    archived = yield context.df.callActivityWithRetry(LifecycleActivity.archiveTranscript, retry, call);
  } catch (error) {
    yield* attempt(LifecycleActivity.writeAudit, auditEntry(input, context, 'archive_failed', now(), { error: (error as Error).message }));
    throw new LifecycleStepFailedError(LifecycleActivity.archiveTranscript, { cause: error });
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
