/**
 * Redis becomes unreachable in the middle of a media call (the server process is frozen with SIGSTOP,
 * as a network partition looks to its clients: commands time out, nothing is lost on the server). The
 * relay keeps the conversation going from memory, journals every turn, replays the journal when Redis
 * answers again, keeps its claim on the call, and the archive holds every turn exactly once.
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

const Q = ['What are your opening hours', 'Can I change my address', 'Where is my parcel'];

describe('Redis unavailable mid-call', () => {
  let redis: RedisServer;
  let stack: OfflineStack;
  const agentTurns = new Map<string, number>();
  const duringOutage: boolean[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startMediaStack(
      {
        relay: {
          onTurn: (callId, turn) => {
            if (turn.role === 'agent') agentTurns.set(callId, (agentTurns.get(callId) ?? 0) + 1);
          },
        },
      },
      { redis: { host: redis.host, port: redis.port }, logger: consoleLogger('error', { component: 'media-e2e' }) },
    );
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.dispose();
  });

  it('loses no turn: the relay journals while Redis is away and replays when it is back', { timeout: 60_000 }, async () => {
    // Prepare: the caller asks a question, another while Redis is frozen, and one after it is back.
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), ...ask(Q[1]!), { pause: 1_500 }, ...ask(Q[2]!), { hangUp: true as const }];
    const placed = stack.acs.placeCall({ from: '+15550107201', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 55_000 });
    const relay = stack.media!.relays[0]!;

    // Act: freeze Redis after the first answer, thaw it after the second.
    const callId = await eventually('the first answer', () => [...agentTurns].find(([, n]) => n >= 2)?.[0], 20_000);
    process.kill(redis.pid!, 'SIGSTOP');
    try {
      await eventually('the second answer', () => ((agentTurns.get(callId) ?? 0) >= 3 ? true : undefined), 20_000);
      duringOutage.push(relay.stateHealth().status !== 'ok', relay.stateHealth().journalDepth > 0);
    } finally {
      process.kill(redis.pid!, 'SIGCONT');
    }
    await eventually('the journal replayed', () => (relay.stateHealth().journalDepth === 0 && relay.stateHealth().status === 'ok' ? true : undefined), 15_000);
    const call = await placed;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess: the relay noticed the outage and journaled turns…
    expect(duringOutage).toEqual([true, true]);
    expect(callIdForIncoming(call.serverCallId)).toBe(callId);
    expect(call.notes).toEqual([]);
    // …kept the call throughout, and every turn reached the archive once, in order.
    expect(relay.stats()).toMatchObject({ claims: 1, takeovers: 0, released: 1 });
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ...Q.flatMap((q) => [['user', q], ['assistant', echoAnswer(q)]]),
    ]);
    expect(new Set(transcript!.turns.map((t) => t.id)).size).toBe(7);
    expect(output).toMatchObject({ turnCount: 7, turnsArchived: 7 });
  });
});
