/**
 * The chat agent's tools on the media path: `transfer_to_human` hands the call to the configured
 * number through ACS once the fixed hold prompt has played (the model adds no hold reply of its own),
 * `end_call` hangs up once the fixed goodbye prompt has played (again without a reply from the model),
 * and `lookup_profile` reads the caller's profile (the call's own `callerUserId`) through the
 * archive's cached profile repository. The realtime emulator's default responder calls the tools on
 * keywords, over the real `openai` client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { userIdFromPhoneNumber } from '../../src/lib/archive/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { lifecycleOf } from '../e2e/support.js';
import { goodbyePrompt, greetingPrompt, transferHoldPrompt } from '../../src/lib/agents/built-in.js';
import { APP_NUMBER, ask, startMediaStack } from './support.js';

/** The emulators' speech pace in this suite (support.ts): text-to-speech lasts this long per word. */
const SPEECH_MS_PER_WORD = 60;

describe('agent tools on a media call', () => {
  let stack: OfflineStack;

  beforeAll(async () => {
    stack = await startMediaStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  function sessionOf(callId: string) {
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId);
    expect(session, 'the agent session of the call').toBeDefined();
    return session!;
  }

  it('transfers a caller who asks for a person to the configured number after one hold prompt', { timeout: 30_000 }, async () => {
    // Prepare
    const target = stack.config.acs.transferTargetNumber!;
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, { say: 'Can I speak to a real person please', audioMs: 400 }];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107101', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the tool was offered and called; the number came from configuration.
    const callId = callIdForIncoming(call.serverCallId);
    const session = sessionOf(callId);
    expect((session.config['tools'] as Array<{ name: string; parameters: { properties: Record<string, unknown> } }>).map((t) => t.name)).toEqual(['end_call', 'transfer_to_human', 'lookup_profile']);
    expect(session.items.filter((i) => i.type === 'function_call').map((i) => i.name)).toEqual(['transfer_to_human']);
    expect(call.operations).toEqual(['answerCall', 'transferToParticipant']);
    const transfer = call.requests.at(-1)!;
    expect(transfer.body).toMatchObject({ targetParticipant: { rawId: `4:${target}`, phoneNumber: { value: target } }, operationContext: 'transfer' });
    // One "please hold": the model was not asked to reply to the tool, the fixed hold prompt (synthesised
    // text-to-speech from the cache) was heard after the greeting, before the transfer was requested.
    expect(session.received.filter((t) => t === 'response.create')).toHaveLength(0);
    expect(session.items.filter((i) => i.role === 'assistant' && i.type === 'message')).toEqual([]);
    expect(stack.media!.realtime.speechRequests.map((r) => r.input)).toContain(transferHoldPrompt());
    const audio = call.heard.filter((h) => h.kind === 'audio');
    expect(audio).toHaveLength(2);
    const hold = audio.at(-1)!;
    const holdMs = transferHoldPrompt().split(' ').length * SPEECH_MS_PER_WORD;
    expect(hold.ms).toBeGreaterThanOrEqual(holdMs);
    expect(hold.stoppedByStopAudio).toBe(false);
    expect(hold.endedAtMs).toBeDefined();
    expect(hold.endedAtMs!).toBeLessThanOrEqual(transfer.atMs);
    expect(call.eventTypes).toContain('CallTransferAccepted');
    expect(call.endedBy).toBe('transfer');

    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.header.outcome).toBe('transferred');
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ['user', 'Can I speak to a real person please'],
      ['assistant', transferHoldPrompt()],
    ]);
    expect((await archive.audit.list(callId)).map((a) => a.action)).toContain('transferred');
    expect(output).toMatchObject({ endReason: 'disconnected' });
  });

  it('ends the call after one goodbye prompt when the caller says goodbye', { timeout: 30_000 }, async () => {
    // Prepare
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, { say: 'Thanks, that is all, goodbye', audioMs: 400 }];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107103', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the model called end_call and the app hung up.
    const callId = callIdForIncoming(call.serverCallId);
    const session = sessionOf(callId);
    expect(session.items.filter((i) => i.type === 'function_call').map((i) => i.name)).toEqual(['end_call']);
    expect(call.operations).toEqual(['answerCall', 'terminateCall']);
    expect(call.endedBy).toBe('app');
    // One goodbye: the model was not asked to reply to the tool; the fixed goodbye prompt (synthesised
    // text-to-speech from the cache) was heard whole after the greeting, before the hang-up was requested.
    expect(session.received.filter((t) => t === 'response.create')).toHaveLength(0);
    expect(session.items.filter((i) => i.role === 'assistant' && i.type === 'message')).toEqual([]);
    expect(stack.media!.realtime.speechRequests.map((r) => r.input)).toContain(goodbyePrompt());
    const audio = call.heard.filter((h) => h.kind === 'audio');
    expect(audio).toHaveLength(2);
    const goodbye = audio.at(-1)!;
    expect(goodbye.ms).toBeGreaterThanOrEqual(goodbyePrompt().split(' ').length * SPEECH_MS_PER_WORD);
    expect(goodbye.stoppedByStopAudio).toBe(false);
    const hangUp = call.requests.at(-1)!;
    expect(goodbye.endedAtMs).toBeDefined();
    expect(goodbye.endedAtMs!).toBeLessThanOrEqual(hangUp.atMs);

    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ['user', 'Thanks, that is all, goodbye'],
      ['assistant', goodbyePrompt()],
    ]);
  });

  it("looks up the caller's own profile whatever the model asks for", { timeout: 30_000 }, async () => {
    // Prepare: a returning caller with a profile in the archive.
    const caller = '+15550107102';
    const archive = await stack.runtime.archive();
    await archive.profiles.upsert({ userId: userIdFromPhoneNumber(caller, stack.config.archive.userIdSalt), displayName: 'Ada Lovelace', callCount: 3 });
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, ...ask('What is on my account'), { hangUp: true as const }];

    // Act
    const call = await stack.acs.placeCall({ from: caller, to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the tool output the model got is the caller's profile, without ids or numbers.
    const session = sessionOf(callIdForIncoming(call.serverCallId));
    const outputs = session.items.filter((i) => i.type === 'function_call_output');
    expect(outputs.map((i) => i.name)).toEqual(['lookup_profile']);
    const result = JSON.parse(outputs[0]!.text) as Record<string, unknown>;
    expect(result).toMatchObject({ found: true, displayName: 'Ada Lovelace', callCount: 3 });
    expect(JSON.stringify(result)).not.toContain(caller.slice(1));
    expect(result).not.toHaveProperty('userId');
    // The caller was greeted by name, in the support definition's words, as on the recognize/play path:
    // a fixed prompt synthesised once, and the model was told it had greeted instead of being asked to.
    const greeting = greetingPrompt({ userId: 'returning', displayName: 'Ada Lovelace', callCount: 3 });
    expect(stack.media!.realtime.speechRequests.filter((r) => r.input === greeting)).toHaveLength(1);
    expect(String(session.config.instructions)).toContain(`You have already greeted the caller with: "${greeting}"`);
    expect(session.items.filter((i) => i.role === 'assistant').map((i) => i.text)).not.toContain(greeting);
  });
});
