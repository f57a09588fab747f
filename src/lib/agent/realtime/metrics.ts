/**
 * Latency and usage metrics of a realtime session, as a discriminated union tagged by `type` (each
 * emitted as it happens) and a running snapshot.
 */

export type RealtimeUsage = {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  readonly inputAudioTokens: number;
  readonly outputAudioTokens: number;
};

export type RealtimeMetric =
  | { readonly type: 'ttfa'; readonly responseId: string; readonly ttfaMs: number }
  | { readonly type: 'response'; readonly responseId: string; readonly status: string; readonly usage: RealtimeUsage };

export type RealtimeAgentMetrics = {
  readonly responses: number;
  readonly cancelledResponses: number;
  /** End of user speech → first agent audio, one value per answered turn, oldest first (last 100). */
  readonly ttfaMs: readonly number[];
  readonly usage: RealtimeUsage;
};

const ZERO_USAGE: RealtimeUsage = { inputTokens: 0, outputTokens: 0, totalTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0 };
const MAX_TTFA_SAMPLES = 100;

export class MetricsRecorder {
  private responses = 0;
  private cancelled = 0;
  private readonly ttfa: number[] = [];
  private usage: RealtimeUsage = ZERO_USAGE;

  recordTtfa(responseId: string, ttfaMs: number): RealtimeMetric {
    this.ttfa.push(ttfaMs);
    if (this.ttfa.length > MAX_TTFA_SAMPLES) this.ttfa.shift();
    return { type: 'ttfa', responseId, ttfaMs };
  }

  recordResponse(responseId: string, status: string, rawUsage: unknown): RealtimeMetric {
    this.responses += 1;
    if (status === 'cancelled') this.cancelled += 1;
    const usage = usageFrom(rawUsage);
    this.usage = {
      inputTokens: this.usage.inputTokens + usage.inputTokens,
      outputTokens: this.usage.outputTokens + usage.outputTokens,
      totalTokens: this.usage.totalTokens + usage.totalTokens,
      inputAudioTokens: this.usage.inputAudioTokens + usage.inputAudioTokens,
      outputAudioTokens: this.usage.outputAudioTokens + usage.outputAudioTokens,
    };
    return { type: 'response', responseId, status, usage };
  }

  snapshot(): RealtimeAgentMetrics {
    return { responses: this.responses, cancelledResponses: this.cancelled, ttfaMs: [...this.ttfa], usage: this.usage };
  }
}

/** The service's `usage` object (snake_case, every field optional) → RealtimeUsage. */
function usageFrom(raw: unknown): RealtimeUsage {
  if (typeof raw !== 'object' || raw === null) return ZERO_USAGE;
  const usage = raw as {
    input_tokens?: number;
    output_tokens?: number;
    total_tokens?: number;
    input_token_details?: { audio_tokens?: number };
    output_token_details?: { audio_tokens?: number };
  };
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    totalTokens: usage.total_tokens ?? (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0),
    inputAudioTokens: usage.input_token_details?.audio_tokens ?? 0,
    outputAudioTokens: usage.output_token_details?.audio_tokens ?? 0,
  };
}
