import { describe, expect, it } from 'vitest';
import { relayCallTelemetry } from '../../src/lib/telemetry/relay-turns.js';
import { processLatency } from '../../src/lib/telemetry/histograms.js';
import { buildAudioDataFrame, STOP_AUDIO_FRAME } from '../../src/lib/media/codec.js';

/** 20 ms of 24 kHz 16-bit mono: 960 bytes. */
const FRAME_20MS = Buffer.alloc(960).toString('base64');

type Turn = { role: string; responseId?: string; timings: { ttfaMs?: number } };
type Handlers = { onSpeechStopped?(e: { itemId: string; audioEndMs: number }): void; onAudioDelta?(b: string, r: string, i: string): void; onTurnCompleted?(t: Turn): void };

async function observedCall() {
  let clock = 0;
  const sent: string[] = [];
  const telemetry = relayCallTelemetry('in-relayturn', 'worker-1', { vadSilenceMs: 500, now: () => clock });
  let handlers: Handlers = {};
  const appended: string[] = [];
  const factory = telemetry.agent(async (request: { handlers: Handlers }) => {
    handlers = request.handlers;
    return { appendAudio: (b: string) => appended.push(b) };
  });
  const completed: Turn[] = [];
  const session = await factory({ handlers: { onTurnCompleted: (t: Turn) => completed.push(t) } });
  const send = telemetry.send((_group, frame) => sent.push(frame));
  return {
    at: (ms: number) => (clock = ms),
    session,
    handlers: () => handlers,
    send,
    sent,
    appended,
    completed,
  };
}

describe('relay turn latency as the caller hears it', () => {
  it('runs from the caller\'s last word (VAD end minus its silence window) to the first audio frame sent', async () => {
    // Prepare: one second of caller audio arrives in real time (frame i ends at i × 20 ms); speech ends at 500 ms.
    processLatency.reset('first_audio');
    processLatency.reset('stage.vad');
    processLatency.reset('stage.model');
    processLatency.reset('stage.relay');
    const call = await observedCall();
    for (let i = 1; i <= 50; i += 1) {
      call.at(i * 20);
      call.session.appendAudio(FRAME_20MS);
    }
    // Act: the VAD reports at 1010 ms with audio_end_ms 1000 (500 ms of silence included), the model's
    // first audio arrives at 1400 ms and the relay sends it at 1402 ms.
    call.at(1010);
    call.handlers().onSpeechStopped?.({ itemId: 'item_1', audioEndMs: 1000 });
    call.at(1400);
    call.handlers().onAudioDelta?.(FRAME_20MS, 'resp_1', 'item_2');
    call.at(1402);
    call.send('call.in-relayturn.out', buildAudioDataFrame(FRAME_20MS));
    call.at(1422);
    call.send('call.in-relayturn.out', buildAudioDataFrame(FRAME_20MS));
    // Assess: 1402 − 500 = 902 ms, and its stages; the second frame is not a new turn.
    expect(processLatency.summary('first_audio')).toMatchObject({ count: 1 });
    expect(processLatency.summary('first_audio')!.maxMs).toBeCloseTo(902, 0);
    expect(processLatency.summary('stage.vad')!.maxMs).toBeCloseTo(510, 0);
    expect(processLatency.summary('stage.model')!.maxMs).toBeCloseTo(390, 0);
    expect(processLatency.summary('stage.relay')!.maxMs).toBeCloseTo(2, 0);
    // The agent turn reaches the bridge (and the stored transcript) with the caller's wait as its ttfaMs.
    call.handlers().onTurnCompleted?.({ role: 'agent', responseId: 'resp_1', timings: { ttfaMs: 390 } });
    expect(call.completed[0]!.timings.ttfaMs).toBeCloseTo(902, 0);
    // The frames went out unchanged, and the agent got every caller frame.
    expect(call.sent).toHaveLength(2);
    expect(call.appended).toHaveLength(50);
  });

  it('measures nothing for audio sent without caller speech before it (the greeting), and counts StopAudio as a barge-in frame', async () => {
    processLatency.reset('first_audio');
    const call = await observedCall();
    call.at(100);
    call.send('call.x.out', buildAudioDataFrame(FRAME_20MS));
    call.send('call.x.out', STOP_AUDIO_FRAME);
    expect(processLatency.summary('first_audio')).toBeUndefined();
    expect(call.sent).toEqual([buildAudioDataFrame(FRAME_20MS), STOP_AUDIO_FRAME]);
  });
});
