import { setTimeout as sleep } from 'node:timers/promises';
import { summarizeLatency } from '../archive/index.js';
import type { FinalizedCall, LifecycleDeps } from '../lifecycle/index.js';
import type { App } from '../app/index.js';
import { ConversationManager, InvalidCallSessionError, type CallSession, type JsonValue, type Turn } from '../state/index.js';

/** What finalize keeps in `call:{id}:summary` (7 days) and the later steps read back. */
export interface CallSummaryRecord {
  readonly callId: string;
  readonly outcome: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationSeconds: number;
  readonly turnCount: number;
  readonly bargeIns: number;
  /** Turns whose answer ran out of the turn budget (`TURN_BUDGET_MS`): the caller heard the apology. */
  readonly timedOutTurns?: number;
  readonly summary: string;
  readonly callerUserId?: string;
  readonly callerName?: string;
  /** The media stream failed during the call (MediaStreamingFailed). */
  readonly mediaFallback?: boolean;
}

const SPOKEN = new Set(['user', 'assistant']);

/**
 * How long after the hang-up finalize still lets turns in. ACS's callbacks are not ordered: the
 * caller's last RecognizeCompleted can arrive just after CallDisconnected, and it must take its turn
 * lease before finalize closes the call, or the caller's final words are lost.
 */
export const LATE_EVENT_GRACE_MS = 1_000;

/**
 * The lifecycle activities over the real store, archive and ACS client. Every step is idempotent:
 * finalize rewrites the same summary, archive writes deterministic ids, the profile counts a call
 * once per call id, audit entries carry idempotency keys, cleanup deletes what may already be gone.
 */
export function lifecycleDeps(rt: App): LifecycleDeps {
  async function turnsOf(callId: string): Promise<Turn[]> {
    const conversation = await ConversationManager.fromRedis(callId, await rt.store());
    return conversation.readFullHistory();
  }
  async function summaryOf(callId: string): Promise<CallSummaryRecord | undefined> {
    return (await (await rt.store()).getCallSummary(callId)) as CallSummaryRecord | undefined;
  }

  /** A session that fails its schema must not stop the archive: finalize goes on without it, and says so. */
  async function sessionOf(callId: string): Promise<CallSession | undefined> {
    try {
      return await (await rt.callSessions()).get(callId);
    } catch (err) {
      if (!(err instanceof InvalidCallSessionError)) throw err;
      rt.logger.error('call session unreadable; finalizing without it', { callId, error: err });
      return undefined;
    }
  }

  return {
    async finalize(request) {
      const store = await rt.store();
      const graceMs = Math.min(LATE_EVENT_GRACE_MS, Date.parse(request.endedAt) + LATE_EVENT_GRACE_MS - Date.now());
      if (request.endReason !== 'answer_failed' && graceMs > 0) await sleep(graceMs);
      // A turn still being answered, or the relay's last write, must land before the history is read.
      const writers = await (await rt.turnFencing()).closeAndAwaitWriters(request.callId);
      if (writers.openTurns > 0 || writers.relay !== null) {
        rt.logger.warn('finalizing with writers still active', { callId: request.callId, openTurns: writers.openTurns, relayHeld: writers.relay !== null, waitedMs: writers.waitedMs });
      }
      // Whatever this process journaled while Redis was away must reach Redis before it is read back.
      await store.flushJournal();
      const [turns, session] = await Promise.all([turnsOf(request.callId), sessionOf(request.callId)]);
      const spoken = turns.filter((t) => SPOKEN.has(t.role));
      const outcome = session?.outcome ?? (request.endReason === 'max-duration' ? 'timed_out' : spoken.some((t) => t.role === 'user') ? 'completed' : 'abandoned');
      const durationSeconds = Math.max(0, Math.round((Date.parse(request.endedAt) - Date.parse(request.startedAt)) / 1000));
      // Reads apply truncation markers (the marker disappears, its target is flagged `truncated`).
      const bargeIns = turns.filter((t) => t.meta?.kind === 'truncation' || t.meta?.truncated === true).length;
      const timedOutTurns = turns.filter((t) => t.meta?.timedOut === true).length;
      const summary = summarize(spoken, outcome);
      const record: CallSummaryRecord = {
        callId: request.callId,
        outcome,
        startedAt: request.startedAt,
        endedAt: request.endedAt,
        durationSeconds,
        turnCount: spoken.length,
        bargeIns,
        timedOutTurns,
        summary,
        ...(request.callerUserId ? { callerUserId: request.callerUserId } : {}),
        ...(session?.callerName ? { callerName: session.callerName } : {}),
        ...(session?.mediaFailed ? { mediaFallback: true } : {}),
      };
      await store.setCallSummary(request.callId, record as unknown as JsonValue);
      return { ...request, durationSeconds, turnCount: spoken.length, summary };
    },

    async archiveTranscript(call) {
      const [turns, record, archive] = await Promise.all([turnsOf(call.callId), summaryOf(call.callId), rt.archive()]);
      const result = await archive.transcripts.archive({
        callId: call.callId,
        caller: call.callerUserId ?? 'unknown',
        startedAt: call.startedAt,
        endedAt: call.endedAt,
        outcome: record?.outcome ?? 'completed',
        summary: call.summary,
        turns: turns.map(({ id, role, content, at, meta }) => (meta ? { id, role, content, at, meta } : { id, role, content, at })),
      });
      return { turnsArchived: result.turnCount };
    },

    async updateProfile(call) {
      if (!call.callerUserId) return;
      const record = await summaryOf(call.callId);
      const profiles = (await rt.archive()).profiles;
      await profiles.recordCall(call.callerUserId, { callId: call.callId, at: call.startedAt, ...(record ? { outcome: record.outcome } : {}) });
      if (record?.callerName) await profiles.upsert({ userId: call.callerUserId, displayName: record.callerName });
    },

    async recordAnalytics(call) {
      const [turns, record, archive] = await Promise.all([turnsOf(call.callId), summaryOf(call.callId), rt.archive()]);
      await archive.analytics.record({
        callId: call.callId,
        startedAt: call.startedAt,
        endedAt: call.endedAt,
        // From the timestamps, not durationSeconds: that is rounded to whole seconds (a 1.6 s call read 2.0 s).
        durationMs: Math.max(0, Date.parse(call.endedAt) - Date.parse(call.startedAt)),
        turns: call.turnCount,
        bargeIns: record?.bargeIns ?? 0,
        timedOutTurns: record?.timedOutTurns ?? 0,
        outcome: record?.outcome ?? 'completed',
        latency: latencyByStage(turns),
        ...(call.callerUserId ? { userId: call.callerUserId } : {}),
        ...(record?.mediaFallback ? { mediaFallback: true } : {}),
      });
    },

    async appendAudit(entry) {
      const { idempotencyKey, ...event } = entry;
      await (await rt.archive()).audit.append(event, { idempotencyKey });
    },

    async keepAlive(callId) {
      await (await rt.store()).refreshCallTtls(callId);
    },

    async cleanup(callId) {
      await (await rt.store()).deleteCall(callId, { keepSummary: true });
    },

    async hangUp(callConnectionId) {
      try {
        await (await rt.acs()).connection(callConnectionId).hangUp(true);
      } catch (err) {
        // The call is already gone: that is what hanging up wanted.
        const status = (err as { statusCode?: number }).statusCode;
        if (status === 404 || status === 410) return;
        throw err;
      }
    },
  };
}

