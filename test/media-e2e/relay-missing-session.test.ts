/**
 * A relay that reads no session for a call just announced as connected: after a Redis failover that
 * dropped acknowledged writes (or a node back without its data) the read finds nothing until the
 * session's writer restores it. The relay must look again rather than take the call for ended: the
 * call is announced once, and a call no relay claims leaves its caller in silence for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { createRedis } from '../../src/lib/state/redis-client.js';
import { SessionStore, type RelayStore } from '../../src/lib/state/index.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, echoAnswer, startMediaStack } from './support.js';

const Q = 'What are your opening hours';

describe('relay that reads no session for a connected call', () => {
  let stack: OfflineStack | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  /** Calls whose session reads the relay has made, and how many of them found nothing. */
  const reads = new Map<string, { all: number; missing: number }>();
  beforeAll(async () => {
    stack = await startMediaStack({ relays: 0, heartbeatTtlSeconds: 5 });
    const logger = consoleLogger('error', { component: 'relay' });
    const redis = await createRedis(stack.config.redis, { logger, connectionName: 'rtvoice-relay' });
    await redis.ready();
    const store = new SessionStore(redis.client, stack.runtime.keys, { logger });
    cleanups.push(async () => {
      await store.close();
      await redis.close();
    });
    // The one simulated part: the first session read of each call answers as a node that lost the
    // write would (nothing), since a real failover cannot be made to drop exactly this write at this
    // moment. Every other read and write goes to the real store.
    const lossy = new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'getCallSession') return Reflect.get(target, property, receiver) as unknown;
        return async (callId: string) => {
          const seen = reads.get(callId) ?? { all: 0, missing: 0 };
          reads.set(callId, seen);
          seen.all += 1;
          if (seen.all === 1) {
            seen.missing += 1;
            return undefined;
          }
          return target.getCallSession(callId);
        };
      },
    }) as RelayStore;
    await stack.media!.startRelay({ store: lossy, logger });
  });
  afterAll(async () => {
    await stack?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  it('looks again and greets the caller', { timeout: 40_000 }, async () => {
    // Act
    const call = await stack!.acs.placeCall(
      { from: '+15550107501', to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 8_000 }, ...ask(Q), { hangUp: true }] },
      { eventGridUrl: stack!.eventGridUrl, maxDurationMs: 30_000 },
    );
    await lifecycleOf(stack!, call.callConnectionId);

    // Assert
    const callId = callIdForIncoming(call.serverCallId);
    expect(reads.get(callId)?.missing).toBe(1);
    expect(call.notes).toEqual([]);
    const transcript = await (await stack!.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ['user', Q],
      ['assistant', echoAnswer(Q)],
    ]);
  });
});
