import type { CallControlDeps, LifecycleStart } from './ports.js';
import type { CallSession } from './session.js';

/** The lifecycle's input for a call, from its session: what start-or-raise starts a missing lifecycle with. */
export function lifecycleStartOf(callId: string, session: CallSession, callConnectionId: string, deps: Pick<CallControlDeps, 'config'>): LifecycleStart {
  return {
    callId,
    callConnectionId,
    startedAt: session.startedAt,
    maxDurationSeconds: deps.config.lifecycle.maxCallDurationSeconds,
    direction: session.direction,
    archiveHorizonSeconds: deps.config.lifecycle.archiveRetryHorizonSeconds,
    ...(session.callerUserId ? { callerUserId: session.callerUserId } : {}),
  };
}
