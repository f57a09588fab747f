/**
 * A call that rings while Redis is unreachable (the server frozen with SIGSTOP, which is how a network
 * partition or a master that died before its replica took over looks to clients). The app answers it
 * from memory instead of refusing the IncomingCall, greets and converses with the turns journaled, and
 * once Redis answers again the journal replays and the call archives with every turn exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { startOfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { RedisServer } from '../support/redis-server.js';
import { onCluster } from '../support/topology.js';
import { APP_NUMBER, lifecycleOf, phoneNumber } from './support.js';

const QUESTIONS = ['What are your opening hours?', 'Where is my order?'];

// The run's shared cluster cannot be frozen whole without stalling the other files; this test freezes a
// private single node, so it runs once, in the single-node project (the cluster soak covers a dead shard).
describe.skipIf(onCluster())('a call that rings while Redis is away', () => {
  let redis: RedisServer;
  let stack: OfflineStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startOfflineStack({
      redis: { host: redis.host, port: redis.port },
      acs: { speechMsPerChar: 2 },
      env: { LOG_LEVEL: 'error' },
      logger: consoleLogger('error', { component: 'e2e' }),
    });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.dispose();
  });

  it('is answered, greeted and served from memory, and archived with every turn once Redis is back', { timeout: 60_000 }, async () => {
    // Prepare: Redis stops answering before the phone rings.
    const store = await stack.runtime.store();
    process.kill(redis.pid!, 'SIGSTOP');
    let thawed = false;
    let journaledAtThaw = 0;
    const thaw = () => {
      if (thawed) return;
      thawed = true;
      journaledAtThaw = store.health().journalDepth;
      process.kill(redis.pid!, 'SIGCONT');
    };
    try {
      // Act: the caller is greeted and asks two questions during the outage; Redis comes back before the hang-up.
      const placed = stack.acs.placeCall(
        { from: phoneNumber(7301), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, ...QUESTIONS.map((say) => ({ say })), { pause: 300 }, { hangUp: true }] },
        { eventGridUrl: stack.eventGridUrl },
      );
      const heardBothAnswers = setInterval(() => {
        const live = [...stack.acs.calls.values()].find((c) => c.requests.filter((r) => r.operation === 'recognize').length >= 3);
        if (live) thaw();
      }, 50);
      const call = await placed.finally(() => clearInterval(heardBothAnswers));
      thaw();
      const { output } = await lifecycleOf(stack, call.callConnectionId);

      // Assess: answered at once (no Event Grid redelivery needed), every question answered, nothing lost.
      expect(journaledAtThaw, 'the call was served while Redis was away').toBeGreaterThan(0);
      expect(call.incomingCallStatus).toBe(200);
      expect(call.notes).toEqual([]);
      expect(call.said.map((s) => s.text)).toEqual(QUESTIONS);
      expect(call.heardText).toHaveLength(1 + QUESTIONS.length);
      const callId = callIdForIncoming(call.serverCallId);
      const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
      const expected: [string, string][] = [['assistant', call.heardText[0]!]];
      QUESTIONS.forEach((q, i) => expected.push(['user', q], ['assistant', call.heardText[i + 1]!]));
      expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual(expected);
      expect(new Set(transcript!.turns.map((t) => t.id)).size).toBe(expected.length);
      expect(output).toMatchObject({ turnCount: expected.length, turnsArchived: expected.length });
    } finally {
      thaw();
    }
  });
});
