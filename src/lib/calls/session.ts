import { createHash } from 'node:crypto';

/** The call session's type and its transitions live with its repository (`CallSessions`). */
export type { CallSession, CallState, CallOutcome } from '../state/index.js';

/**
 * The call id is ours, known before ACS assigns a call connection id: a hash of the incoming call's
 * `serverCallId` (stable across Event Grid redeliveries), or a random id for outbound calls.
 */
export function callIdForIncoming(serverCallId: string): string {
  return `in-${createHash('sha256').update(serverCallId).digest('base64url').slice(0, 27)}`;
}
