/**
 * How many calls a Web PubSub resource carries, by replaying recorded call traffic through the
 * emulator's message budget (budget.ts): N copies of one call's messages, spread over the shards
 * evenly and phase-shifted across a 20 ms frame, looped for `durationMs`. A load is carried while 99 %
 * of its messages wait under a second, the guide's own criterion for its figures.
 */
import { MessageBudget, inboundBudgetPerSecond, messageCost, type MessageBudgetOptions } from './budget.js';

/** One call's inbound messages (to the resource), relative to the trace's start, and its length. */
export interface CallTrace {
  readonly messages: ReadonlyArray<{ readonly atMs: number; readonly bytes: number }>;
  readonly durationMs: number;
}

export interface CapacityOptions extends Omit<MessageBudgetOptions, 'units'> {
  readonly unitsPerShard: number;
  /** @default 1 */
  readonly shards?: number;
  /** How long the load is replayed. @default 30_000 */
  readonly durationMs?: number;
}

/** p99 of the budget's delays (ms) for `calls` copies of the trace. */
export function p99DelayMs(trace: CallTrace, calls: number, options: CapacityOptions): number {
  const shards = options.shards ?? 1;
  const durationMs = options.durationMs ?? 30_000;
  const budgets = Array.from({ length: shards }, () => new MessageBudget({ ...options, units: options.unitsPerShard }));
  const events: Array<{ atMs: number; bytes: number; shard: number }> = [];
  for (let call = 0; call < calls; call++) {
    const phaseMs = (call * 20) / Math.max(1, calls);
    for (let loop = 0; loop * trace.durationMs < durationMs; loop++) {
      for (const m of trace.messages) {
        const atMs = loop * trace.durationMs + m.atMs + phaseMs;
        if (atMs < durationMs) events.push({ atMs, bytes: m.bytes, shard: call % shards });
      }
    }
  }
  events.sort((a, b) => a.atMs - b.atMs);
  const delays = events.map((e) => {
    const verdict = budgets[e.shard]!.admit(e.atMs, e.bytes);
    return verdict === 'drop' ? Number.POSITIVE_INFINITY : verdict;
  });
  delays.sort((a, b) => a - b);
  return delays.length === 0 ? 0 : delays[Math.min(delays.length - 1, Math.floor(delays.length * 0.99))]!;
}

/** The most calls whose p99 delay stays under a second. */
export function callsCarried(trace: CallTrace, options: CapacityOptions): number {
  let calls = 0;
  while (calls < 100_000 && p99DelayMs(trace, calls + 1, options) < 1000) calls += 1;
  return calls;
}

/** The trace's cost per second in the guide's 2 KB messages, and its messages per second. */
export function traceRates(trace: CallTrace, cost: MessageBudgetOptions['cost'] = 'bandwidth'): { messagesPerSecond: number; costPerSecond: number } {
  const seconds = trace.durationMs / 1000;
  return {
    messagesPerSecond: trace.messages.length / seconds,
    costPerSecond: trace.messages.reduce((sum, m) => sum + messageCost(m.bytes, cost), 0) / seconds,
  };
}

/** Calls per resource from the documented figures alone: the budget over one call's cost per second. */
export function callsPerResource(costPerCallPerSecond: number, units: number, options: Omit<MessageBudgetOptions, 'units'> = {}): number {
  return Math.floor(inboundBudgetPerSecond({ ...options, units }) / costPerCallPerSecond);
}
