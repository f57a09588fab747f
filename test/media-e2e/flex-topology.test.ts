/**
 * The media path on Flex Consumption's scale groups. Two Function Apps are built from the same code:
 * the main app (groups `http`, `durable`, `function:mediaConnected`, `function:mediaDisconnected`,
 * every instance on demand) and the relay app (`RELAY_ENABLED=true`, always-ready instances only). The
 * dev host plays the main app's instances, started without the relay role; the stack's relays play the
 * relay app's always-ready instances. The test shows who owns calls, and what the caller hears when an
 * instance is scaled in or dies: no lost turn, no silence longer than one heartbeat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerStep, CallRecording } from '../../emulators/acs/index.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import type { Relay } from '../../src/lib/media/relay.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, echoAnswer, startMediaStack, wholeCall } from './support.js';

const HEARTBEAT_TTL_SECONDS = 6;
/** A long question gets a long echo, so an answer is still being spoken when its relay dies. */
const Q = ['What are your opening hours on public holidays this year please', 'Can I change the delivery address of my order'];

type Instance = { readonly group: string; readonly alwaysReady: boolean; readonly relay?: Relay };

/** The answer delay the caller lived through after each of their utterances: end of speech → first agent audio heard. */
function answerDelaysMs(call: CallRecording, utteranceMs: number): number[] {
  const audio = call.heard.filter((h) => h.kind === 'audio');
  return call.said
    .filter((s) => s.via === 'media' && s.text !== undefined)
    .map((s) => {
      const spokenUntil = s.atMs + utteranceMs;
      const next = audio.find((h) => h.atMs >= spokenUntil);
      return next === undefined ? Number.POSITIVE_INFINITY : next.atMs - spokenUntil;
    });
}

