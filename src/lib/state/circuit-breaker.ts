export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive "Redis unavailable" failures that open the breaker. @default 3 */
  readonly failureThreshold?: number;
  /** How often a probe is attempted while open. @default 250 */
  readonly probeIntervalMs?: number;
  readonly now?: () => number;
}

export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly openedAt: string | undefined;
  readonly opens: number;
}

/**
 * Closed: traffic goes to Redis. Open: it does not (reads from memory, writes to the journal) and
 * a probe runs every `probeIntervalMs`. Half-open: the probe answered and the journal is being
 * replayed; the owner closes the breaker when nothing is left to replay. Only "unavailable" failures
 * count: Redis refusing one command says nothing about Redis being away.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAtMs: number | undefined;
  private openCount = 0;
  readonly failureThreshold: number;
  readonly probeIntervalMs: number;
  private readonly now: () => number;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly onChange: (state: BreakerState) => void = () => {},
  ) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.probeIntervalMs = options.probeIntervalMs ?? 250;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  recordSuccess(): void {
    this.failures = 0;
  }

  /** Returns true when this failure opened the breaker. */
  recordFailure(): boolean {
    this.failures++;
    if (this.current === 'closed' && this.failures >= this.failureThreshold) {
      this.transition('open');
      return true;
    }
    if (this.current === 'half-open') this.transition('open');
    return false;
  }

  /** Opens at once (a replay or probe failed). */
  trip(): void {
    if (this.current !== 'open') this.transition('open');
  }

  /** The probe answered: replay may start. */
  halfOpen(): void {
    if (this.current === 'open') this.transition('half-open');
  }

  close(): void {
    this.failures = 0;
    if (this.current !== 'closed') this.transition('closed');
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.current,
      consecutiveFailures: this.failures,
      openedAt: this.openedAtMs === undefined ? undefined : new Date(this.openedAtMs).toISOString(),
      opens: this.openCount,
    };
  }

  private transition(next: BreakerState): void {
    this.current = next;
    if (next === 'open') {
      this.openedAtMs = this.now();
      this.openCount++;
    }
    if (next === 'closed') this.openedAtMs = undefined;
    this.onChange(next);
  }
}
