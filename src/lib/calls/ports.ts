import type { CallbackAuthenticator } from '../acs/callback-auth.js';
import type { AcsClient } from '../acs/client.js';
import type { AppConfig } from '../config/index.js';
import type { ChatAgent, CallerProfile } from '../agent/types.js';
import type { AgentCatalog } from '../agents/loader.js';
import type { CallSessions, CallStore, TurnFencing } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * What call control needs from the rest of the system. Handlers build one of these per invocation
 * from the process runtime (and the invocation's durable client); tests build it from real local parts.
 */
export interface CallControlDeps {
  readonly config: AppConfig;
  /** Conversations, and a call's summary and cleanup. */
  readonly store: CallStore;
  /** The call sessions, over {@link store}. */
  readonly sessions: CallSessions;
  /** Event claims and turn leases of the calls. */
  readonly fencing: TurnFencing;
  /** The app's ACS client and its per-call handles (created on first use). */
  readonly acs: () => Promise<AcsClient>;
  readonly agent: ChatAgent;
  readonly lifecycle: LifecyclePort;
  readonly audit: AuditPort;
  readonly profiles: ProfilePort;
  readonly logger: Logger;
  /** Authenticates ACS callbacks (the app's, so its JWKS cache serves every invocation). */
  readonly callbackAuth: CallbackAuthenticator;
  /** Media mode: the Web PubSub client URL ACS connects to for this call (token included). */
  readonly mediaTransportUrl?: (callId: string) => Promise<string>;
  readonly now?: () => Date;
  /** The agent definitions; without them the built-in support agent's prompts are spoken. */
  readonly agents?: AgentCatalog | undefined;
}

export interface LifecycleStart {
  readonly callId: string;
  readonly callConnectionId: string;
  readonly startedAt: string;
  readonly maxDurationSeconds: number;
  readonly direction: 'inbound' | 'outbound';
  readonly callerUserId?: string | undefined;
  /** Retry horizon of finalize and archive (`ARCHIVE_RETRY_HORIZON_SECONDS`). */
  readonly archiveHorizonSeconds?: number | undefined;
}

/** How a call ended, as the `CallDisconnected` event tells the lifecycle. */
export interface CallEnd {
  readonly reason: string;
  readonly at: string;
}

export interface LifecyclePort {
  /** Starts the call's orchestration unless it exists (running or finished): idempotent. */
  start(input: LifecycleStart): Promise<void>;
  /**
   * Raises `CallDisconnected` on the call's orchestration, or, when there is none, starts it with the
   * end already known (start-or-raise): every answered call is archived, and only once.
   */
  callDisconnected(start: LifecycleStart, end: CallEnd): Promise<void>;
}

export type AuditAction = 'answered' | 'call_placed' | 'transferred' | 'transfer_failed' | 'ended' | 'auth_failed' | 'answer_failed' | 'state_lost' | 'media_failed' | 'caller_verification' | 'event_failed';

export interface AuditPort {
  append(entry: {
    readonly callId: string;
    readonly action: AuditAction;
    readonly actor: string;
    readonly at: string;
    /** Flat values only; phone numbers in strings are masked by the audit store. */
    readonly details?: Readonly<Record<string, string | number | boolean | null>>;
    /** Same key, same audit document: retries never duplicate an entry. */
    readonly idempotencyKey?: string;
  }): Promise<void>;
}

export interface ProfilePort {
  userIdFor(phoneNumber: string): string;
  lookup(userId: string): Promise<CallerProfile | undefined>;
}
