import { classify, errorSummary } from '../errors.js';
import type { ActivityFailure } from './activity-failure.js';
import type { ArchiveResult, FinalizeRequest, FinalizedCall, LifecycleAuditEntry, LifecycleDeps } from './types.js';
import { LifecycleActivity } from './orchestrator.js';

/**
 * The lifecycle's activities, as functions of their dependencies and their (JSON) input. Each one is a
 * single idempotent operation on one dependency, so a retry after a partial failure is harmless; the
 * registered activity functions only look up the dependencies and call these.
 */

export async function hangUpCall(deps: LifecycleDeps, input: { readonly callConnectionId: string }): Promise<{ hungUp: true }> {
  await deps.hangUp(input.callConnectionId);
  return { hungUp: true };
}

export function finalizeCall(deps: LifecycleDeps, request: FinalizeRequest): Promise<FinalizedCall> {
  return deps.finalize(request);
}

export function archiveTranscript(deps: LifecycleDeps, call: FinalizedCall): Promise<ArchiveResult> {
  return deps.archiveTranscript(call);
}

export async function updateProfile(deps: LifecycleDeps, call: FinalizedCall): Promise<{ updated: boolean }> {
  if (!call.callerUserId) return { updated: false };
  await deps.updateProfile(call);
  return { updated: true };
}

export async function writeAnalytics(deps: LifecycleDeps, call: FinalizedCall): Promise<{ written: true }> {
  await deps.recordAnalytics(call);
  return { written: true };
}

export async function writeAudit(deps: LifecycleDeps, entry: LifecycleAuditEntry): Promise<{ written: true }> {
  await deps.appendAudit(entry);
  return { written: true };
}

export async function cleanupCall(deps: LifecycleDeps, input: { readonly callId: string }): Promise<{ cleaned: true }> {
  await deps.cleanup(input.callId);
  return { cleaned: true };
}

/** Slides the call's Redis TTLs back while a required step waits for its dependency (Cosmos DB outage). */
export async function keepCallState(deps: LifecycleDeps, input: { readonly callId: string }): Promise<{ kept: true }> {
  await deps.keepAlive(input.callId);
  return { kept: true };
}

type ActivityImpl = (deps: LifecycleDeps, input: any) => Promise<unknown>;

const MAX_FAILURE_MESSAGE_CHARS = 500;

/**
 * The activity's error policy: a failure that may pass later is thrown, for the orchestrator to retry
 * on its timers; one that cannot (`fatal`, `gone`) comes back as an {@link ActivityFailure}, which ends
 * the step at once with the failure recorded.
 */
export function withErrorPolicy(activity: ActivityImpl): ActivityImpl {
  return async (deps, input) => {
    try {
      return await activity(deps, input);
    } catch (error) {
      const verdict = classify(error);
      if (verdict === 'retry') throw error;
      const message = error instanceof Error ? error.message : String(error);
      const failure: ActivityFailure = {
        activityFailed: { verdict, ...errorSummary(error), message: message.length > MAX_FAILURE_MESSAGE_CHARS ? `${message.slice(0, MAX_FAILURE_MESSAGE_CHARS)}…` : message },
      };
      return failure;
    }
  };
}

/** Activity name → implementation; `src/functions/callLifecycle.ts` registers one function per entry. */
export const LIFECYCLE_ACTIVITIES: Readonly<Record<(typeof LifecycleActivity)[keyof typeof LifecycleActivity], ActivityImpl>> = {
  [LifecycleActivity.hangUpCall]: withErrorPolicy(hangUpCall),
  [LifecycleActivity.finalizeCall]: withErrorPolicy(finalizeCall),
  [LifecycleActivity.archiveTranscript]: withErrorPolicy(archiveTranscript),
  [LifecycleActivity.updateProfile]: withErrorPolicy(updateProfile),
  [LifecycleActivity.writeAnalytics]: withErrorPolicy(writeAnalytics),
  [LifecycleActivity.writeAudit]: withErrorPolicy(writeAudit),
  [LifecycleActivity.cleanupCall]: withErrorPolicy(cleanupCall),
  [LifecycleActivity.keepCallState]: withErrorPolicy(keepCallState),
};
