/**
 * The insurance scenario on the media path: a PIN keyed on the phone arrives as DtmfData on the media
 * socket and is verified by the definition (never by the model); a protected tool is refused aloud
 * until then; the handoff to the claims specialist switches the realtime session by `session.update`;
 * and a relay that takes the call over after a failover resumes with the active agent and the
 * verification in Redis. The realtime emulator stands in for the model, answering as the definitions
 * do (emulators/realtime/scenario-model.ts); ACS, Web PubSub, Redis, Cosmos and the claims API are the
 * emulators and local servers over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep } from '../../emulators/acs/index.js';
import { startClaimsApi, type ClaimsApi } from '../../emulators/claims-api.js';
import { DEMO_TRANSFER_NUMBER, type OfflineStack } from '../../emulators/offline-stack.js';
import type { Responder } from '../../emulators/realtime/responder.js';
import { scenarioModel } from '../../emulators/realtime/scenario-model.js';
import { hashPin, loadAgentCatalog } from '../../src/lib/agents/index.js';
import { PIN_REDACTED } from '../../src/lib/agents/call-core.js';
import { userIdFromPhoneNumber } from '../../src/lib/archive/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { createLogger, quietLogger } from '../../src/lib/telemetry/logger.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { startMediaStack } from './support.js';

const INSURANCE_NUMBER = '+15550100200';
/** Digits that appear nowhere else in a call's ids, logs or audio, so finding them anywhere is a leak. */
const PIN = '9157';
const VERIFIED = "Thank you, you're verified. I'm passing you to our claims specialist now. How can I help with your claim today?";
const CLAIMS_PERSONA = 'You are a claims specialist at Fabrikam Insurance';
const VERIFICATION_PERSONA = "You are the voice assistant of Fabrikam Insurance's claims line.";

/** The caller lets the agent answer before going on (the VAD's end of speech, the relay, the first audio). */
const answered: CallerStep = { waitFor: 'agentSilence', quietMs: 1_200, timeoutMs: 15_000 };
const greeted: CallerStep = { waitFor: 'greeting', quietMs: 600, timeoutMs: 15_000 };

/** What each model response was given: the agent (instructions) and tools of the session at that time. */
type ResponseSeen = { readonly instructions: string; readonly toolNames: readonly string[]; readonly userText: string };

