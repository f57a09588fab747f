import { describe, expect, it } from 'vitest';
import { CALLER_AUDIO_END, CallerAudioBuffer, CallerAudioPosition, replayDecision } from '../../src/lib/media/caller-audio-buffer.js';
import { buildInboundAudioDataFrame, parseMediaFrame } from '../../src/lib/media/codec.js';
import type { Turn } from '../../src/lib/state/conversation/turns.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const loud = (ms: number): string => buildInboundAudioDataFrame({ data: Buffer.alloc(960, 7).toString('base64'), timestamp: at(ms), silent: false });
const quiet = (ms: number): string => buildInboundAudioDataFrame({ data: Buffer.alloc(960).toString('base64'), timestamp: at(ms), silent: true });
const transcription = (text: string): string => JSON.stringify({ kind: 'TranscriptionData', transcriptionData: { text, format: 'display', confidence: 0.9, offset: 0, duration: 0, words: [], resultStatus: 'Final' } });
const turn = (role: Turn['role'], meta?: Turn['meta']): Turn => ({ id: `w-${Math.random()}`, role, content: role, at: at(0), ...(meta ? { meta } : {}) });

describe('CallerAudioPosition', () => {
  it('records on a caller turn where its speech stopped in the stream, however late the model says so, once', () => {
    // Prepare: 10 frames wait while the session connects, 40 more go to it live.
    const position = new CallerAudioPosition();
    for (let i = 0; i < 10; i++) position.heard(at(i * 20));
    position.sessionStarted(10);
    for (let i = 10; i < 50; i++) position.heard(at(i * 20));

    // Act: the model stopped the speech at 600 ms of its input, and says so when 1,000 ms had been sent.
    position.speechStopped('item_1', 600);
    position.heard(at(1_000));

    // Assess: its input began with the stream's frame at 0 ms.
    expect(position.turnMeta('item_1')).toEqual({ [CALLER_AUDIO_END]: at(600) });
    expect(position.turnMeta('item_1')).toEqual({});
    expect(position.turnMeta(undefined)).toEqual({});
  });

  it('counts the session\'s input from the frames it was first given, not from the call\'s start', () => {
    const position = new CallerAudioPosition();
    for (let i = 0; i < 100; i++) position.heard(at(i * 20));
    // A new session (a reconnect) is given the last 5 frames first.
    position.sessionStarted(5);
    for (let i = 100; i < 120; i++) position.heard(at(i * 20));
    position.speechStopped('item_2', 200);
    expect(position.turnMeta('item_2')).toEqual({ [CALLER_AUDIO_END]: at(95 * 20 + 200) });
  });

  it('records nothing for frames without timestamps', () => {
    const position = new CallerAudioPosition();
    position.heard(undefined);
    position.speechStopped('item_1', 20);
    expect(position.turnMeta('item_1')).toEqual({});
  });
});

describe('replayDecision', () => {
  it('replays everything while no caller turn is persisted', () => {
    expect(replayDecision([turn('assistant')], { vadSilenceMs: 500 })).toEqual({ kind: 'all' });
  });

  it('replays from just after the last caller turn\'s speech ended (its stop minus the silence window, plus the margin)', () => {
    const history = [turn('assistant'), turn('user', { [CALLER_AUDIO_END]: at(1_000) }), turn('assistant'), turn('user', { [CALLER_AUDIO_END]: at(5_000) }), turn('assistant')];
    expect(replayDecision(history, { vadSilenceMs: 500 })).toEqual({ kind: 'from', fromMs: T0 + 4_600 });
  });

  it('skips keyed turns, which have no audio', () => {
    const history = [turn('user', { [CALLER_AUDIO_END]: at(1_000) }), turn('user', { via: 'dtmf' })];
    expect(replayDecision(history, { vadSilenceMs: 500, marginMs: 0 })).toEqual({ kind: 'from', fromMs: T0 + 500 });
  });

  it('replays nothing when the last caller turn has no position, rather than saying it twice', () => {
    expect(replayDecision([turn('user')], { vadSilenceMs: 500 }).kind).toBe('none');
  });
});

