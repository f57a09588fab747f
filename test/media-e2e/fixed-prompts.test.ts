/**
 * Fixed prompts on the media path. The caller can talk over the greeting like over any agent turn.
 * When the realtime service goes away mid-call and the agent session cannot be reopened, the caller
 * hears the fixed failure prompt — from the Redis TTS cache, resampled to the call's 16 kHz — and the
 * call ends, instead of dead air.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { fetchTrusting } from '../../emulators/realtime/index.js';
import { failurePrompt, greetingPrompt } from '../../src/lib/agents/built-in.js';
import { utcDay } from '../../src/lib/archive/index.js';
import type { BargeInRecord } from '../../src/lib/media/call-bridge.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../../src/lib/agent/tts.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, echoAnswer, startMediaStack } from './support.js';

describe('fixed prompts on the media path: barge-in over the greeting, the failure prompt when the realtime agent cannot be reached again', () => {
  let stack: OfflineStack;
  const bargeIns: BargeInRecord[] = [];

  beforeAll(async () => {
    // 150 ms a word: the greeting the caller talks over plays long enough (≈ 1.5 s) for the caller's speech
    // to reach the model's VAD while it still plays, even on a loaded machine.
    stack = await startMediaStack(
      { realtime: { speechMsPerWord: 150 }, relay: { onBargeIn: (_callId, record) => bargeIns.push(record) } },
      { env: { LOG_LEVEL: 'error', MEDIA_AUDIO_FORMAT: 'pcm16KMono' } },
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('stops the greeting prompt at once when the caller talks over it and archives what was heard', { timeout: 30_000 }, async () => {
    // Prepare: the caller does not wait for the end of the greeting.
    const question = 'I need billing help';
    const steps = [{ bargeInAfterMs: 150, say: question, audioMs: 400 }, { waitFor: 'agentSilence' as const, quietMs: 700, timeoutMs: 10_000 }, { hangUp: true as const }];

    // Act
    const call = await stack.acs.placeCall({ from: '+15550107202', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 20_000 });
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: one StopAudio while the greeting played, sent in the VAD event's handler.
    const callId = callIdForIncoming(call.serverCallId);
    expect(call.notes).toEqual([]);
    expect(call.stopAudio).toHaveLength(1);
    expect(call.stopAudio[0]!.wasPlaying).toBe(true);
    expect(bargeIns).toHaveLength(1);
    const bargeIn = bargeIns[0]!;
    expect(bargeIn.itemId).toMatch(/^prompt_greeting_/);
    expect(bargeIn.framesBetween).toBe(0);
    expect(bargeIn.fullTranscript).toBe(greetingPrompt());
    expect(bargeIn.audioEndMs).toBeGreaterThan(0);
    expect(bargeIn.audioEndMs).toBeLessThan(bargeIn.audioSentMs);
    // The model never issued the greeting: nothing was cancelled or truncated there.
    const session = [...stack.media!.realtime.sessions.values()].find((s) => s.correlationId === callId)!;
    expect(session.received).not.toContain('response.cancel');
    expect(session.received).not.toContain('conversation.item.truncate');

    // The archive holds the part of the greeting the caller heard, then the conversation went on.
    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(callId);
    expect(transcript!.turns.map((t) => [t.role, t.content])).toEqual([
      ['assistant', bargeIn.heardTranscript],
      ['user', question],
      ['assistant', echoAnswer(question)],
    ]);
    expect(bargeIn.heardTranscript.length).toBeGreaterThan(0);
    expect(greetingPrompt().startsWith(bargeIn.heardTranscript)).toBe(true);
    expect(bargeIn.heardTranscript).not.toBe(greetingPrompt());
    expect(transcript!.turns[0]!.meta).toMatchObject({ kind: 'prompt', prompt: 'greeting', truncated: true, heardMs: bargeIn.audioEndMs });
    const analytics = await archive.analytics.get(callId, utcDay('dev', transcript!.header.startedAt));
    expect(analytics).toMatchObject({ turns: 3, bargeIns: 1 });
  });

  it('plays the cached failure prompt at 16 kHz and hangs up', { timeout: 30_000 }, async () => {
    // Prepare: the prompt is in the TTS cache already (synthesised by another process earlier).
    const realtime = stack.media!.realtime;
    const warm = new FixedPrompts(await stack.runtime.ttsCache(), await speechSynthesizerFromConfig(stack.config, { fetch: await fetchTrusting(realtime.ca) }));
    const cached = await warm.audio('failure');
    await warm.audio('greeting');
    const syntheses = realtime.speechRequests.length;
    const sessionsBefore = realtime.sessions.size;
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, { pause: 20_000 }];

    // Act: the realtime service goes away once the caller has been greeted.
    const placed = stack.acs.placeCall({ from: '+15550107201', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 25_000 });
    await eventually('the agent session of this call is open', () => ([...realtime.sessions.values()].slice(sessionsBefore).some((s) => s.received.includes('session.update')) ? true : undefined));
    await realtime.close();
    const call = await placed;
    await lifecycleOf(stack, call.callConnectionId);

    // Assess: the app hung up after the caller heard the whole failure prompt, resampled to 16 kHz.
    expect(call.endedBy).toBe('app');
    expect(realtime.speechRequests.length).toBe(syntheses);
    const prompt = call.heard.filter((h) => h.kind === 'audio').at(-1)!;
    const promptMs = (cached.pcm.length / 48_000) * 1000;
    expect(prompt.ms).toBeGreaterThanOrEqual(promptMs);
    expect(prompt.ms).toBeLessThan(promptMs + 40);
    expect(prompt.bytes).toBe(Math.round((prompt.ms * 16_000 * 2) / 1000));
    expect(prompt.stoppedByStopAudio).toBe(false);
    const hangUp = call.requests.at(-1)!;
    expect(call.operations.at(-1)).toBe('terminateCall');
    expect(prompt.endedAtMs).toBeDefined();
    expect(prompt.endedAtMs!).toBeLessThanOrEqual(hangUp.atMs);

    // The transcript says what the caller heard.
    const transcript = await (await stack.runtime.archive()).transcripts.read(callIdForIncoming(call.serverCallId));
    expect(transcript!.turns.at(-1)).toMatchObject({ role: 'assistant', content: failurePrompt() });
  });
});
