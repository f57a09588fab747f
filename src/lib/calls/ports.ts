import type { CallAutomationClient } from '@azure/communication-call-automation';
import type { AppConfig } from '../config/index.js';
import type { ChatAgent, CallerProfile } from '../agent/types.js';
import type { AgentCatalog } from '../agents/loader.js';
import type { SessionStore } from '../state/session-store.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * What call control needs from the rest of the system. Handlers build one of these per invocation
 * from the process runtime (and the invocation's durable client); tests build it from real local parts.
 */
export interface CallControlDeps {
  readonly config: AppConfig;
  readonly store: SessionStore;
  readonly acs: () => Promise<CallAutomationClient>;
  readonly agent: ChatAgent;
  readonly lifecycle: LifecyclePort;
  readonly audit: AuditPort;
  readonly profiles: ProfilePort;
  readonly logger: Logger;
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
}

export interface LifecyclePort {
  /** Starts the call's orchestration; starting one that already runs is not an error. */
  start(input: LifecycleStart): Promise<void>;
  /** Raises `CallDisconnected` on the call's orchestration. */
  callDisconnected(callConnectionId: string, payload: { reason: string; at: string }): Promise<void>;
}

export type AuditAction = 'answered' | 'call_placed' | 'transferred' | 'transfer_failed' | 'ended' | 'auth_failed' | 'answer_failed' | 'caller_verification';

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