describe('CallerAudioBuffer', () => {
  it('replays speech as received and silence rebuilt to the same frame, from the decision on', () => {
    // Prepare
    const buffer = new CallerAudioBuffer();
    const frames = [quiet(0), quiet(20), loud(40), loud(60), transcription('hello there'), quiet(80)];
    for (const frame of frames) buffer.push(frame);

    // Act
    const all = buffer.replay({ kind: 'all' });
    const fromSpeech = buffer.replay({ kind: 'from', fromMs: T0 + 40 });

    // Assess
    expect(all).toHaveLength(6);
    expect(all.map((f) => parseMediaFrame(f))).toEqual(frames.map((f) => parseMediaFrame(f)));
    // The transcription stands at its utterance's last frame.
    expect(fromSpeech).toEqual([loud(40), loud(60), transcription('hello there'), quiet(80)].map((f, i) => (i === 3 ? fromSpeech[3] : f)));
    expect(parseMediaFrame(fromSpeech[3]!)).toEqual(parseMediaFrame(quiet(80)));
    expect(buffer.replay({ kind: 'none', reason: 'test' })).toEqual([]);
  });

  it('leaves out an utterance it holds only the end of (it joined late, or the bounds cut it)', () => {
    // Prepare: the standby joined mid-utterance.
    const buffer = new CallerAudioBuffer();
    const frames = [loud(1_000), loud(1_020), transcription('the end of it'), quiet(1_040), loud(1_060), quiet(1_080)];
    for (const frame of frames) buffer.push(frame);

    // Act
    const fromEarlier = buffer.replay({ kind: 'from', fromMs: T0 + 500 });
    const fromWithin = buffer.replay({ kind: 'from', fromMs: T0 + 1_020 });
    const all = buffer.replay({ kind: 'all' });

    // Assess: from the first silent frame on; a replay that starts within what it holds is whole.
    const times = (replayed: string[]) => replayed.map((f) => (parseMediaFrame(f) as { timestamp?: string }).timestamp);
    expect(times(fromEarlier)).toEqual([at(1_040), at(1_060), at(1_080)]);
    expect(times(all)).toEqual([at(1_040), at(1_060), at(1_080)]);
    expect(times(fromWithin)).toEqual([at(1_020), undefined, at(1_040), at(1_060), at(1_080)]);
  });

  it('keeps at most its duration, dropping the oldest', () => {
    const buffer = new CallerAudioBuffer({ maxDurationMs: 100 });
    for (let ms = 0; ms <= 1_000; ms += 20) buffer.push(loud(ms));
    const kept = buffer.replay({ kind: 'from', fromMs: T0 }).map((f) => (parseMediaFrame(f) as { timestamp: string }).timestamp);
    expect(kept).toEqual([]); // all speech, cut by the bound: nothing whole to replay
    const recent = buffer.replay({ kind: 'from', fromMs: T0 + 950 }).map((f) => (parseMediaFrame(f) as { timestamp: string }).timestamp);
    expect(recent[0]).toBe(at(960));
    expect(buffer.length).toBe(6);
    expect(recent.at(-1)).toBe(at(1_000));
    expect(buffer.dropped).toBe(45);
  });

  it('keeps at most its size, where silence costs next to nothing', () => {
    const buffer = new CallerAudioBuffer({ maxChars: 3 * loud(0).length });
    for (let ms = 0; ms < 200; ms += 20) buffer.push(loud(ms));
    for (let ms = 200; ms < 2_200; ms += 20) buffer.push(quiet(ms));
    expect(buffer.size).toBeLessThanOrEqual(3 * loud(0).length);
    const replayed = buffer.replay({ kind: 'all' }).map((f) => parseMediaFrame(f) as { silent: boolean });
    expect(replayed.filter((f) => !f.silent).length).toBeLessThan(3);
    expect(replayed.filter((f) => f.silent)).toHaveLength(100);
  });

  it('refuses frames it cannot place (no timestamp, not JSON) and ignores DTMF', () => {
    const buffer = new CallerAudioBuffer();
    buffer.push('not json');
    buffer.push(buildInboundAudioDataFrame({ data: 'AAAA' }).replace(/"timestamp":"[^"]*",/, ''));
    buffer.push(JSON.stringify({ kind: 'DtmfData', dtmfData: { data: '5' } }));
    expect(buffer.refused).toBe(2);
    expect(buffer.length).toBe(0);
  });
});
