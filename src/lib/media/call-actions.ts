/**
 * What the realtime agent's tools do to the call, outside the model: transfer to the configured
 * number (ACS `transferCallToParticipant`) and the caller's profile (the archive's Redis-cached
 * profile repository). Neither takes a value from the model: the number comes from configuration,
 * the caller from the call session's `callerUserId`.
 */

import type { CallAutomationClient } from '@azure/communication-call-automation';
import type { AppConfig } from '../config/index.js';
import type { CallerProfile } from '../agent/types.js';
import { phoneIdentifier } from '../acs/client.js';
import type { SessionStore } from '../state/session-store.js';
import type { Logger } from '../telemetry/logger.js';
import { CallActionError } from './errors.js';


/** The operationContext of the transfer (the recognize/play path uses the same one). */
export const TRANSFER_OPERATION_CONTEXT = 'transfer';

/**
 * Transfers the call to `TRANSFER_TARGET_NUMBER` through ACS. The session goes to `transferring`;
 * callEvents sets the outcome `transferred` when ACS reports CallTransferAccepted. Undefined without a
 * configured number (the tool is then not offered).
 */
export function acsTransfer(
  config: AppConfig,
  store: SessionStore,
  acs: () => Promise<CallAutomationClient>,
  logger: Logger,
): ((callId: string) => Promise<void>) | undefined {
  const target = config.acs.transferTargetNumber;
  if (!target) return undefined;
  return async (callId) => {
    const session = await store.getCallSession(callId);
    const callConnectionId = typeof session?.callConnectionId === 'string' ? session.callConnectionId : undefined;
    if (!callConnectionId) throw new CallActionError(`call ${callId} has no callConnectionId`, false);
    // The state is informational (callEvents records the outcome); a failed write must not stop the transfer.
    await store
      .updateCallSession(callId, { state: 'transferring' })
      .catch((error: unknown) => logger.warn('could not mark the call as transferring', { callId, error: error as Error }));
    await (await acs()).getCallConnection(callConnectionId).transferCallToParticipant(phoneIdentifier(target), { operationContext: TRANSFER_OPERATION_CONTEXT });
  };
}

/** What the model gets back from `lookup_profile`: no ids, no phone numbers. */
export function profileToolOutput(profile: CallerProfile | undefined): Record<string, unknown> {
  if (!profile) return { found: false };
  const { displayName, callCount, lastCallAt, lastCallSummary } = profile;
  return { found: true, displayName, callCount, lastCallAt, lastCallSummary };
}