function insuranceStack(relays: number): { stack: () => OfflineStack; claims: () => ClaimsApi; logs: string[]; responses: ResponseSeen[]; agentTurns: Map<string, number> } {
  let stack: OfflineStack | undefined;
  let claims: ClaimsApi | undefined;
  const logs: string[] = [];
  const responses: ResponseSeen[] = [];
  const agentTurns = new Map<string, number>();
  beforeAll(async () => {
    claims = await startClaimsApi();
    const env = { LOG_LEVEL: 'debug', CLAIMS_API_URL: claims.url };
    const catalog = await loadAgentCatalog('agents', { settings: { ...env, TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER } });
    const model = scenarioModel(catalog, quietLogger);
    // The claims specialist hands a caller who wants to start over back to verification (its discreet handoff).
    const responder: Responder = (input) => {
      responses.push({ instructions: input.instructions, toolNames: input.toolNames, userText: input.userText });
      if (/start over/i.test(input.userText) && input.toolNames.includes('handoff_to_verification')) return { toolCall: { name: 'handoff_to_verification', arguments: {} } };
      return model(input);
    };
    // Every log line of the app and the relays, at debug level, to look for the PIN in.
    const logger = createLogger((level, message, fields) => logs.push(JSON.stringify({ level, message, ...fields })), 'debug');
    stack = await startMediaStack(
      {
        relays,
        ...(relays > 1 ? { heartbeatTtlSeconds: 5 } : {}),
        realtime: { speechMsPerWord: 60, responder },
        relay: { logger, onTurn: (callId, turn) => void (turn.role === 'agent' && agentTurns.set(callId, (agentTurns.get(callId) ?? 0) + 1)) },
      },
      { env, logger },
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await claims?.close();
  });
  return { stack: () => stack!, claims: () => claims!, logs, responses, agentTurns };
}

/** A caller of the insurance line with a PIN on file. */
async function callerWithPin(stack: OfflineStack, phone: string): Promise<void> {
  const archive = await stack.runtime.archive();
  await archive.profiles.upsert({ userId: userIdFromPhoneNumber(phone, stack.config.archive.userIdSalt), pinHash: await hashPin(PIN) });
}

async function placeCall(stack: OfflineStack, phone: string, steps: CallerStep[]): Promise<{ callId: string; callConnectionId: string | undefined }> {
  await callerWithPin(stack, phone);
  const call = await stack.acs.placeCall({ from: phone, to: INSURANCE_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 });
  await lifecycleOf(stack, call.callConnectionId);
  return { callId: callIdForIncoming(call.serverCallId), callConnectionId: call.callConnectionId };
}

describe('the insurance scenario on a media call', () => {
  const fixture = insuranceStack(1);

  it('refuses the claims tool aloud until a PIN keyed on the phone verifies the caller, and never lets the PIN out', { timeout: 60_000 }, async () => {
    // Prepare
    const stack = fixture.stack();
    const question = 'What is the status of claim 100234?';
    const steps: CallerStep[] = [greeted, { say: question }, answered, { dtmf: PIN }, answered, { say: question }, answered, { hangUp: true }];

    // Act
    const { callId } = await placeCall(stack, '+15550107401', steps);

    // Assess: the claims system was asked once, after the caller was verified.
    expect(fixture.claims().requests).toEqual(['GET /claims/100234']);
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    const outputs = session.items.filter((i) => i.type === 'function_call_output' && i.name === 'claim_status').map((i) => JSON.parse(i.text) as Record<string, unknown>);
    expect(outputs[0]).toMatchObject({ error: 'caller_not_verified' });
    expect(outputs[1]).toMatchObject({ status: 'approved', say: expect.stringContaining('Claim 100234 is approved') as unknown });

    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(callId);
    const turns = transcript!.turns.filter((t) => t.meta?.kind !== 'truncation');
    expect(turns.map((t) => [t.role, t.content.split('.')[0]])).toEqual([
      ['assistant', 'Welcome to Fabrikam Insurance claims'],
      ['user', question.split('.')[0]],
      ['assistant', "I can help with that once you're verified"],
      ['user', PIN_REDACTED],
      ['assistant', "Thank you, you're verified"],
      ['user', question.split('.')[0]],
      ['assistant', 'Claim 100234 is approved'],
    ]);
    expect(turns[2]!.meta).toMatchObject({ agent: 'verification', tools: ['claim_status'], refusedTools: ['claim_status'] });
    expect(turns[3]!.meta).toMatchObject({ redacted: 'pin', via: 'dtmf' });
    expect(turns[4]!.meta).toMatchObject({ agent: 'verification', tools: ['verify_caller', 'handoff'], handoffTo: 'claims' });
    expect(turns[6]!.meta).toMatchObject({ agent: 'claims', tools: ['claim_status'] });
    // Analytics per agent and per tool, as on the recognize/play path.
    const analytics = await archive.analytics.get(callId, transcript!.header.startedAt.slice(0, 10));
    expect(Object.keys(analytics!.latency)).toEqual(expect.arrayContaining(['tool_claim_status', 'turn_agent_verification', 'turn_agent_claims']));

    // Every attempt is audited, without the PIN; the PIN is nowhere: not in the model's conversation, the
    // transcript, the audit or any log line.
    const audit = await archive.audit.list(callId);
    expect(audit.filter((a) => a.action === 'caller_verification').map((a) => a.details?.result)).toEqual(['verified']);
    const everything = [JSON.stringify(session.items), JSON.stringify(transcript), JSON.stringify(audit), ...fixture.logs].join('\n');
    expect(everything).not.toContain(PIN);
    expect(fixture.logs.some((line) => line.includes('caller verification attempt'))).toBe(true);
  });

  it('hands the call over by session.update: the next agent’s instructions and tools, announced or discreet', { timeout: 60_000 }, async () => {
    // Prepare
    const stack = fixture.stack();
    fixture.responses.length = 0;
    const steps: CallerStep[] = [greeted, { dtmf: PIN }, answered, { say: 'Can we start over please' }, answered, { hangUp: true }];

    // Act
    const { callId } = await placeCall(stack, '+15550107402', steps);

    // Assess: one session, updated twice after its set-up: to the claims specialist, then back.
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    expect(session.received.filter((t) => t === 'session.update')).toHaveLength(3);
    // The caller's "start over" reached the claims specialist, with its tools.
    const startOver = fixture.responses.find((r) => /start over/i.test(r.userText))!;
    expect(startOver.instructions).toContain(CLAIMS_PERSONA);
    expect(startOver.toolNames).toEqual(expect.arrayContaining(['claim_status', 'handoff_to_verification', 'end_call']));
    expect(startOver.toolNames).not.toContain('verify_caller');
    // …and the session ends with the verification agent's instructions again.
    expect(String(session.config['instructions'])).toContain(VERIFICATION_PERSONA);
    expect((session.config['tools'] as Array<{ name: string }>).map((t) => t.name)).not.toContain('handoff_to_verification');

    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    const handoffs = transcript!.turns.filter((t) => typeof t.meta?.handoffTo === 'string');
    expect(handoffs.map((t) => [t.meta?.agent, t.meta?.handoffTo])).toEqual([
      ['verification', 'claims'],
      ['claims', 'verification'],
    ]);
    // Announced: the announcement, then the specialist's opening. Discreet: only the next agent's opening.
    expect(handoffs[0]!.content).toBe(VERIFIED);
    expect(handoffs[1]!.content).toBe('Welcome to Fabrikam Insurance claims. For your security, please enter your four-digit PIN on the keypad.');
  });
});

describe('the insurance scenario across a relay failover', () => {
  const fixture = insuranceStack(2);

  it('resumes on the surviving relay with the claims specialist and the caller still verified', { timeout: 60_000 }, async () => {
    // Prepare
    const stack = fixture.stack();
    const phone = '+15550107403';
    const steps: CallerStep[] = [greeted, { dtmf: PIN }, answered, { pause: 2_500 }, { say: 'What is the status of claim 100234?' }, answered, { hangUp: true }];
    await callerWithPin(stack, phone);
    const placed = stack.acs.placeCall({ from: phone, to: INSURANCE_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 });

    // Act: the owner dies once the caller is verified and handed to the claims specialist (greeting + that).
    const callId = await eventually('the caller verified and handed off', () => [...fixture.agentTurns].find(([, n]) => n >= 2)?.[0], 20_000);
    const dead = stack.media!.relays.find((r) => r.calls().includes(callId))!;
    const survivor = stack.media!.relays.find((r) => r !== dead)!;
    expect(dead.bridge(callId)?.activeAgent).toBe('claims');
    await dead.terminate();
    await eventually('the survivor owns the call', () => survivor.calls().includes(callId) || undefined, 10_000);
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the survivor's session was the claims specialist's from its set-up (`_activeAgent`), with no handoff of its own.
    const sessions = [...stack.media!.realtime.sessions.values()].filter((s) => s.correlationId === callId);
    expect(sessions).toHaveLength(2);
    const resumed = sessions[1]!;
    expect(resumed.received.filter((t) => t === 'session.update')).toHaveLength(1);
    expect(String(resumed.config['instructions'])).toContain(CLAIMS_PERSONA);
    expect((resumed.config['tools'] as Array<{ name: string }>).map((t) => t.name)).toContain('claim_status');
    // The verification in Redis held: the claims system answered, and the caller heard it.
    expect(fixture.claims().requests).toEqual(['GET /claims/100234']);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    const agentTurns = transcript!.turns.filter((t) => t.role === 'assistant' && t.meta?.kind !== 'truncation');
    expect(agentTurns.at(-1)).toMatchObject({ content: expect.stringContaining('Claim 100234 is approved') as unknown, meta: { agent: 'claims', tools: ['claim_status'] } });
    expect(transcript!.turns.filter((t) => typeof t.meta?.handoffTo === 'string').map((t) => t.meta?.handoffTo)).toEqual(['claims']);
  });
});
