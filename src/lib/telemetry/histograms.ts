import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Histogram names the state layer records; other parts may add their own. */
export const LATENCY = {
  /** Every Redis round trip, by operation name, is recorded as `redis.<name>` as well as here. */
  redis: 'redis',
  /** Memory-to-Redis persistence: from a write being handed to the store to Redis acknowledging it. */
  persistence: 'persistence',
} as const;

const LOWEST_US = 1;
const HIGHEST_US = 60_000_000;

/**
 * Latency histograms (HDR, microsecond resolution, 3 significant digits), one per name.
 * Recording is a few hundred nanoseconds, so it stays on the hot path.
 *
 * @example
 * const latency = new LatencyRegistry();
 * latency.record('redis', 0.42);
 * latency.summary('redis')?.p99Ms;
 */
export class LatencyRegistry {
  private readonly histograms = new Map<string, hdr.Histogram>();
  private listener: ((name: string, durationMs: number) => void) | undefined;

  /** Each recording is also handed to `listener` (the OpenTelemetry bridge); one listener, `undefined` removes it. */
  observe(listener: ((name: string, durationMs: number) => void) | undefined): void {
    this.listener = listener;
  }

  record(name: string, durationMs: number): void {
    this.listener?.(name, durationMs);
    let h = this.histograms.get(name);
    if (!h) {
      h = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: LOWEST_US, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false, useWebAssembly: false });
      this.histograms.set(name, h);
    }
    const us = Math.round(durationMs * 1000);
    h.recordValue(us < LOWEST_US ? LOWEST_US : us > HIGHEST_US ? HIGHEST_US : us);
  }

  summary(name: string): LatencySummary | undefined {
    const h = this.histograms.get(name);
    if (!h || h.totalCount === 0) return undefined;
    const at = (p: number) => roundMs(h.getValueAtPercentile(p) / 1000);
    return { count: h.totalCount, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs: roundMs(h.maxValue / 1000), meanMs: roundMs(h.mean / 1000) };
  }

  names(): string[] {
    return [...this.histograms.keys()].sort();
  }

  snapshot(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const name of this.names()) {
      const s = this.summary(name);
      if (s) out[name] = s;
    }
    return out;
  }

  /** Starts a new measuring window (e.g. after each health scrape or between bench phases). */
  reset(name?: string): void {
    if (name === undefined) for (const h of this.histograms.values()) h.reset();
    else this.histograms.get(name)?.reset();
  }
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The process-wide registry the state layer records into unless given another; `/api/health` reads it. */
export const processLatency = new LatencyRegistry();
