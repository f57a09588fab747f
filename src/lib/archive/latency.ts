/**
 * Latency summaries that can be combined: besides p50/p95/p99 each summary may carry counts over
 * fixed bucket bounds, so a day's roll-up computes real percentiles over all its calls instead of
 * averaging percentiles (which is meaningless).
 */

/** Upper bounds (inclusive, ms) of the histogram buckets; a last, open bucket counts everything above. */
export const LATENCY_BUCKET_BOUNDS_MS = [
  1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 60000,
] as const;

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs?: number;
  /** Counts per bucket of {@link LATENCY_BUCKET_BOUNDS_MS} plus the overflow bucket. */
  readonly buckets?: readonly number[];
}

/** Summarises raw samples (ms) of one stage of one call. */
export function summarizeLatency(samplesMs: readonly number[]): LatencySummary {
  const sorted = samplesMs.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0));
  const buckets = new Array<number>(LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0);
  for (const v of sorted) buckets[bucketOf(v)] = (buckets[bucketOf(v)] ?? 0) + 1;
  return { count: sorted.length, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs: sorted.at(-1) ?? 0, buckets };
}

function bucketOf(valueMs: number): number {
  const index = LATENCY_BUCKET_BOUNDS_MS.findIndex((bound) => valueMs <= bound);
  return index === -1 ? LATENCY_BUCKET_BOUNDS_MS.length : index;
}

export interface CombinedLatency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /**
   * `histogram`: percentiles from the merged buckets (each is the upper bound of its bucket).
   * `approximate`: some calls had no buckets; p50 is the count-weighted mean of the calls' p50s and
   * p95/p99 are the highest of the calls' values (an upper bound).
   */
  readonly method: 'histogram' | 'approximate';
}

export function combineLatency(summaries: readonly LatencySummary[]): CombinedLatency {
  const count = summaries.reduce((n, s) => n + s.count, 0);
  const maxMs = Math.max(0, ...summaries.map((s) => s.maxMs ?? s.p99Ms));
  const expected = LATENCY_BUCKET_BOUNDS_MS.length + 1;
  if (count > 0 && summaries.every((s) => s.count === 0 || s.buckets?.length === expected)) {
    const merged = new Array<number>(expected).fill(0);
    for (const s of summaries) s.buckets?.forEach((n, i) => (merged[i] = (merged[i] ?? 0) + n));
    const at = (p: number) => {
      const rank = Math.ceil((p / 100) * count);
      let seen = 0;
      for (let i = 0; i < merged.length; i += 1) {
        seen += merged[i] ?? 0;
        if (seen >= rank) return Math.min(LATENCY_BUCKET_BOUNDS_MS[i] ?? maxMs, maxMs);
      }
      return maxMs;
    };
    return { count, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs, method: 'histogram' };
  }
  const weighted = count === 0 ? 0 : summaries.reduce((sum, s) => sum + s.p50Ms * s.count, 0) / count;
  return {
    count,
    p50Ms: weighted,
    p95Ms: Math.max(0, ...summaries.map((s) => s.p95Ms)),
    p99Ms: Math.max(0, ...summaries.map((s) => s.p99Ms)),
    maxMs,
    method: 'approximate',
  };
}
