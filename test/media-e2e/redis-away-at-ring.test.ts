/**
 * A media call that rings while Redis is unreachable for 3 s (frozen with SIGSTOP, about as long as a
 * master's failover). The app answers at once. Relays need Redis to agree on who serves a call (two
 * relays talking over each other is worse than a late greeting), so the relay retries the claim with a
 * short backoff, not only on its next heartbeat, and the call then archives every turn exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { RedisServer } from '../support/redis-server.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, echoAnswer, startMediaStack } from './support.js';

const Q = ['What are your opening hours', 'Where is my parcel'];

describe('a media call that rings while Redis is away', () => {
  let redis: RedisServer;
  let stack: OfflineStack;

  beforeAll(async () => {
    redis = await RedisServer.start();
    // Heartbeats every 20 s: a claim left to the next beat would keep the caller waiting that long.
    stack = await startMediaStack(
      { heartbeatTtlSeconds: 60 },
      { redis: { host: redis.host, port: redis.port }, logger: consoleLogger('error', { component: 'media-e2e' }) },
    );
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.dispose();
  });

  it('is answered at once, claimed as soon as Redis can arbitrate again, and archives every turn', { timeout: 60_000 }, async () => {
    // Prepare
    const relay = stack.media!.relays[0]!;
    process.kill(redis.pid!, 'SIGSTOP');
    let thawed = false;
    let claimsAtThaw = -1;
    const thaw = () => {
      if (thawed) return;
      thawed = true;
      claimsAtThaw = relay.stats().claims;
      process.kill(redis.pid!, 'SIGCONT');
    };
    try {
      // Act
      const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 15_000 }, ...ask(Q[0]!), { pause: 1_500 }, ...ask(Q[1]!), { hangUp: true as const }];
      const placed = stack.acs.placeCall({ from: '+15550107301', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 55_000 });
      await new Promise((r) => setTimeout(r, 3_000));
      thaw();
      const thawedAt = Date.now();
      await eventually('the relay claims the call', () => (relay.stats().claims >= 1 ? true : undefined), 30_000);
      const claimedAfterMs = Date.now() - thawedAt;
      const call = await placed;
      const { output } = await lifecycleOf(stack, call.callConnectionId);

      // Assess
      expect(call.incomingCallStatus).toBe(200);
      expect(claimsAtThaw, 'no relay took the call without Redis').toBe(0);
      expect(relay.stats()).toMatchObject({ claims: 1, takeovers: 0 });
      expect(claimedAfterMs, 'claimed well before the next heartbeat (20 s)').toBeLessThan(10_000);
      expect(call.notes).toEqual([]);
      const transcript = await (await stack.runtime.archive()).transcripts.read(callIdForIncoming(call.serverCallId));
      expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([['assistant', greetingPrompt()], ...Q.flatMap((q) => [['user', q], ['assistant', echoAnswer(q)]])]);
      expect(output).toMatchObject({ turnCount: 5, turnsArchived: 5 });
    } finally {
      thaw();
    }
  });
});
