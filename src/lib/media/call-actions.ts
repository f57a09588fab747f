/**
 * What the realtime agent's tools do to the call, outside the model: transfer to the configured
 * number (ACS `transferCallToParticipant`) and the caller's profile (the archive's Redis-cached
 * profile repository). Neither takes a value from the model: the number comes from configuration,
 * the caller from the call session's `callerUserId`.
 */

import type { CallConnection } from '@azure/communication-call-automation';
import type { AppConfig } from '../config/index.js';
import type { CallerProfile } from '../agent/types.js';
import { phoneIdentifier, type AcsClient } from '../acs/client.js';
import type { CallSessions, WriteOutcome } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import { CallActionError } from './errors.js';


/** The operationContext of the transfer (the recognize/play path uses the same one). */
export const TRANSFER_OPERATION_CONTEXT = 'transfer';

/**
 * The call's connection for an action the agent asked for, after a best-effort session update (the
 * state is informational: callEvents records the outcome, so a failed write must not stop the action).
 */
async function connectionFor(
  callId: string,
  action: { readonly name: string; readonly record: (sessions: CallSessions) => Promise<WriteOutcome> },
  sessions: CallSessions,
  acs: () => Promise<AcsClient>,
  logger: Logger,
): Promise<CallConnection> {
  const callConnectionId = (await sessions.get(callId))?.callConnectionId;
  if (!callConnectionId) throw new CallActionError(`call ${callId} has no callConnectionId`, false);
  await action
    .record(sessions)
    .catch((error: unknown) => logger.warn('could not record the call action on the session', { callId, action: action.name, error: error as Error }));
  return (await acs()).connection(callConnectionId);
}

/**
 * Transfers the call to `TRANSFER_TARGET_NUMBER` through ACS, or to the number the call's scenario
 * configures (resolved from its setting at load, never from the model). The session goes to
 * `transferring`; callEvents sets the outcome `transferred` when ACS reports CallTransferAccepted.
 * Undefined without a configured number (the tool is then not offered).
 */
export function acsTransfer(
  config: AppConfig,
  sessions: CallSessions,
  acs: () => Promise<AcsClient>,
  logger: Logger,
): ((callId: string, targetNumber?: string) => Promise<void>) | undefined {
  const configured = config.acs.transferTargetNumber;
  if (!configured) return undefined;
  return async (callId, targetNumber) => {
    const connection = await connectionFor(callId, { name: 'transfer', record: (s) => s.transferring(callId) }, sessions, acs, logger);
    await connection.transferCallToParticipant(phoneIdentifier(targetNumber ?? configured), { operationContext: TRANSFER_OPERATION_CONTEXT });
  };
}

/** `hangUp` over the call's session (its callConnectionId) and the ACS client: hangs up for everyone. */
export function acsHangUp(sessions: CallSessions, acs: () => Promise<AcsClient>, logger: Logger): (callId: string) => Promise<void> {
  return async (callId) => {
    const connection = await connectionFor(callId, { name: 'hang-up', record: (s) => s.concluding(callId, 'completed') }, sessions, acs, logger);
    await connection.hangUp(true);
  };
}

/** What the model gets back from `lookup_profile`: no ids, no phone numbers. */
export function profileToolOutput(profile: CallerProfile | undefined): Record<string, unknown> {
  if (!profile) return { found: false };
  const { displayName, callCount, lastCallAt, lastCallSummary } = profile;
  return { found: true, displayName, callCount, lastCallAt, lastCallSummary };
}
