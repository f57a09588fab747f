import { createHash } from 'node:crypto';
import type { JsonValue } from '../state/index.js';

/**
 * The call session hash (`call:{callId}:session`). The call id is ours, known before ACS assigns a
 * call connection id: a hash of the incoming call's `serverCallId` (stable across Event Grid
 * redeliveries), or a random id for outbound calls.
 */
export type CallState = 'answering' | 'answer_failed' | 'placing' | 'answered' | 'connected' | 'ending' | 'transferring' | 'disconnected';

export interface CallSession {
  readonly state: CallState;
  readonly direction: 'inbound' | 'outbound';
  readonly startedAt: string;
  readonly callerUserId?: string;
  /** Masked for display (`+1•••••0100`); raw numbers are never stored. */
  readonly callerMasked?: string;
  /** The caller's display name from the network, when it is a name and not a number. */
  readonly callerName?: string;
  readonly serverCallId?: string;
  readonly correlationId?: string;
  readonly callConnectionId?: string;
  /** The number to re-target recognize at; kept only while the call lives (the session has a TTL). */
  readonly participantRawId?: string;
  readonly purpose?: string;
  /** The agent scenario answering the call, routed by the called number at answer time. */
  readonly scenario?: string;
  readonly outcome?: string;
  readonly endedAt?: string;
  /** When the media stream failed (MediaStreamingFailed): the call continues on recognize/play. */
  readonly mediaFailed?: string;
}

export function callIdForIncoming(serverCallId: string): string {
  return `in-${createHash('sha256').update(serverCallId).digest('base64url').slice(0, 27)}`;
}

export function toCallSession(raw: Record<string, JsonValue> | undefined): CallSession | undefined {
  if (!raw || typeof raw.state !== 'string') return undefined;
  return raw as unknown as CallSession;
}
