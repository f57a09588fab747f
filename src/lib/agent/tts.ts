/**
 * Fixed prompts (greeting, hold, goodbye, failure) spoken in the agent's voice on the media path:
 * synthesised once with Azure OpenAI text-to-speech (`audio.speech.create`, PCM16 24 kHz mono) and
 * kept in the Redis TTS cache (`tts_cache` TTL), so a call never waits for a synthesis the cache has.
 */

import { APIConnectionTimeoutError, APIError, APIUserAbortError, AzureOpenAI } from 'openai';
import type { AppConfig } from '../config/index.js';
import type { TtsCacheKey } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import { failurePrompt, goodbyePrompt, greetingPrompt, transferHoldPrompt } from '../agents/built-in.js';
import { AgentError, type AgentErrorCode } from './types.js';

/** The synthesised audio: PCM16 little-endian mono at this rate (the realtime model's rate). */
export const TTS_SAMPLE_RATE_HZ = 24000;
/** The cache's `format` for that audio. */
export const TTS_CACHE_FORMAT = 'pcm16-24k';
/** @default voice of the synthesis (the realtime agent's default voice). */
export const DEFAULT_TTS_VOICE = 'alloy';

export type TtsErrorCode = AgentErrorCode;

/** A text-to-speech failure; an {@link AgentError} like every failure of the agent module. */
export class TtsError extends AgentError {
  override name = 'TtsError';
}

export interface SpeechSynthesizer {
  /** What the audio depends on besides the text (deployment and voice): the cache key's `voice`. */
  readonly cacheVoice: string;
  /** PCM16 24 kHz mono audio of `text`. */
  synthesizeSpeech(text: string, options?: { readonly signal?: AbortSignal }): Promise<Buffer>;
}

export type AzureSpeechSettings = {
  readonly endpoint: string;
  readonly deployment: string;
  readonly apiVersion: string;
  /** Exactly one of a key (local runs) or a token provider (managed identity). */
  readonly apiKey?: string | undefined;
  readonly tokenProvider?: (() => Promise<string>) | undefined;
  /** @default {@link DEFAULT_TTS_VOICE} */
  readonly voice?: string;
  /** @default 15 000 */
  readonly requestTimeoutMs?: number;
  /** @default 1 */
  readonly maxRetries?: number;
  /** A fetch implementation (e.g. one trusting a local emulator's certificate). */
  readonly fetch?: typeof fetch;
};

/** Text-to-speech over the `openai` package's `AzureOpenAI` client. */
export class AzureSpeechSynthesizer implements SpeechSynthesizer {
  readonly voice: string;
  readonly cacheVoice: string;
  private readonly client: AzureOpenAI;

  constructor(private readonly settings: AzureSpeechSettings) {
    if (!settings.apiKey === !settings.tokenProvider) {
      throw new TtsError('Azure OpenAI text-to-speech needs exactly one of an API key or a token provider', { code: 'config', retryable: false });
    }
    this.voice = settings.voice ?? DEFAULT_TTS_VOICE;
    this.cacheVoice = `${settings.deployment}/${this.voice}`;
    this.client = new AzureOpenAI({
      endpoint: settings.endpoint,
      apiVersion: settings.apiVersion,
      ...(settings.apiKey ? { apiKey: settings.apiKey } : { azureADTokenProvider: settings.tokenProvider }),
      timeout: settings.requestTimeoutMs ?? 15_000,
      maxRetries: settings.maxRetries ?? 1,
      ...(settings.fetch ? { fetch: settings.fetch } : {}),
    });
  }

  async synthesizeSpeech(text: string, options: { readonly signal?: AbortSignal } = {}): Promise<Buffer> {
    if (text.trim() === '') throw new TtsError('Nothing to synthesise', { code: 'bad_request', retryable: false });
    let audio: Buffer;
    try {
      // The Azure client routes `model` to /openai/deployments/{deployment}/audio/speech.
      const response = await this.client.audio.speech.create(
        { model: this.settings.deployment, voice: this.voice, input: text, response_format: 'pcm' },
        options.signal ? { signal: options.signal } : {},
      );
      audio = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw toTtsError(error, options.signal);
    }
    if (audio.length === 0 || audio.length % 2 !== 0) {
      throw new TtsError(`The speech response is not PCM16 (${audio.length} bytes)`, { code: 'invalid_response', retryable: true });
    }
    return audio;
  }
}

/**
 * The synthesizer from config (`AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_TTS_DEPLOYMENT`, a key locally,
 * in the cloud `options.tokenProvider`: Entra ID tokens of the app's credential).
 */
