import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutboundAudioCoalescer } from '../../src/lib/media/outbound-audio.js';
import { PlaybackTracker } from '../../src/lib/media/barge-in.js';

const FRAME = 960; // 20 ms at 24 kHz

/** A coalescer over a real playback tracker and the fake clock; records every message's size in ms. */
function harness() {
  const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
  const messagesMs: number[] = [];
  const sentAt: number[] = [];
  const coalescer = new OutboundAudioCoalescer({
    sampleRateHz: 24000,
    send: (_b64, responseId, itemId, bytes) => {
      messagesMs.push((bytes / FRAME) * 20);
      sentAt.push(Date.now());
      tracker.onAgentAudioSent(responseId, itemId, bytes, Date.now());
    },
    leadMs: (at) => tracker.leadMs(at),
    now: () => Date.now(),
  });
  return { tracker, coalescer, messagesMs, sentAt };
}

describe('outbound audio coalescing', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a burst (a model faster than real time) at once: the first message as soon as 140 ms are in, then 200 ms messages', () => {
    const { coalescer, messagesMs } = harness();
    for (let i = 0; i < 50; i++) coalescer.push(Buffer.alloc(FRAME), 'r1', 'i1');
    coalescer.flush();
    expect(messagesMs).toEqual([140, 200, 200, 200, 200, 60]);
  });

  it('sends deltas paced at real time in messages of 120 ms or more, without letting ACS run dry', () => {
    // Prepare
    const { coalescer, tracker, messagesMs } = harness();
    let dryWhileSpeaking = 0;
    // Act: 3 s of 20 ms deltas, one every 20 ms.
    for (let i = 0; i < 150; i++) {
      coalescer.push(Buffer.alloc(FRAME), 'r1', 'i1');
      vi.advanceTimersByTime(20);
      if (i > 10 && tracker.leadMs(Date.now()) === 0) dryWhileSpeaking += 1;
    }
    coalescer.flush();
    // Assess: at most ~8 messages a second, every one but the tail at least 120 ms, and no underrun.
    expect(messagesMs.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(messagesMs.slice(0, -1).every((ms) => ms >= 120)).toBe(true);
    expect(messagesMs.length).toBeLessThanOrEqual(3 * 9);
    expect(dryWhileSpeaking).toBe(0);
  });

  it('drops what is pending on barge-in: it was never sent, so never heard', () => {
    const { coalescer, messagesMs } = harness();
    for (let i = 0; i < 4; i++) coalescer.push(Buffer.alloc(FRAME), 'r1', 'i1'); // 80 ms, below the first message
    coalescer.drop();
    coalescer.flush();
    expect(messagesMs).toEqual([]);
  });

  it('sends the pending audio of one item before another item starts', () => {
    const { coalescer, messagesMs } = harness();
    for (let i = 0; i < 3; i++) coalescer.push(Buffer.alloc(FRAME), 'r1', 'i1');
    coalescer.push(Buffer.alloc(FRAME * 10), 'r2', 'i2');
    expect(messagesMs).toEqual([60, 200]);
  });
});
