import type { Clock, Scheduler, TimerHandle } from '../../../src/lib/media/relay-membership.js';

type Timer = { readonly id: number; readonly atMs: number; readonly delayMs: number; readonly background: boolean; readonly callback: () => unknown };

/**
 * A clock and scheduler that move only when told. `advance` runs every timer that falls due, in time
 * order, and waits for the work each one returns (a beat, a claim), so a test reads the outcome of a
 * beat right after moving the clock past it, without sleeping.
 */
export class ManualScheduler implements Scheduler, Clock {
  private nowMs = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();
  /** Every timer ever set, in order: the delays a test asserts (a backoff schedule). */
  readonly history: { readonly delayMs: number; readonly background: boolean }[] = [];

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => unknown, delayMs: number, options?: { readonly background?: boolean }): TimerHandle {
    const timer: Timer = { id: this.nextId++, atMs: this.nowMs + delayMs, delayMs, background: options?.background ?? false, callback };
    this.timers.set(timer.id, timer);
    this.history.push({ delayMs, background: timer.background });
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** The timers still to run, as delays from now, soonest first. */
  pending(): { readonly inMs: number; readonly background: boolean }[] {
    return [...this.timers.values()].sort((a, b) => a.atMs - b.atMs || a.id - b.id).map((t) => ({ inMs: t.atMs - this.nowMs, background: t.background }));
  }

  /** Moves the clock on by `ms`, running (and awaiting) each timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const untilMs = this.nowMs + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.atMs <= untilMs).sort((a, b) => a.atMs - b.atMs || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.nowMs = due.atMs;
      await due.callback();
    }
    this.nowMs = untilMs;
  }
}
