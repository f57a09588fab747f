import type { Container } from '@azure/cosmos';
import { InvalidArchiveInputError } from './errors.js';
import { assertArchiveId, assertIsoTimestamp, utcDay } from './ids.js';
import { combineLatency, type CombinedLatency, type LatencySummary } from './latency.js';
import { ChargeMeter, ContainerOps, withoutSystemFields, type CallOptions, type RepositoryOptions } from './repository-support.js';
import type { CallOutcome } from './transcript-types.js';

/** One call's numbers, recorded once when the call is finalized. */
export interface CallAnalytics {
  readonly callId: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly turns: number;
  readonly bargeIns: number;
  /**
   * Turns whose answer ran out of the turn budget (`TURN_BUDGET_MS`), answered with the apology.
   * Absent on documents recorded before it was counted.
   */
  readonly timedOutTurns?: number;
  readonly outcome: CallOutcome;
  /** Per pipeline stage (e.g. `stt`, `llm_ttft`, `tts_first_byte`, `turn_persist`). */
  readonly latency: Readonly<Record<string, LatencySummary>>;
  /** Pseudonymous caller id, when known. */
  readonly userId?: string;
  /** The media stream failed and the call went on (or ended) without it. */
  readonly mediaFallback?: boolean;
}

export interface CallAnalyticsDocument extends CallAnalytics {
  readonly id: string;
  readonly type: 'call';
  /** UTC date of the call's start, `YYYY-MM-DD`: the partition key. */
  readonly day: string;
}

export interface DailyRollup {
  readonly day: string;
  readonly calls: number;
  readonly totalDurationMs: number;
  readonly meanDurationMs: number;
  readonly turns: number;
  readonly bargeIns: number;
  readonly timedOutTurns: number;
  /** Calls whose media stream failed (MediaStreamingFailed) and fell back to recognize/play. */
  readonly mediaFallbacks: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly latency: Readonly<Record<string, CombinedLatency>>;
  readonly computedAt: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
// `:` never appears in a call id (assertArchiveId), so this id cannot collide with a call document.
const rollupId = (day: string) => `rollup:${day}`;

/**
 * Per-call analytics in container `analytics` (partition key `/day`), one document per call with the
 * call id as item id, so recording a call twice overwrites rather than double counts. A day's roll-up
 * reads one partition only.
 */
export class AnalyticsRepository {
  private readonly ops: ContainerOps;

  constructor(container: Container, options: RepositoryOptions) {
    this.ops = new ContainerOps(container, options);
  }

  async record(analytics: CallAnalytics, options: CallOptions = {}): Promise<CallAnalyticsDocument> {
    validate(analytics);
    const doc: CallAnalyticsDocument = { ...analytics, id: analytics.callId, type: 'call', day: utcDay('analytics.record', analytics.startedAt) };
    await this.ops.upsert('analytics.record', doc, new ChargeMeter(), options.signal);
    return doc;
  }

  async get(callId: string, day: string, options: CallOptions = {}): Promise<CallAnalyticsDocument | undefined> {
    assertArchiveId('analytics.get', 'callId', callId);
    const doc = await this.ops.read<CallAnalyticsDocument>('analytics.get', callId, day, new ChargeMeter(), options.signal);
    return doc ? withoutSystemFields(doc) : undefined;
  }

  /** Computes the roll-up of one UTC day from its call documents. */
  async dailyRollup(day: string, options: CallOptions = {}): Promise<DailyRollup> {
    if (!DAY.test(day)) throw new InvalidArchiveInputError('analytics.dailyRollup', 'day is not YYYY-MM-DD');
    const rows = await this.ops.query<Pick<CallAnalytics, 'durationMs' | 'turns' | 'bargeIns' | 'timedOutTurns' | 'outcome' | 'latency' | 'mediaFallback'>>(
      'analytics.dailyRollup',
      'SELECT c.durationMs, c.turns, c.bargeIns, c.timedOutTurns, c.outcome, c.latency, c.mediaFallback FROM c WHERE c.day = @day AND c.type = @type',
      [
        { name: '@day', value: day },
        { name: '@type', value: 'call' },
      ],
      day,
      new ChargeMeter(),
      options.signal,
    );
    const outcomes: Record<string, number> = {};
    const stages = new Map<string, LatencySummary[]>();
    let totalDurationMs = 0;
    let turns = 0;
    let bargeIns = 0;
    let timedOutTurns = 0;
    let mediaFallbacks = 0;
    for (const row of rows) {
      if (row.mediaFallback === true) mediaFallbacks += 1;
      totalDurationMs += row.durationMs;
      turns += row.turns;
      bargeIns += row.bargeIns;
      timedOutTurns += row.timedOutTurns ?? 0;
      outcomes[row.outcome] = (outcomes[row.outcome] ?? 0) + 1;
      for (const [stage, summary] of Object.entries(row.latency ?? {})) stages.set(stage, [...(stages.get(stage) ?? []), summary]);
    }
    const latency = Object.fromEntries([...stages].map(([stage, summaries]) => [stage, combineLatency(summaries)]));
    const calls = rows.length;
    return { day, calls, totalDurationMs, meanDurationMs: calls === 0 ? 0 : totalDurationMs / calls, turns, bargeIns, timedOutTurns, mediaFallbacks, outcomes, latency, computedAt: new Date().toISOString() };
  }

  /** Computes a day's roll-up and stores it in the day's partition as `rollup:<day>` (for a nightly timer). */
  async storeDailyRollup(day: string, options: CallOptions = {}): Promise<DailyRollup> {
    const rollup = await this.dailyRollup(day, options);
    await this.ops.upsert('analytics.storeDailyRollup', { id: rollupId(day), type: 'rollup', ...rollup }, new ChargeMeter(), options.signal);
    return rollup;
  }
}

function validate(a: CallAnalytics): void {
  const op = 'analytics.record';
  if (a === null || typeof a !== 'object') throw new InvalidArchiveInputError(op, 'analytics is not an object');
  assertArchiveId(op, 'callId', a.callId);
  assertIsoTimestamp(op, 'startedAt', a.startedAt);
  assertIsoTimestamp(op, 'endedAt', a.endedAt);
  for (const field of ['durationMs', 'turns', 'bargeIns'] as const) {
    if (!Number.isFinite(a[field]) || a[field] < 0) throw new InvalidArchiveInputError(op, `${field} is not a non-negative number`);
  }
  if (a.timedOutTurns !== undefined && (!Number.isInteger(a.timedOutTurns) || a.timedOutTurns < 0)) throw new InvalidArchiveInputError(op, 'timedOutTurns is not a non-negative whole number');
  if (typeof a.outcome !== 'string' || a.outcome.length === 0) throw new InvalidArchiveInputError(op, 'outcome is empty');
  if (a.userId !== undefined) assertArchiveId(op, 'userId', a.userId);
}
