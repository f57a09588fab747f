/**
 * The ACS emulator's playout buffer on its own clock: what the caller hears tick by tick, and how a
 * late frame is concealed (the agent is still speaking) instead of ending what the caller hears.
 */
import { describe, expect, it } from 'vitest';
import { bytesPerFrame } from '../../emulators/acs/audio.js';
import { PlayoutBuffer, UNDERRUN_GRACE_FRAMES } from '../../emulators/acs/playout.js';

const RATE = 24_000;
const FRAME = bytesPerFrame(RATE);

function playout(): { buffer: PlayoutBuffer; tick(n?: number): void } {
  let now = 0;
  const buffer = new PlayoutBuffer(RATE, () => now);
  return {
    buffer,
    tick(n = 1) {
      for (let i = 0; i < n; i += 1) {
        buffer.drainFrame();
        now += 20;
      }
    },
  };
}

describe('ACS emulator playout', () => {
  it('keeps one segment through an underrun shorter than the grace, and ends it where the audio ended', () => {
    // Prepare
    const { buffer, tick } = playout();
    buffer.enqueue(Buffer.alloc(FRAME * 3));
    tick(3);

    // Act: frames arrive late, within the grace, then the agent stops for good.
    tick(UNDERRUN_GRACE_FRAMES - 1);
    const speakingInTheGap = buffer.playing;
    buffer.enqueue(Buffer.alloc(FRAME * 2));
    tick(2);
    tick(UNDERRUN_GRACE_FRAMES);

    // Assess
    expect(speakingInTheGap).toBe(true);
    expect(buffer.heard).toHaveLength(1);
    expect(buffer.heard[0]).toMatchObject({ startedAtMs: 0, ms: 100, stoppedByStopAudio: false });
    // 3 frames, a 4-tick gap, 2 frames: the last frame finished playing at (3 + 4 + 2) × 20 ms.
    expect(buffer.heard[0]!.endedAtMs).toBe(180);
    expect(buffer.playing).toBe(false);
  });

  it('starts a new segment after a silence longer than the grace', () => {
    // Prepare
    const { buffer, tick } = playout();
    buffer.enqueue(Buffer.alloc(FRAME));
    tick(1 + UNDERRUN_GRACE_FRAMES);

    // Act
    buffer.enqueue(Buffer.alloc(FRAME));
    tick(1);

    // Assess
    expect(buffer.heard.map((h) => [h.startedAtMs, h.ms])).toEqual([
      [0, 20],
      [(1 + UNDERRUN_GRACE_FRAMES) * 20, 20],
    ]);
  });

  it('counts a StopAudio during an underrun as stopping the agent mid-speech', () => {
    // Prepare
    const { buffer, tick } = playout();
    buffer.enqueue(Buffer.alloc(FRAME * 2));
    tick(2 + 1);

    // Act
    buffer.stop();

    // Assess
    expect(buffer.stops).toEqual([{ atMs: 60, clearedBytes: 0, clearedMs: 0, wasPlaying: true }]);
    expect(buffer.heard).toEqual([{ startedAtMs: 0, endedAtMs: 40, bytes: FRAME * 2, ms: 40, stoppedByStopAudio: true }]);
  });
});
