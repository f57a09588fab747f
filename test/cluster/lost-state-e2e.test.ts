import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { failurePrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { APP_NUMBER, phoneNumber } from '../e2e/support.js';
import { greetedCall } from '../support/calls.js';

/**
 * A whole call through the offline stack on a cluster of its own, whose master restarts without its
 * data mid-call: with the app's copy gone too (its memory tier is cleared, as after a scale-out to a
 * new instance), the next callback must not be acknowledged as "unknown call" with the caller left in
 * dead air: the loss is audited and the caller hears that something went wrong before the call ends.
 */
describe('a call whose state Redis lost and no instance holds', () => {
  let cluster: RedisCluster;
  let stack: OfflineStack;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    stack = await startOfflineStack({
      redis: { host: cluster.host, port: cluster.nodes[0]!.port, cluster: true },
      acs: { speechMsPerChar: 2 },
      env: { LOG_LEVEL: 'error' },
      logger: consoleLogger('error', { component: 'lost-state-e2e' }),
    });
  });
  afterAll(async () => {
    await stack?.close();
    await cluster?.dispose();
  });

  it('audits the loss and ends the call with a recovery prompt', { timeout: 60_000 }, async () => {
    // Prepare: a call that has been greeted
    const known = new Set(stack.acs.calls.keys());
    const recording = stack.acs.placeCall(
      { from: phoneNumber(9001), to: APP_NUMBER, steps: [{ waitFor: 'greeting' }, { pause: 4500 }, { say: 'Are you still there?' }, { pause: 4000 }, { hangUp: true }] },
      { eventGridUrl: stack.eventGridUrl },
    );
    const live = await greetedCall(stack.acs, known);
    const callId = callIdForIncoming(live.serverCallId);
    const store = await stack.runtime.store();

    // Act: the master serving the call restarts empty, and this instance's copy is gone
    const master = await cluster.masterOf(stack.runtime.keys.call(callId, 'session'));
    await cluster.restart(master);
    await cluster.waitForHealthy();
    store.memory.clear();
    const call = await recording;

    // Assess
    expect(call.heardText.at(-1)).toBe(failurePrompt());
    expect(call.endedBy).toBe('app');
    expect(store.health().loss.unrecoverable).toBeGreaterThanOrEqual(1);
    const audit = await (await stack.runtime.archive()).audit.list(callId);
    expect(audit.map((a) => a.action)).toContain('state_lost');
  });
});
