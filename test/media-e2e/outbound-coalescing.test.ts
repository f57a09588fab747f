/**
 * The agent's audio reaches ACS in coalesced AudioData messages, so a call costs Web PubSub about 55
 * inbound messages a second while the agent speaks (ACS's 50 caller frames and the relay's few) instead
 * of 100. Barge-in exactness is covered by media-call.test.ts and fixed-prompts.test.ts, unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, ask, startMediaStack } from './support.js';

describe('outbound audio coalescing', () => {
  let stack: OfflineStack;
  beforeAll(async () => {
    stack = await startMediaStack({ relays: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('at 24 kHz a call sends at most 60 inbound messages a second to Web PubSub while the agent speaks', { timeout: 40_000 }, async () => {
    // Prepare
    const steps = [
      { waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 },
      ...ask('What are your opening hours on public holidays this year please'),
      ...ask('Can I change the delivery address of my order today'),
      { hangUp: true as const },
    ];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107301', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 30_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: ACS publishes its 20 ms frames (50 a second); the relay's messages per second of agent audio are few.
    expect(call.notes).toEqual([]);
    expect(call.media?.sampleRate).toBe(24000);
    const stats = call.media!.stats;
    const agentAudioSeconds = call.heard.filter((h) => h.kind === 'audio').reduce((sum, h) => sum + h.ms, 0) / 1000;
    expect(agentAudioSeconds).toBeGreaterThan(2);
    const relayMessagesPerSecond = stats.outboundFrames / agentAudioSeconds;
    const acsFramesPerSecond = stats.framesSent / (call.durationMs / 1000);
    expect(acsFramesPerSecond).toBeLessThanOrEqual(51);
    expect(acsFramesPerSecond + relayMessagesPerSecond).toBeLessThanOrEqual(60);
    // No gap in the agent's speech: one heard segment per agent turn (greeting and two answers).
    expect(call.heard.filter((h) => h.kind === 'audio')).toHaveLength(3);
    // Whole 20 ms frames (960 bytes at 24 kHz), at most 200 ms a message.
    expect(stats.outboundBytes / stats.outboundFrames).toBeLessThanOrEqual(960 * 10);
  });
});
