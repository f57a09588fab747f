import { describe, expect, it } from 'vitest';
import { FRAME_MS, bytesPerFrame, rmsLevel, speechLikePcm } from '../../emulators/acs/index.js';

/** The scripted caller's synthetic voice must look like one utterance to an energy VAD. */

describe('ACS emulator: speech-like caller audio', () => {
  it.each([16000, 24000])('is one utterance of the asked length at %i Hz: loud windows, no quiet run an energy VAD would end a turn on', (sampleRate) => {
    // Act
    const pcm = speechLikePcm(3_000, sampleRate, 7);

    // Assess
    const frame = bytesPerFrame(sampleRate);
    expect(pcm.length).toBe(150 * frame);
    const levels = Array.from({ length: pcm.length / frame }, (_, i) => rmsLevel(pcm.subarray(i * frame, (i + 1) * frame)));
    let longestQuietMs = 0;
    let quietMs = 0;
    for (const level of levels) {
      quietMs = level < 0.02 ? quietMs + FRAME_MS : 0;
      longestQuietMs = Math.max(longestQuietMs, quietMs);
    }
    expect(levels.filter((l) => l >= 0.02).length / levels.length).toBeGreaterThan(0.8);
    expect(longestQuietMs).toBeLessThanOrEqual(160);
    expect(Math.max(...levels)).toBeLessThan(0.5);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(speechLikePcm(200, 16000, 1).equals(speechLikePcm(200, 16000, 1))).toBe(true);
    expect(speechLikePcm(200, 16000, 1).equals(speechLikePcm(200, 16000, 2))).toBe(false);
  });
});
