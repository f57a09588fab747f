import { describe, expect, it } from 'vitest';
import { InvalidArchiveInputError, MAX_TURN_BYTES, combineLatency, paginateTurns, summarizeLatency } from '../../src/lib/archive/index.js';
import { makeTurns } from './support/harness.js';

describe('paginateTurns', () => {
  it('cuts pages by turn count and keeps every turn once, in order', () => {
    const turns = makeTurns(1234);
    const pages = paginateTurns(turns, { maxTurnsPerPage: 500, maxPageBytes: 10_000_000 });
    expect(pages.map((p) => p.turns.length)).toEqual([500, 500, 234]);
    expect(pages.map((p) => p.firstTurn)).toEqual([0, 500, 1000]);
    expect(pages.flatMap((p) => p.turns)).toEqual(turns);
  });

  it('cuts pages by serialized size and is deterministic', () => {
    const turns = makeTurns(300, { contentBytes: 2000 });
    const limits = { maxTurnsPerPage: 1000, maxPageBytes: 64 * 1024 };
    const pages = paginateTurns(turns, limits);
    expect(pages.length).toBeGreaterThan(5);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page.turns))).toBeLessThanOrEqual(64 * 1024);
    expect(paginateTurns(turns, limits)).toEqual(pages);
  });

  it('refuses a single turn too large for any item', () => {
    const [turn] = makeTurns(1);
    const huge = { ...turn!, content: 'x'.repeat(MAX_TURN_BYTES) };
    expect(() => paginateTurns([huge])).toThrow(InvalidArchiveInputError);
  });
});

describe('latency summaries', () => {
  it('summarizes samples into percentiles and buckets', () => {
    const s = summarizeLatency(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ count: 100, p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100 });
    expect(s.buckets?.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('falls back to a labelled approximation when a call has no buckets', () => {
    const combined = combineLatency([
      { count: 10, p50Ms: 10, p95Ms: 20, p99Ms: 30 },
      { count: 30, p50Ms: 50, p95Ms: 60, p99Ms: 70, maxMs: 80 },
    ]);
    expect(combined).toEqual({ count: 40, p50Ms: 40, p95Ms: 60, p99Ms: 70, maxMs: 80, method: 'approximate' });
  });
});
