/**
 * The failure prompt on the media path: when the realtime service goes away mid-call and the agent
 * session cannot be reopened, the caller hears the fixed failure prompt — from the Redis TTS cache,
 * resampled to the call's 16 kHz — and the call ends, instead of dead air.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { fetchTrusting } from '../../emulators/realtime/index.js';
import { failurePrompt } from '../../src/lib/agent/prompts.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../../src/lib/agent/tts.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { eventually } from '../emulators/webpubsub-support.js';
import { lifecycleOf } from '../e2e/support.js';
import { APP_NUMBER, startMediaStack } from './support.js';

describe('the failure prompt when the realtime agent cannot be reached again', () => {
  let stack: OfflineStack;

  beforeAll(async () => {
    stack = await startMediaStack({}, { env: { LOG_LEVEL: 'error', MEDIA_AUDIO_FORMAT: 'pcm16KMono' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('plays the cached failure prompt at 16 kHz and hangs up', { timeout: 30_000 }, async () => {
    // Prepare: the prompt is in the TTS cache already (synthesised by another process earlier).
    const realtime = stack.media!.realtime;
    const warm = new FixedPrompts(await stack.runtime.store(), await speechSynthesizerFromConfig(stack.config, { fetch: await fetchTrusting(realtime.ca) }));
    const cached = await warm.audio('failure');
    await warm.audio('greeting');
    const syntheses = realtime.speechRequests.length;
    const steps = [{ waitFor: 'greeting' as const, quietMs: 400, timeoutMs: 10_000 }, { pause: 20_000 }];

    // Act: the realtime service goes away once the caller has been greeted.
    const placed = stack.acs.placeCall({ from: '+15550107201', to: APP_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 25_000 });
    await eventually('the agent session is open', () => ([...realtime.sessions.values()].some((s) => s.received.includes('session.update')) ? true : undefined));
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
