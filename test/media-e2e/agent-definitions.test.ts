/**
 * Agent definitions on the media path: a call to the insurance number gets the verification agent's
 * instructions, its HTTP tool and voice in the realtime session, and the tool is answered through the
 * same policy as the chat path (refused while the caller is not verified, so the claims system is
 * never asked). The realtime emulator stands in for the model, with a responder that calls the tool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { startClaimsApi, type ClaimsApi } from '../../emulators/claims-api.js';
import type { Responder } from '../../emulators/realtime/responder.js';
import { defaultResponder } from '../../emulators/realtime/responder.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { lifecycleOf } from '../e2e/support.js';
import { ask, startMediaStack } from './support.js';

const INSURANCE_NUMBER = '+15550100200';

const claimAsker: Responder = (input) => {
  const last = input.toolOutputs.at(-1);
  if (last) return { text: `The claims tool said ${last.output}` };
  if (/claim/i.test(input.userText) && input.toolNames.includes('claim_status')) return { toolCall: { name: 'claim_status', arguments: { claimNumber: '100234' } } };
  return defaultResponder(input);
};

describe('agent definitions on a media call', () => {
  let stack: OfflineStack;
  let claims: ClaimsApi;
  beforeAll(async () => {
    claims = await startClaimsApi();
    stack = await startMediaStack({ realtime: { speechMsPerWord: 60, responder: claimAsker } }, { env: { LOG_LEVEL: 'error', CLAIMS_API_URL: claims.url } });
  });
  afterAll(async () => {
    await stack?.close();
    await claims?.close();
  });

  it("sets the scenario agent's instructions, tools and voice, and refuses its protected tool to an unverified caller", { timeout: 30_000 }, async () => {
    // Act
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, ...ask('What is the status of my claim'), { hangUp: true as const }];
    const call = await stack.acs.placeCall({ from: '+15550107301', to: INSURANCE_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    await lifecycleOf(stack, call.callConnectionId);
    // Assess
    const callId = callIdForIncoming(call.serverCallId);
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    expect(String(session.config['instructions'])).toContain("You are the voice assistant of Fabrikam Insurance's claims line.");
    expect((session.config['tools'] as { name: string }[]).map((t) => t.name)).toEqual(['end_call', 'transfer_to_human', 'lookup_profile', 'claim_status']);
    expect(JSON.stringify(session.config)).toContain('"voice":"alloy"');
    const output = session.items.find((i) => i.type === 'function_call_output' && i.name === 'claim_status');
    expect(JSON.parse(output!.text)).toMatchObject({ error: 'caller_not_verified' });
    expect(claims.requests).toEqual([]);
  });
});
