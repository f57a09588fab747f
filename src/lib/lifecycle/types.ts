/**
 * The call lifecycle's data: what starts it, what ends a call, what each step hands to the next, and
 * the dependencies its activities run against. Everything here crosses the Durable Functions history
 * as JSON, so it is plain data (ISO strings for times, no class instances).
 */

export type CallDirection = 'inbound' | 'outbound';

/** Input of the `callLifecycle` orchestration (the same shape call control starts it with). */
export interface LifecycleInput {
  readonly callId: string;
  readonly callConnectionId: string;
  /** ISO time the call was answered or placed. */
  readonly startedAt: string;
  readonly maxDurationSeconds: number;
  readonly direction: CallDirection;
  readonly callerUserId?: string | undefined;
  /** Set when the lifecycle is started at the hang-up (its instance was missing): no wait, the end is known. */
  readonly ended?: CallDisconnectedEvent | undefined;
  /** How long finalize and archive are retried (through a Cosmos DB outage) before the call is given up. @default 86400 */
  readonly archiveHorizonSeconds?: number | undefined;
}

/** Payload of the `CallDisconnected` external event raised by the ACS callback handler. */
export interface CallDisconnectedEvent {
  readonly reason: string;
  /** ISO time ACS reported the disconnect. */
  readonly at: string;
}

/** What the finalize step is told: the call, and how and when it ended. */
export interface FinalizeRequest {
  readonly callId: string;
  readonly callConnectionId: string;
  readonly direction: CallDirection;
  readonly callerUserId?: string | undefined;
  readonly startedAt: string;
  readonly endedAt: string;
  /** `max-duration` when the lifecycle hung up, else the reason in the CallDisconnected event. */
  readonly endReason: string;
}

/** The call after finalize: memory and journal flushed to Redis, the 7-day summary built. */
export interface FinalizedCall extends FinalizeRequest {
  readonly durationSeconds: number;
  readonly turnCount: number;
  /** Short text kept with the summary for 7 days after cleanup (no phone numbers). */
  readonly summary: string;
}

export interface ArchiveResult {
  readonly turnsArchived: number;
}

export type LifecycleAuditAction = 'ended' | 'hung_up_max_duration' | 'archive_failed';

export interface LifecycleAuditEntry {
  readonly callId: string;
  readonly action: LifecycleAuditAction;
  readonly actor: 'callLifecycle';
  readonly at: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
  /** Same key, same audit document: an activity retried after a write that did land adds nothing. */
  readonly idempotencyKey: string;
}

/**
 * What the lifecycle's activities need from the rest of the system. Every operation must be idempotent —
 * an activity may run again after a failure that happened after its write — and `hangUp` must treat a
 * call that is already gone as success.
 */
export interface LifecycleDeps {
  /** Flushes the call's memory tier and journal to Redis and builds the summary. */
  finalize(request: FinalizeRequest): Promise<FinalizedCall>;
  /** Writes the transcript to the archive (upsert by call id). */
  archiveTranscript(call: FinalizedCall): Promise<ArchiveResult>;
  /** Records the visit on the caller's profile (keyed by call id, so a retry does not count twice). */
  updateProfile(call: FinalizedCall): Promise<void>;
  recordAnalytics(call: FinalizedCall): Promise<void>;
  appendAudit(entry: LifecycleAuditEntry): Promise<void>;
  /** Deletes the call's Redis keys except its summary, which keeps a 7-day TTL. */
  cleanup(callId: string): Promise<void>;
  /** Slides the call's Redis keys back to their policy TTLs, so they outlive a pending archival. */
  keepAlive(callId: string): Promise<void>;
  /** Ends the call for everyone (ACS `hangUp(isForEveryone)`). */
  hangUp(callConnectionId: string): Promise<void>;
}

export type LifecyclePhase =
  | 'in-call'
  | 'hanging-up'
  | 'finalizing'
  | 'archiving'
  | 'updating-profile'
  | 'writing-analytics'
  | 'writing-audit'
  | 'cleaning-up'
  | 'done'
  /** Finalize or archive failed until the retry horizon: the call is not archived (audited, logged). */
  | 'gave-up';

/** The orchestration's custom status, visible through the status API while it runs. */
export interface LifecycleStatus {
  readonly phase: LifecyclePhase;
  readonly callId: string;
  readonly endReason?: string;
}

/** The orchestration's output. */
export interface LifecycleSummary {
  readonly callId: string;
  readonly callConnectionId: string;
  readonly direction: CallDirection;
  readonly endReason: string;
  readonly endedAt: string;
  readonly hungUpByLifecycle: boolean;
  readonly durationSeconds: number;
  readonly turnCount: number;
  readonly turnsArchived: number;
  readonly profileUpdated: boolean;
  /** Best-effort steps that failed after their retries (the call is archived; these are follow-ups). */
  readonly warnings: readonly string[];
}
