/**
 * The media path bounds what it stores as the recognize/play path does: a caller transcript or an agent
 * transcript over its limit is cut, the cut is recorded on the turn (`truncatedFrom`), and nothing else
 * about the turn changes. Real Redis; the agent session is the port's own shape, driven through the
 * handlers the bridge gives it (the model is not what is under test).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CallBridge } from '../../src/lib/media/call-bridge.js';
import type { AgentSessionFactory } from '../../src/lib/media/agent-port.js';
import type { RealtimeAgentHandlers } from '../../src/lib/agent/realtime/types.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { openStore, randomId, type StoreHandle } from '../state/support/store.js';

describe('media transcripts over their limits', () => {
  let h: StoreHandle;
  beforeAll(async () => {
    h = await openStore(inject('redisPort'));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('are cut to the configured length and the cut is recorded on the stored turn', async () => {
    // Prepare
    let handlers: RealtimeAgentHandlers | undefined;
    const agent: AgentSessionFactory = async (request) => {
      handlers = request.handlers;
      return { appendAudio: () => 0, requestResponse: () => undefined, respondTo: () => undefined, update: () => ({ voiceChanged: false }), cancelResponse: () => undefined, truncate: () => '', close: async () => undefined };
    };
    const warnings: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message) => warnings.push(message), error: () => undefined };
    const callId = randomId();
    const bridge = new CallBridge({
      callId,
      conversation: await ConversationManager.fromRedis(callId, h.store),
      send: () => undefined,
      agent,
      logger,
      limits: { callerTextChars: 100, agentTextChars: 50 },
    });
    await bridge.start();
    const timings = { startedAtEpochMs: Date.now(), endedAtEpochMs: Date.now() };

    // Act: a caller turn of 5,000 characters, an agent turn of 300, and a short one of each.
    handlers!.onTurnCompleted!({ role: 'user', text: 'a'.repeat(5_000), itemId: 'u1', timings });
    handlers!.onTurnCompleted!({ role: 'agent', text: 'b'.repeat(300), itemId: 'a1', responseId: 'r1', timings });
    handlers!.onTurnCompleted!({ role: 'user', text: 'short', itemId: 'u2', timings });
    handlers!.onTurnCompleted!({ role: 'agent', text: 'fine', itemId: 'a2', responseId: 'r2', timings });
    await bridge.close();

    // Assess: what Redis holds for the call.
    const stored = (await ConversationManager.fromRedis(callId, h.store)).getHistory();
    expect(stored.map((t) => [t.role, t.content.length, t.meta?.truncatedFrom])).toEqual([
      ['user', 100, 5_000],
      ['assistant', 50, 300],
      ['user', 5, undefined],
      ['assistant', 4, undefined],
    ]);
    expect(warnings.filter((w) => w.includes('over the limit'))).toHaveLength(2);
  });
});
