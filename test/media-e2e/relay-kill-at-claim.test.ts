/**
 * A relay killed at the moment it claims a new call (RELAY_STANDBY): the owner holds the call's
 * affinity and is still setting the call up; nothing has been said or persisted yet. The other relay
 * must take the call and greet the caller within seconds, not leave it silent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import type { Relay } from '../../src/lib/media/relay.js';
import { lifecycleOf } from '../e2e/support.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { APP_NUMBER, ask, echoAnswer, startMediaStack } from './support.js';

const Q = 'What are your opening hours';

type Moment = 'before its bridge exists' | 'while its agent session connects';

/** Polls every turn of the event loop for the relay that has just claimed a call, at `moment`. */
async function claimingRelay(relays: readonly Relay[], claimsBefore: Map<Relay, number>, moment: Moment): Promise<Relay> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    for (const relay of relays) {
      if (relay.stats().claims <= (claimsBefore.get(relay) ?? 0)) continue;
      const [callId] = relay.calls();
      if (moment === 'before its bridge exists' ? callId === undefined : callId !== undefined && relay.bridge(callId)?.state === 'connecting') return relay;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`no relay seen claiming the call ${moment}`);
}

describe('relay killed while it claims a new call, with a standby relay', () => {
  let stack: OfflineStack | undefined;
  beforeAll(async () => {
    stack = await startMediaStack(
      { relays: 2, heartbeatTtlSeconds: 5, relay: { logger: consoleLogger(process.env.RELAY_DEBUG ? 'info' : 'error', { component: 'relay' }) } },
      { env: { LOG_LEVEL: 'error', RELAY_STANDBY: 'true' } },
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each<[Moment, string]>([
    ['before its bridge exists', '+15550107301'],
    ['while its agent session connects', '+15550107302'],
  ])('greets and answers the caller when the claiming relay dies %s', { timeout: 60_000 }, async (moment, phone) => {
    // Prepare
    const media = stack!.media!;
    const live = media.relays.filter((r) => r.stats().calls === 0);
    const claimsBefore = new Map(live.map((r) => [r, r.stats().claims]));

    // Act
    const placed = stack!.acs.placeCall(
      { from: phone, to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 8_000 }, ...ask(Q), { hangUp: true }] },
      { eventGridUrl: stack!.eventGridUrl, maxDurationMs: 40_000 },
    );
    const owner = await claimingRelay(live, claimsBefore, moment);
    await owner.terminate();
    const call = await placed;
    await lifecycleOf(stack!, call.callConnectionId);

    // Assert
    expect(call.notes).toEqual([]);
    const transcript = await (await stack!.runtime.archive()).transcripts.read(callIdForIncoming(call.serverCallId));
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ['user', Q],
      ['assistant', echoAnswer(Q)],
    ]);
    await media.startRelay();
  });

  it('greets every caller when the relay owning most calls dies while calls keep arriving', { timeout: 90_000 }, async () => {
    const media = stack!.media!;
    const placed = [];
    for (let i = 0; i < 8; i++) {
      placed.push(
        stack!.acs.placeCall(
          { from: `+155501074${String(i).padStart(2, '0')}`, to: APP_NUMBER, steps: [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q), { pause: 500 }, ...ask(Q), { hangUp: true }] },
          { eventGridUrl: stack!.eventGridUrl, maxDurationMs: 60_000 },
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, i === 5 ? 0 : 250));
      if (i === 5) {
        const victim = [...media.relays].sort((a, b) => b.calls().length - a.calls().length)[0]!;
        await victim.terminate();
        // A supervisor restarts the process at once: its first beat reads the registry of live calls.
        await media.startRelay();
      }
    }
    const calls = await Promise.all(placed);
    for (const call of calls) await lifecycleOf(stack!, call.callConnectionId);
    expect(calls.map((c) => c.notes)).toEqual(calls.map(() => []));
  });
});