describe('media on the Flex Consumption scale groups', () => {
  let stack: OfflineStack;
  let instances: Instance[];
  const userTurns = new Map<string, string[]>();

  beforeAll(async () => {
    stack = await startMediaStack({
      relays: 2,
      heartbeatTtlSeconds: HEARTBEAT_TTL_SECONDS,
      relay: { onTurn: (callId, turn) => void (turn.role === 'user' && userTurns.set(callId, [...(userTurns.get(callId) ?? []), turn.text])) },
    });
    instances = [
      ...stack.media!.relays.map((relay) => ({ group: 'relay app: http (always ready)', alwaysReady: true, relay })),
      { group: 'main app: http', alwaysReady: false },
      { group: 'main app: function:mediaConnected', alwaysReady: false },
      { group: 'main app: durable', alwaysReady: false },
    ];
  });
  afterAll(async () => {
    await stack?.close();
  });

  const alwaysReadyRelays = (): Relay[] => instances.filter((i) => i.alwaysReady && i.relay).map((i) => i.relay!);

  function script(pauseMs: number): CallerStep[] {
    return [{ waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 }, ...ask(Q[0]!), { pause: pauseMs }, ...ask(Q[1]!), { hangUp: true }];
  }

  const WHOLE_CALL = wholeCall(Q);

  async function transcriptOf(callId: string): Promise<string[][]> {
    const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
    return transcript!.turns.map((t) => [t.role, t.content]);
  }

  it('no call is owned by an on-demand instance while an always-ready relay lives', { timeout: 60_000 }, async () => {
    // Prepare: the main app's instances run the handlers without the relay role, so they start none.
    expect(stack.runtime.relay.current()).toBeUndefined();
    const relayIds = new Set(alwaysReadyRelays().map((r) => r.workerId));
    const leases = await stack.runtime.relayLeases();
    const owners = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const callId of stack.media!.relays.flatMap((r) => r.calls())) {
          const owner = await leases.getAffinity(callId);
          if (owner !== null) owners.add(owner);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // Act: four calls at once, each announced by the main app's function:mediaConnected instances.
    const calls = await Promise.all(
      [1, 2, 3, 4].map((n) => stack.acs.placeCall({ from: `+1555010720${n}`, to: APP_NUMBER, steps: script(200) }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 40_000 })),
    );
    sampling = false;
    await sampler;

    // Assess: every owner seen was an always-ready relay, and every call was whole.
    expect(owners.size).toBeGreaterThan(0);
    for (const owner of owners) expect(relayIds.has(owner), `owner ${owner} is an always-ready relay`).toBe(true);
    for (const call of calls) {
      expect(call.notes).toEqual([]);
      await lifecycleOf(stack, call.callConnectionId);
      expect(await transcriptOf(callIdForIncoming(call.serverCallId))).toEqual(WHOLE_CALL);
    }
  });

  it('scaling in a relay instance, gracefully or not, loses no turn and leaves no call silent longer than one heartbeat', { timeout: 90_000 }, async () => {
    // Prepare: two calls in their pause after the first answer; a third always-ready relay replaces whichever goes.
    userTurns.clear();
    const placed = [1, 2].map((n) => stack.acs.placeCall({ from: `+1555010721${n}`, to: APP_NUMBER, steps: script(2_500) }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 50_000 }));
    const callIds = await eventually('both calls answered once', () => {
      const ids = [...userTurns].filter(([, turns]) => turns.length >= 1).map(([id]) => id);
      return ids.length >= 2 ? ids : undefined;
    }, 30_000);
    const replacement = await stack.media!.startRelay();
    instances.push({ group: 'relay app: http (always ready)', alwaysReady: true, relay: replacement });

    // Act: the owner of the first call is scaled in (appTerminate: graceful), the owner of the second dies.
    const ownerOf = (callId: string): Relay | undefined => stack.media!.relays.find((r) => r.calls().includes(callId));
    const graceful = ownerOf(callIds[0]!)!;
    await graceful.close();
    const killed = ownerOf(callIds[1]!);
    if (killed) await killed.terminate();
    const recordings = await Promise.all(placed);

    // Assess
    for (const call of recordings) {
      expect(call.notes).toEqual([]);
      await lifecycleOf(stack, call.callConnectionId);
      expect(await transcriptOf(callIdForIncoming(call.serverCallId))).toEqual(WHOLE_CALL);
      for (const delayMs of answerDelaysMs(call, 400)) expect(delayMs).toBeLessThan(HEARTBEAT_TTL_SECONDS * 1000);
    }
  });

  it('a relay that dies while an answer is being spoken: the new owner answers the caller\'s turn', { timeout: 60_000 }, async () => {
    // Prepare: two relays alive (one more than the previous test left).
    await stack.media!.startRelay();
    userTurns.clear();
    const store = await stack.runtime.store();
    // The caller waits out the takeover after the first question (a longer quiet than one answer delay),
    // so the second question does not talk over the regenerated answer.
    const steps: CallerStep[] = [
      { waitFor: 'greeting', quietMs: 400, timeoutMs: 10_000 },
      { say: Q[0]!, audioMs: 400 },
      { waitFor: 'agentSilence', quietMs: HEARTBEAT_TTL_SECONDS * 1000 - 1000, timeoutMs: 20_000 },
      ...ask(Q[1]!),
      { hangUp: true },
    ];
    const placed = stack.acs.placeCall({ from: '+15550107221', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 40_000 });
    const callId = await eventually('the first question', () => [...userTurns].find(([, turns]) => turns.includes(Q[0]!))?.[0], 20_000);
    // The caller's turn is written; the answer is not (it is still being spoken).
    await eventually('the question in Redis', async () => {
      const history = (await ConversationManager.fromRedis(callId, store)).getHistory();
      return history.some((t) => t.role === 'user' && t.content === Q[0]) ? true : undefined;
    }, 5_000);
    const owner = stack.media!.relays.find((r) => r.calls().includes(callId))!;
    const answeredBefore = (await ConversationManager.fromRedis(callId, store)).getHistory().some((t) => t.content === echoAnswer(Q[0]!));

    // Act
    await owner.terminate();
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the answer was regenerated by the new owner, and nothing is missing or doubled.
    expect(answeredBefore).toBe(false);
    expect(call.notes).toEqual([]);
    expect(await transcriptOf(callId)).toEqual(WHOLE_CALL);
    for (const delayMs of answerDelaysMs(call, 400)) expect(delayMs).toBeLessThan(HEARTBEAT_TTL_SECONDS * 1000);
  });
});
