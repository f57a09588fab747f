/**
 * Fixed prompts through Azure OpenAI text-to-speech (the real `openai` AzureOpenAI client against the
 * realtime emulator's `audio/speech` route over TLS) and the Redis TTS cache (the private test Redis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTrusting, startRealtimeEmulator, synthesize, type RealtimeEmulator } from '../../emulators/realtime/index.js';
import { AzureSpeechSynthesizer, FIXED_PROMPT_TEXT, FixedPrompts, TTS_CACHE_FORMAT, TtsError } from '../../src/lib/agent/tts.js';
import { TtsCache } from '../../src/lib/state/tts-cache.js';
import { uniquePrefix } from '../support/env.js';
import { openSharedStore, type StoreHandle } from '../state/support/store.js';

const MS_PER_WORD = 40;

describe('fixed prompts: Azure OpenAI text-to-speech and the Redis TTS cache', () => {
  let emulator: RealtimeEmulator;
  let trustingFetch: typeof fetch;
  const stores: StoreHandle[] = [];

  beforeAll(async () => {
    emulator = await startRealtimeEmulator({ speechMsPerWord: MS_PER_WORD });
    trustingFetch = await fetchTrusting(emulator.ca);
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await emulator?.close();
  });

  function synthesizer(apiKey = emulator.apiKey): AzureSpeechSynthesizer {
    return new AzureSpeechSynthesizer({ endpoint: emulator.endpoint, deployment: emulator.ttsDeployment, apiVersion: emulator.apiVersion, apiKey, maxRetries: 0, fetch: trustingFetch });
  }

  async function store(prefix: string): Promise<StoreHandle> {
    const handle = await openSharedStore({ prefix });
    stores.push(handle);
    return handle;
  }

  it('synthesises a prompt once: the next process gets it from Redis, byte for byte', async () => {
    // Prepare: two relays (two processes) sharing Redis, each with its own memory tier.
    const prefix = uniquePrefix();
    const [first, second] = [await store(prefix), await store(prefix)];
    const before = emulator.speechRequests.length;

    // Act
    const synthesised = await new FixedPrompts(new TtsCache(first.store), synthesizer()).audio('hold');
    const cached = await new FixedPrompts(new TtsCache(second.store), synthesizer()).audio('hold');

    // Assess: one synthesis at the service; the second copy came from Redis.
    expect(emulator.speechRequests.slice(before)).toEqual([
      { deployment: emulator.ttsDeployment, input: FIXED_PROMPT_TEXT.hold, voice: 'alloy', format: 'pcm', bytes: synthesised.pcm.length },
    ]);
    expect(synthesised.source).toBe('synthesis');
    expect(cached.source).toBe('cache');
    const expected = synthesize(FIXED_PROMPT_TEXT.hold, 'alloy', MS_PER_WORD);
    expect(synthesised.pcm.equals(expected)).toBe(true);
    expect(cached.pcm.equals(expected)).toBe(true);
    // 24 kHz PCM16: the duration follows the words.
    expect(cached.pcm.length).toBe((FIXED_PROMPT_TEXT.hold.split(' ').length * MS_PER_WORD * 48));
    // The binary value in Redis is the audio itself, under the TTS key with the policy TTL.
    const key = first.keys.tts(TtsCache.id({ text: FIXED_PROMPT_TEXT.hold, voice: `${emulator.ttsDeployment}/alloy`, format: TTS_CACHE_FORMAT }));
    expect((await first.raw.getBuffer(key))?.equals(expected)).toBe(true);
    const ttl = await first.raw.ttl(key);
    expect(ttl).toBeGreaterThan(3600);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
  });

  it('shares one synthesis between concurrent requests for the same prompt', async () => {
    // Prepare
    const prompts = new FixedPrompts(new TtsCache((await store(uniquePrefix())).store), synthesizer());
    const before = emulator.speechRequests.length;

    // Act
    const results = await Promise.all([prompts.audio('failure'), prompts.audio('failure'), prompts.audio('failure'), prompts.audio('goodbye')]);

    // Assess
    expect(emulator.speechRequests.slice(before).map((r) => r.input).sort()).toEqual([FIXED_PROMPT_TEXT.failure, FIXED_PROMPT_TEXT.goodbye].sort());
    expect(results[0]!.pcm.equals(results[2]!.pcm)).toBe(true);
    expect(results[0]!.pcm.equals(results[3]!.pcm)).toBe(false);
  });

  it('fails with a typed, non-retryable error on a wrong key, and caches nothing', async () => {
    // Prepare
    const handle = await store(uniquePrefix());
    const prompts = new FixedPrompts(new TtsCache(handle.store), synthesizer('not-the-key'));

    // Act
    const failure = prompts.audio('greeting');

    // Assess
    await expect(failure).rejects.toBeInstanceOf(TtsError);
    await expect(failure).rejects.toMatchObject({ code: 'auth', retryable: false, status: 401 });
    expect(await new TtsCache(handle.store).getTts({ text: FIXED_PROMPT_TEXT.greeting, voice: `${emulator.ttsDeployment}/alloy`, format: TTS_CACHE_FORMAT })).toBeUndefined();
  });

  it('names a deployment that does not exist', async () => {
    // Prepare
    const wrong = new AzureSpeechSynthesizer({ endpoint: emulator.endpoint, deployment: 'no-such-tts', apiVersion: emulator.apiVersion, apiKey: emulator.apiKey, maxRetries: 0, fetch: trustingFetch });

    // Act / Assess
    await expect(wrong.synthesizeSpeech('Hello there')).rejects.toMatchObject({ name: 'TtsError', code: 'not_found', status: 404 });
  });
});
