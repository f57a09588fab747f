import { describe, expect, it } from 'vitest';
import { PlaybackTracker, truncateTranscript } from '../../src/lib/media/barge-in.js';
import { STOP_AUDIO_FRAME } from '../../src/lib/media/codec.js';

const FRAME_24K = 960; // 20 ms at 24 kHz

describe('truncateTranscript', () => {
  it('keeps a share of the text proportional to the audio heard, cut to whole words', () => {
    const text = 'Your appointment is confirmed for Tuesday at ten';
    expect(truncateTranscript(text, 0, 3000)).toBe('');
    expect(truncateTranscript(text, 3000, 3000)).toBe(text);
    expect(truncateTranscript(text, 5000, 3000)).toBe(text);
    // 40 % of 48 characters = char 19 ("appointment is|"), the boundary after "is"
    expect(truncateTranscript(text, 1200, 3000)).toBe('Your appointment is');
    // 50 % = char 24, inside "confirmed" (20..29) with less than half of it heard → dropped
    expect(truncateTranscript(text, 1500, 3000)).toBe('Your appointment is');
    // 56 % = char 27, more than half of "confirmed" heard → kept
    expect(truncateTranscript(text, 1680, 3000)).toBe('Your appointment is confirmed');
  });

  it('uses word timings when the transcript has them', () => {
    const words = [
      { word: 'Hello', startMs: 0, endMs: 400 },
      { word: 'and', startMs: 450, endMs: 600 },
      { word: 'welcome', startMs: 650, endMs: 1100 },
    ];
    expect(truncateTranscript('Hello and welcome', 640, 1100, words)).toBe('Hello and');
    expect(truncateTranscript('Hello and welcome', 651, 1100, words)).toBe('Hello and welcome');
  });
});

describe('PlaybackTracker', () => {
  it('computes the heard position when audio was sent faster than real time', () => {
    // Prepare: 50 frames (1 s) sent in a burst at t=1000; ACS plays them over 1000..2000
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    for (let i = 0; i < 50; i++) tracker.onAgentAudioSent('resp_1', 'item_1', FRAME_24K, 1000 + i * 2);
    tracker.onAgentTranscriptDelta('resp_1', 'item_1', 'one two three four');
    // Act: the caller speaks at t=1400
    const decision = tracker.onCallerSpeechStarted(1400);
    // Assess
    expect(decision).toEqual({
      stopAudioFrame: STOP_AUDIO_FRAME,
      responseIdToCancel: 'resp_1',
      responseId: 'resp_1',
      itemId: 'item_1',
      audioEndMs: 400,
      audioSentMs: 1000,
      heardTranscript: 'one two',
      fullTranscript: 'one two three four',
      atMs: 1400,
    });
    expect(tracker.bargeInCount).toBe(1);
  });

  it('accounts for underruns: gaps between frames are not heard audio', () => {
    const tracker = new PlaybackTracker({ sampleRateHz: 16000 });
    tracker.onAgentAudioSent('r', 'i', 640 * 5, 0); // 100 ms, played 0..100
    tracker.onAgentAudioSent('r', 'i', 640 * 5, 300); // 100 ms, played 300..400
    expect(tracker.heardMs('i', 50)).toBe(50);
    expect(tracker.heardMs('i', 250)).toBe(100);
    expect(tracker.heardMs('i', 350)).toBe(150);
    expect(tracker.isAgentAudible(250)).toBe(true); // still queued: the response continues
    expect(tracker.onCallerSpeechStarted(350)?.audioEndMs).toBe(150);
  });

  it('adds the configured playback delay before audio counts as heard', () => {
    const tracker = new PlaybackTracker({ sampleRateHz: 24000, playbackDelayMs: 60 });
    tracker.onAgentAudioSent('r', 'i', FRAME_24K * 10, 0);
    expect(tracker.heardMs('i', 100)).toBe(40);
  });

  it('does not barge in when no agent audio is playing', () => {
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    expect(tracker.onCallerSpeechStarted(10)).toBeUndefined();
    tracker.onAgentAudioSent('r', 'i', FRAME_24K, 0);
    expect(tracker.onCallerSpeechStarted(25)).toBeUndefined(); // played out at 20
    expect(tracker.bargeInCount).toBe(0);
  });

  it('needs no cancel once the response is done, and drops late audio of an interrupted response', () => {
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    tracker.onAgentAudioSent('r1', 'i1', FRAME_24K * 50, 0);
    tracker.onResponseDone('r1');
    const decision = tracker.onCallerSpeechStarted(500);
    expect(decision?.responseIdToCancel).toBeUndefined();
    expect(decision?.audioEndMs).toBe(500);
    expect(tracker.shouldForward('r1')).toBe(false);
    expect(tracker.shouldForward('r2')).toBe(true);
    // ACS dropped its queue: new audio plays right away, and a second barge-in counts again
    tracker.onAgentAudioSent('r2', 'i2', FRAME_24K * 10, 600);
    expect(tracker.heardMs('i2', 650)).toBe(50);
    expect(tracker.onCallerSpeechStarted(650)?.itemId).toBe('i2');
    expect(tracker.bargeInCount).toBe(2);
  });

  it('forgets items that finished playing', () => {
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    tracker.onAgentAudioSent('r1', 'i1', FRAME_24K, 0);
    tracker.onResponseDone('r1');
    tracker.onAgentAudioSent('r2', 'i2', FRAME_24K, 100);
    tracker.prune(1000);
    expect(tracker.heardMs('i1', 1000)).toBe(0);
    expect(tracker.heardMs('i2', 1000)).toBe(20); // current item kept
  });
});
