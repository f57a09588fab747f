/**
 * A handoff on the realtime session (`session.update`), with the real `openai` client against the
 * realtime emulator over TLS: the next agent's instructions and tools replace the session's, and its
 * voice only while the model has not spoken yet — the realtime service refuses a voice change after
 * its first audio, so the session does not ask for one.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealtimeAgentSession, realtimeToolsFor, type RealtimeAgentHandlers } from '../../src/lib/agent/realtime/index.js';
import { startRealtimeEmulator, type RealtimeEmulator } from '../../emulators/realtime/index.js';

let emulator: RealtimeEmulator;
beforeAll(async () => {
  emulator = await startRealtimeEmulator({ speechMsPerWord: 20 });
});
afterAll(async () => {
  await emulator?.close();
});

const CLAIMS_TOOL = { type: 'function' as const, name: 'claim_status', description: 'A claim by number', parameters: { type: 'object', properties: { claimNumber: { type: 'string' } } } };

async function connect(handlers: RealtimeAgentHandlers = {}): Promise<RealtimeAgentSession> {
  return RealtimeAgentSession.connect({
    endpoint: emulator.endpoint,
    deployment: emulator.deployment,
    apiVersion: emulator.apiVersion,
    apiKey: emulator.apiKey,
    correlationId: randomUUID(),
    socketOptions: { ca: emulator.ca },
    instructions: 'You verify callers.',
    tools: realtimeToolsFor({ canTransfer: false, canLookUpProfile: false }),
    voice: 'alloy',
    handlers,
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('session.update for a handoff', () => {
  it('gives the session the next agent’s instructions, tools and voice before the model has spoken', { timeout: 15_000 }, async () => {
    // Prepare
    const session = await connect();
    try {
      const emulated = emulator.sessions.get(session.sessionId ?? '')!;
      // Act
      const { voiceChanged } = session.update({ instructions: 'You are a claims specialist.', tools: [...realtimeToolsFor({ canTransfer: false, canLookUpProfile: false }), CLAIMS_TOOL], voice: 'verse' });
      await until(() => emulated.received.filter((t) => t === 'session.update').length === 2, 'the second session.update');
      await until(() => emulated.config['instructions'] === 'You are a claims specialist.', 'the new instructions');
      // Assess
      expect(voiceChanged).toBe(true);
      expect((emulated.config['tools'] as Array<{ name: string }>).map((t) => t.name)).toEqual(['end_call', 'claim_status']);
      expect(emulated.config['audio'].output.voice).toBe('verse');
    } finally {
      await session.close();
    }
  });

  it('keeps the voice once the model has spoken, and still switches instructions and tools', { timeout: 15_000 }, async () => {
    // Prepare: the model speaks once.
    let agentTurns = 0;
    const session = await connect({ onTurnCompleted: (turn) => void (turn.role === 'agent' && (agentTurns += 1)) });
    try {
      const emulated = emulator.sessions.get(session.sessionId ?? '')!;
      session.requestResponse('Greet the caller.');
      await until(() => agentTurns === 1, "the model's first answer");
      // Act
      const { voiceChanged } = session.update({ instructions: 'You are a claims specialist.', tools: [CLAIMS_TOOL], voice: 'verse' });
      await until(() => emulated.config['instructions'] === 'You are a claims specialist.', 'the new instructions');
      // Assess
      expect(voiceChanged).toBe(false);
      expect((emulated.config['tools'] as Array<{ name: string }>).map((t) => t.name)).toEqual(['claim_status']);
      expect(emulated.config['audio'].output.voice).toBe('alloy');
    } finally {
      await session.close();
    }
  });
});