export async function speechSynthesizerFromConfig(
  config: Pick<AppConfig, 'agent'>,
  options: { readonly tokenProvider?: () => Promise<string>; readonly voice?: string; readonly fetch?: typeof fetch } = {},
): Promise<AzureSpeechSynthesizer> {
  if (!config.agent.endpoint) throw new TtsError('AZURE_OPENAI_ENDPOINT is not set', { code: 'config', retryable: false });
  const tokenProvider = options.tokenProvider;
  if (!config.agent.apiKey && !tokenProvider) {
    throw new TtsError('AZURE_OPENAI_ENDPOINT without AZURE_OPENAI_API_KEY needs the app credential (a token provider)', { code: 'config', retryable: false });
  }
  return new AzureSpeechSynthesizer({
    endpoint: config.agent.endpoint,
    deployment: config.agent.ttsDeployment,
    apiVersion: config.agent.apiVersion,
    ...(config.agent.apiKey ? { apiKey: config.agent.apiKey } : { tokenProvider }),
    ...(options.voice ? { voice: options.voice } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

export function toTtsError(error: unknown, signal?: AbortSignal): TtsError {
  if (error instanceof TtsError) return error;
  if (error instanceof APIUserAbortError || signal?.aborted) return new TtsError('The speech request was aborted', { code: 'aborted', retryable: false, cause: error });
  if (error instanceof APIConnectionTimeoutError) return new TtsError('Text-to-speech did not answer in time', { code: 'timeout', retryable: true, cause: error });
  if (error instanceof APIError) {
    const status = error.status;
    if (status === undefined) return new TtsError('The text-to-speech endpoint could not be reached', { code: 'unavailable', retryable: true, cause: error });
    if (status === 401 || status === 403) return new TtsError('Not authorized for the text-to-speech deployment', { code: 'auth', retryable: false, status, cause: error });
    if (status === 404) return new TtsError('The text-to-speech deployment does not exist', { code: 'not_found', retryable: false, status, cause: error });
    if (status === 429) return new TtsError('The text-to-speech deployment is rate limited', { code: 'rate_limited', retryable: true, status, cause: error });
    if (status >= 500 || status === 408) return new TtsError(`Text-to-speech failed (${status})`, { code: 'unavailable', retryable: true, status, cause: error });
    return new TtsError(`Text-to-speech rejected the request (${status})`, { code: 'bad_request', retryable: false, status, cause: error });
  }
  return new TtsError('The speech response could not be read', { code: 'invalid_response', retryable: true, cause: error });
}

// ── fixed prompts ─────────────────────────────────────────────────────────────────────────────

export type FixedPromptName = 'greeting' | 'hold' | 'goodbye' | 'failure';
/** A prompt the relay speaks: a fixed one, or other words of the call's agent definition (a PIN's result, a handoff). */
export type SpokenPromptName = FixedPromptName | 'spoken';

/** The words of each fixed prompt (the same as the recognize/play path speaks). */
export const FIXED_PROMPT_TEXT: Readonly<Record<FixedPromptName, string>> = {
  greeting: greetingPrompt(),
  hold: transferHoldPrompt(),
  goodbye: goodbyePrompt(),
  failure: failurePrompt(),
};

/** What the prompts need of the TTS cache (the state layer's `TtsCache`). */
export interface TtsCache {
  getTts(request: TtsCacheKey): Promise<Buffer | undefined>;
  setTts(request: TtsCacheKey, audio: Buffer): Promise<void>;
}

export type FixedPromptAudio = {
  readonly name: SpokenPromptName;
  readonly text: string;
  /** PCM16 mono at {@link TTS_SAMPLE_RATE_HZ}. */
  readonly pcm: Buffer;
  readonly source: 'cache' | 'synthesis';
};

/**
 * The audio of the fixed prompts: from the TTS cache, or synthesised and cached once. Concurrent
 * requests for the same prompt in this process share one synthesis. The cache is a cache: when Redis
 * is away `getTts` misses and the prompt is synthesised (and kept in the store's memory tier).
 */
export class FixedPrompts {
  private readonly inFlight = new Map<string, Promise<FixedPromptAudio>>();

  constructor(
    private readonly cache: TtsCache,
    private readonly synthesizer: SpeechSynthesizer,
    private readonly options: { readonly logger?: Logger } = {},
  ) {}

  /** A fixed prompt in its built-in words, or in `text` (an agent definition's). */
  audio(name: FixedPromptName, text?: string): Promise<FixedPromptAudio>;
  audio(name: SpokenPromptName, text: string): Promise<FixedPromptAudio>;
  audio(name: SpokenPromptName, text?: string): Promise<FixedPromptAudio> {
    const words = text ?? FIXED_PROMPT_TEXT[name as FixedPromptName];
    const key = `${name}\n${words}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.load(name, words).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async load(name: SpokenPromptName, text: string): Promise<FixedPromptAudio> {
    const key: TtsCacheKey = { text, voice: this.synthesizer.cacheVoice, format: TTS_CACHE_FORMAT };
    const cached = await this.cache.getTts(key);
    if (cached) return { name, text, pcm: cached, source: 'cache' };
    const pcm = await this.synthesizer.synthesizeSpeech(text);
    await this.cache.setTts(key, pcm).catch((error: unknown) => this.options.logger?.warn('fixed prompt not cached', { prompt: name, error: error as Error }));
    return { name, text, pcm, source: 'synthesis' };
  }
}