/** Latency per stage from the turn metadata call control records (`agentMs`, `turnMs`, `firstTokenMs`…). */
function latencyByStage(turns: readonly Turn[]): Record<string, ReturnType<typeof summarizeLatency>> {
  const stages: Record<string, number[]> = {};
  const stageOf: Record<string, string> = { agentMs: 'agent', turnMs: 'turn', replyMs: 'reply', firstTokenMs: 'llm_ttft', ttfaMs: 'first_audio' };
  for (const turn of turns) {
    for (const [field, stage] of Object.entries(stageOf)) {
      const value = turn.meta?.[field];
      if (typeof value === 'number' && Number.isFinite(value)) (stages[stage] ??= []).push(value);
    }
    // Definition tools (`toolMs` per tool) and the turn latency of each agent of a scenario (`agent`).
    const toolMs = turn.meta?.toolMs;
    if (toolMs && typeof toolMs === 'object') {
      for (const [tool, ms] of Object.entries(toolMs)) if (typeof ms === 'number' && Number.isFinite(ms)) (stages[`tool_${tool}`] ??= []).push(ms);
    }
    const agent = turn.meta?.agent;
    const turnMs = turn.meta?.turnMs;
    if (typeof agent === 'string' && typeof turnMs === 'number' && Number.isFinite(turnMs)) (stages[`turn_agent_${agent}`] ??= []).push(turnMs);
  }
  return Object.fromEntries(Object.entries(stages).map(([stage, samples]) => [stage, summarizeLatency(samples)]));
}

/** A short, number-free summary kept 7 days: the outcome and the caller's first request. */
function summarize(spoken: readonly Turn[], outcome: string): string {
  const firstAsk = spoken.find((t) => t.role === 'user')?.content ?? '';
  const ask = firstAsk.replace(/\+?\d[\d\s().-]{5,}\d/g, '[number]').slice(0, 120);
  return `${spoken.length} turns, ${outcome}${ask ? `; caller asked: "${ask}"` : ''}`;
}

export type { FinalizedCall };
