/**
 * The engine's notion of time. With `timeScale` 1 it is the wall clock; with 0.001 a one-hour durable
 * timer fires after 3.6 real seconds, and the history's timestamps (hence `currentUtcDateTime`) advance
 * a thousand times faster than the wall clock, so orchestrator arithmetic on dates stays consistent.
 */
export interface EngineClock {
  now(): Date;
  /** Real milliseconds to wait until `at` on this clock. */
  realDelayMs(at: Date): number;
}

export function scaledClock(timeScale = 1): EngineClock {
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  const originMs = Date.now();
  const now = () => new Date(originMs + (Date.now() - originMs) / timeScale);
  return {
    now,
    realDelayMs: (at) => Math.max(0, (at.getTime() - now().getTime()) * timeScale),
  };
}
