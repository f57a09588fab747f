import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SentEvent } from '../../emulators/acs/callbacks.js';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { APP_NUMBER, archiveOf, phoneNumber } from '../e2e/support.js';
import { greetedCall } from '../support/calls.js';

/**
 * Whole calls through the offline stack on a cluster of their own, whose master serving the call
 * stops answering while a caller turn is handled and answers again a moment later (as it does while
 * its slots fail over: the cluster client retries the commands the app already gave up on, and they
 * land late). Every caller turn must be answered, so the caller is never left in dead air, and
 * archived once.
 */
const COMMAND_TIMEOUT_MS = 300;

describe('a call whose master stops answering while a caller turn is handled', () => {
  let cluster: RedisCluster;
  let stack: OfflineStack;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    // The app reaches the cluster through a replica's address, so its seed is not the master frozen.
    const replica = (await cluster.topology()).find((v) => v.role === 'replica');
    if (!replica) throw new Error('the cluster has no replica');
    stack = await startOfflineStack({
      redis: { host: cluster.host, port: replica.port, cluster: true },
      acs: { speechMsPerChar: 1 },
      env: { LOG_LEVEL: 'error', REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) },
      logger: consoleLogger('error', { component: 'failover-mid-call-e2e' }),
    });
  });
  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) n.thaw();
    await stack?.close();
    await cluster?.dispose();
  });

  it('answers and archives a turn whose event claim timed out and landed late', { timeout: 60_000 }, async () => {
    // Prepare: a call that has been greeted; the master serving it freezes as the caller's first
    // words are sent, and wakes while the handler's fallback claim is in flight (the session read
    // and the turn's claim have each timed out by then)
    const said = ['Where is my order', "Thanks, that's all. Goodbye!"];
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(9101), to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 200 }, { pause: 300 }, ...said.map((text) => ({ say: text, timeoutMs: 10_000 })), { waitFor: 'agentSilence', quietMs: 200 }, { pause: 3_000 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const live = await greetedCall(stack.acs, known);
    const callId = callIdForIncoming(live.serverCallId);
    const master = await cluster.masterOf(stack.runtime.keys.call(callId, 'events'));
    let thawed: Promise<void> | undefined;
    live.on('event', (sent: SentEvent) => {
      if (sent.type !== 'RecognizeCompleted' || thawed) return;
      master.freeze();
      thawed = new Promise((resolve) => setTimeout(resolve, 2.5 * COMMAND_TIMEOUT_MS)).then(() => master.thaw());
    });

    // Act
    const call = await recording;
    await thawed;

    // Assess
    expect(thawed).toBeDefined();
    expect(call.notes).toEqual([]);
    expect(call.endedBy).toBe('app');
    const transcript = await vi.waitFor(
      async () => {
        const t = await (await archiveOf(stack)).transcripts.read(callId);
        if (!t) throw new Error('not archived yet');
        return t;
      },
      { timeout: 30_000 },
    );
    expect(transcript.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(said);
    expect(transcript.turns.filter((t) => t.role === 'assistant')).toHaveLength(said.length + 1);
  });
});
