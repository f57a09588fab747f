/**
 * Failover on the media path: the relay that owns a call stops dead mid-call; another relay claims the
 * call, joins its groups, rebuilds the conversation from Redis and carries on. The caller hears a gap,
 * not a hang-up, and every turn is archived. Two ways the loss is noticed: Web PubSub reports the dead
 * relay's connection (`relay-lost`), or — when that event never arrives — its heartbeat key expires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { greetingPrompt } from '../../src/lib/agents/built-in.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import type { Relay } from '../../src/lib/media/relay.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { APP_NUMBER, ask, echoAnswer, startMediaStack, wholeCall } from './support.js';

const Q = ['What are your opening hours', 'Can I change my address'];

/** A media stack with short heartbeats whose relays count the agent turns they persist per call (the greeting counts). */
function failoverStack(relays: number): { stack: () => OfflineStack; agentTurns: Map<string, number> } {
  let stack: OfflineStack | undefined;
  const agentTurns = new Map<string, number>();
  beforeAll(async () => {
    stack = await startMediaStack({
      relays,
      heartbeatTtlSeconds: 5,
      relay: { logger: consoleLogger(process.env.RELAY_DEBUG ? 'info' : 'error', { component: 'relay' }), onTurn: (callId, turn) => void (turn.role === 'agent' && agentTurns.set(callId, (agentTurns.get(callId) ?? 0) + 1)) },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });
  return { stack: () => stack!, agentTurns };
}

describe('relay failover', () => {
  const fixture = failoverStack(2);
  const agentTurns = fixture.agentTurns;
  let stack: OfflineStack;
  beforeAll(() => {
    stack = fixture.stack();
  });

  /** A question, a pause during which the owner dies, then another. */
  function script(pauseMs: number): CallerStep[] {
    return [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), { pause: pauseMs }, ...ask(Q[1]!), { hangUp: true }];
  }

  const WHOLE_CALL = wholeCall(Q);

  /** The greeting and the first answer were spoken: the caller is in the pause. */
  function callInPause(): Promise<string> {
    return eventually('the greeting and the first answer', () => [...agentTurns].find(([, n]) => n >= 2)?.[0], 20_000);
  }

  async function killOwnerAfterTwoTurns(phone: string): Promise<{ callId: string; dead: Relay; survivor: Relay }> {
    const callId = await callInPause();
    const dead = stack.media!.relays.find((r) => r.calls().includes(callId))!;
    expect(dead, `a relay owns the call of ${phone}`).toBeDefined();
    const survivor = stack.media!.relays.find((r) => r !== dead && r.calls().length === 0)!;
    await dead.terminate();
    return { callId, dead, survivor };
  }

  it('another relay takes the call over when Web PubSub reports the dead relay', { timeout: 60_000 }, async () => {
    // Prepare
    agentTurns.clear();
    const phone = '+15550107101';
    const placed = stack.acs.placeCall({ from: phone, to: APP_NUMBER, steps: script(1_000) }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 });

    // Act
    const { callId, dead, survivor } = await killOwnerAfterTwoTurns(phone);
    await eventually('the survivor owns the call', () => survivor.calls().includes(callId) || undefined, 10_000);
    // A replacement process, so two relays run again (for the next test); started once the survivor owns
    // the call, since a relay that starts now learns of the call too and could win the takeover.
    await stack.media!.startRelay();
    const call = await placed;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(callIdForIncoming(call.serverCallId)).toBe(callId);
    expect(call.endedBy).toBe('caller');
    expect(call.notes).toEqual([]);
    expect(survivor.stats()).toMatchObject({ takeovers: 1, released: 1 });
    expect(dead.calls()).toEqual([]);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual(WHOLE_CALL);
    expect(output).toMatchObject({ turnCount: 5, turnsArchived: 5 });
    // The second relay's agent session resumed with the conversation so far (and did not greet again).
    const sessions = [...stack.media!.realtime.sessions.values()].filter((s) => s.correlationId === callId);
    expect(sessions).toHaveLength(2);
    expect(String(sessions[0]!.config.instructions)).toContain('You have already greeted the caller');
    expect(String(sessions[1]!.config.instructions)).toContain(`Caller: ${Q[0]}`);
    expect(String(sessions[1]!.config.instructions)).not.toContain('You have already greeted the caller');
  });

  it('another relay takes the call over when only the heartbeat tells', { timeout: 60_000 }, async () => {
    // Prepare: the service's system events stop reaching the app for a while, so nobody hears `relay-lost`.
    agentTurns.clear();
    const phone = '+15550107102';
    const wps = stack.media!.webPubSub;
    const handlers = [{ urlTemplate: stack.host.webhookUrl('webpubsub'), systemEvents: ['connected' as const, 'disconnected' as const] }];
    const placed = stack.acs.placeCall({ from: phone, to: APP_NUMBER, steps: script(7_000) }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 55_000 });

    // Act
    const callId = await callInPause();
    wps.setEventHandlers('media', []);
    const dead = stack.media!.relays.find((r) => r.calls().includes(callId))!;
    await dead.terminate();
    const survivor = await eventually('a relay that took the call', () => stack.media!.relays.find((r) => r !== dead && r.calls().includes(callId)), 15_000);
    wps.setEventHandlers('media', handlers);
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(call.notes).toEqual([]);
    expect(survivor.stats().takeovers).toBeGreaterThanOrEqual(1);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual(WHOLE_CALL);
  });

  it('reopens the agent session when the realtime connection drops mid-call', { timeout: 30_000 }, async () => {
    // Prepare
    agentTurns.clear();
    const steps: CallerStep[] = [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), { pause: 1_500 }, ...ask(Q[1]!), { hangUp: true }];
    const placed = stack.acs.placeCall({ from: '+15550107103', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 25_000 });

    // Act: the service side drops the socket after the first answer.
    const callId = await eventually('the first answer', () => [...agentTurns].find(([, n]) => n >= 2)?.[0], 15_000);
    const first = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId && !s.closed)!;
    first.terminate();
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: a second session carried on from the conversation so far, and no turn is missing.
    expect(call.notes).toEqual([]);
    const sessions = [...stack.media!.realtime.sessions.values()].filter((s) => s.correlationId === callId);
    expect(sessions).toHaveLength(2);
    expect(String(sessions[1]!.config.instructions)).toContain(`Caller: ${Q[0]}`);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual(WHOLE_CALL);
  });

  it('hands the calls of a relay that shuts down gracefully to another relay', { timeout: 30_000 }, async () => {
    // Prepare
    agentTurns.clear();
    const placed = stack.acs.placeCall({ from: '+15550107104', to: APP_NUMBER, steps: script(1_000) }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 25_000 });
    const callId = await callInPause();
    const leaving = stack.media!.relays.find((r) => r.calls().includes(callId))!;
    const releasedBefore = leaving.stats().released;
    await stack.media!.startRelay(); // earlier tests stopped some relays: one more runs, knowing nothing of this call

    // Act
    await leaving.close();
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(call.notes).toEqual([]);
    expect(leaving.stats()).toMatchObject({ calls: 0, released: releasedBefore + 1 });
    expect(stack.media!.relays.some((r) => r !== leaving && r.calls().length === 0 && r.stats().released > 0)).toBe(true);
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual(WHOLE_CALL);
  });
});

