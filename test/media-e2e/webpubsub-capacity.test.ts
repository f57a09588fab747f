/**
 * Calls per Web PubSub unit, with and without coalescing the agent's audio, from real call traffic: a
 * call runs through the offline stack while the emulator records every group message; the agent's
 * longest answer (ACS's frames and the relay's messages while the agent speaks, the busiest moment of a
 * call) is then replayed through the emulator's message budget for 1 unit, and for 2 shards of 1 unit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { callsCarried, traceRates, type CallTrace } from '../../emulators/webpubsub/capacity.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, startMediaStack } from './support.js';

type Published = { group: string; bytes: number; atMs: number };

/** Runs one call on a stack and returns the traffic of its longest agent answer. */
async function recordAnswer(stack: OfflineStack, published: Published[], phone: string): Promise<CallTrace> {
  const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, ...ask('Please tell me what your opening hours are on public holidays this year and next year'), { hangUp: true as const }];
  const call = await stack.acs.placeCall({ from: phone, to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 });
  await lifecycleOf(stack, call.callConnectionId);
  expect(call.notes).toEqual([]);
  const calls = published.filter((p) => p.group.startsWith('call.'));
  const out = calls.filter((p) => p.group.endsWith('.out'));
  // Runs of agent messages apart by under 300 ms; the longest is the answer (the greeting goes at once).
  const runs: Published[][] = [];
  for (const m of out) {
    const run = runs[runs.length - 1];
    if (run && m.atMs - run[run.length - 1]!.atMs < 300) run.push(m);
    else runs.push([m]);
  }
  const answer = runs.reduce((a, b) => (b[b.length - 1]!.atMs - b[0]!.atMs > a[a.length - 1]!.atMs - a[0]!.atMs ? b : a));
  const startMs = answer[0]!.atMs;
  const endMs = answer[answer.length - 1]!.atMs;
  const messages = calls.filter((p) => p.atMs >= startMs && p.atMs < endMs).map((p) => ({ atMs: p.atMs - startMs, bytes: p.bytes }));
  return { messages, durationMs: endMs - startMs };
}

function mediaStack(published: Published[], coalesce: boolean): () => Promise<OfflineStack> {
  return () =>
    startMediaStack({
      relays: 1,
      webPubSub: { onGroupPublish: (group, bytes, atMs) => void published.push({ group, bytes, atMs }) },
      // Without coalescing: every 20 ms model delta is a message of its own, as before.
      ...(coalesce ? {} : { relay: { outboundAudio: { maxMessageMs: 20, minMessageMs: 20, firstMessageMs: 20 } } }),
    });
}

describe('calls per Web PubSub unit', () => {
  const coalescedTraffic: Published[] = [];
  const perDeltaTraffic: Published[] = [];
  let stack: OfflineStack | undefined;
  let coalesced: CallTrace;
  let perDelta: CallTrace;

  // One stack at a time: a stack installs the process's runtime.
  beforeAll(async () => {
    stack = await mediaStack(coalescedTraffic, true)();
    coalesced = await recordAnswer(stack, coalescedTraffic, '+15550107501');
    await stack.close();
    stack = await mediaStack(perDeltaTraffic, false)();
    perDelta = await recordAnswer(stack, perDeltaTraffic, '+15550107502');
    await stack.close();
    stack = undefined;
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('while the agent speaks a call sends ~100 messages/s without coalescing and at most 60 with it', () => {
    expect(perDelta.durationMs).toBeGreaterThan(800);
    expect(coalesced.durationMs).toBeGreaterThan(800);
    if (process.env.CAPACITY_DEBUG) console.log({ perDelta: traceRates(perDelta), coalesced: traceRates(coalesced), perDeltaMs: perDelta.durationMs, coalescedMs: coalesced.durationMs });
    expect(traceRates(perDelta).messagesPerSecond).toBeGreaterThan(90);
    expect(traceRates(coalesced).messagesPerSecond).toBeLessThanOrEqual(60);
  });

  it('counting messages (the guide\'s 400/s per unit): one unit carries 4 calls without coalescing, 6 or 7 with it', () => {
    const options = { unitsPerShard: 1, cost: 'messages' as const };
    expect(callsCarried(perDelta, options)).toBe(4);
    // 400 / (50 + 7 or 8 relay messages a second)
    expect([6, 7]).toContain(callsCarried(coalesced, options));
  });

  it('charging bandwidth (800 KBps per unit, 1 KB floor): coalescing saves little, as the audio bytes stay', () => {
    const options = { unitsPerShard: 1, cost: 'bandwidth' as const };
    const without = callsCarried(perDelta, options);
    const withIt = callsCarried(coalesced, options);
    expect(without).toBeGreaterThanOrEqual(4);
    expect(withIt).toBeGreaterThanOrEqual(without);
    expect(withIt).toBeLessThanOrEqual(without + 1);
  });

  it('at the same per-unit budget, 2 shards carry twice the calls of one', () => {
    for (const cost of ['messages', 'bandwidth'] as const) {
      for (const trace of [perDelta, coalesced]) {
        const one = callsCarried(trace, { unitsPerShard: 1, cost });
        expect(callsCarried(trace, { unitsPerShard: 1, shards: 2, cost }), `${cost}`).toBe(2 * one);
      }
    }
  });
});