describe('relay recovery from the registry of live media calls', () => {
  const fixture = failoverStack(1);
  const agentTurns = fixture.agentTurns;
  let stack: OfflineStack;
  beforeAll(() => {
    stack = fixture.stack();
  });

  it('a relay started after the only relay died takes over the call it never heard announced', { timeout: 60_000 }, async () => {
    // Prepare: one relay owns the call; the pause spans its death and the heartbeat it leaves behind.
    const steps: CallerStep[] = [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), { pause: 7_000 }, ...ask(Q[1]!), { hangUp: true }];
    const placed = stack.acs.placeCall({ from: '+15550107105', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 55_000 });
    const callId = await eventually('the greeting and the first answer', () => [...agentTurns].find(([, n]) => n >= 2)?.[0], 20_000);
    const [only] = stack.media!.relays;
    expect(only!.calls()).toEqual([callId]);

    // Act: the process is recycled; its replacement starts after every announcement of the call.
    await only!.terminate();
    const replacement = await stack.media!.startRelay();
    const call = await placed;
    const { output } = await lifecycleOf(stack, call.callConnectionId);

    // Assess
    expect(callIdForIncoming(call.serverCallId)).toBe(callId);
    expect(call.endedBy).toBe('caller');
    expect(call.notes).toEqual([]);
    expect(replacement.stats()).toMatchObject({ calls: 0, released: 1 });
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', greetingPrompt()],
      ['user', Q[0]],
      ['assistant', echoAnswer(Q[0]!)],
      ['user', Q[1]],
      ['assistant', echoAnswer(Q[1]!)],
    ]);
    expect(output).toMatchObject({ turnCount: 5, turnsArchived: 5 });
    // The media disconnect took the call out of the registry, so no later relay picks it up.
    expect((await (await stack.runtime.relayLeases()).mediaCalls()).has(callId)).toBe(false);
  });
});
