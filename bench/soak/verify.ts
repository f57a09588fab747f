import type { Archive } from '../../src/lib/archive/index.js';
import type { CallOutcome } from './callers.js';

/**
 * The soak's checks, per call, against what the app archived in Cosmos DB: one transcript whose
 * caller turns equal, in order, what the caller said; one `ended` audit entry and no forced hang-up;
 * the lifecycle orchestration Completed; the caller never met dead air. Lost and duplicated turns are
 * counted over every call.
 */
export interface CallCheck {
  readonly callId: string;
  readonly path: CallOutcome['path'];
  readonly phase: string;
  readonly problems: readonly string[];
  readonly saidTurns: number;
  readonly archivedCallerTurns: number;
  readonly lostTurns: number;
  readonly duplicatedTurns: number;
}

export interface VerifySummary {
  readonly calls: number;
  readonly archived: number;
  readonly saidTurns: number;
  readonly archivedCallerTurns: number;
  readonly archivedTurns: number;
  readonly lostTurns: number;
  readonly duplicatedTurns: number;
  readonly callsWithProblems: number;
  /** The first problems found (at most 20), for the report. */
  readonly problems: readonly string[];
  readonly archiveWaitMs: number;
}

export async function verifyCalls(archive: Archive, lifecycleStatuses: (instanceIds: readonly string[]) => Promise<Record<string, string>>, outcomes: readonly CallOutcome[], options: { timeoutMs: number }): Promise<{ summary: VerifySummary; checks: CallCheck[] }> {
  const started = performance.now();
  const duplicatesPlaced = duplicateIds(outcomes);
  const wanted = new Set(outcomes.filter((o) => o.answered).map((o) => o.callId));
  const archivedIds = await waitForArchive(archive, wanted, options.timeoutMs);
  const archiveWaitMs = Math.round(performance.now() - started);
  const statuses = await lifecycleStatuses(outcomes.flatMap((o) => (o.callConnectionId ? [o.callConnectionId] : [])));

  const checks: CallCheck[] = [];
  let archivedTurns = 0;
  for (const outcome of outcomes) {
    const problems: string[] = [];
    if (duplicatesPlaced.has(outcome.callId)) problems.push('the same call id was placed twice');
    if (!outcome.answered) problems.push('not answered');
    if (outcome.unheard > 0) problems.push(`${outcome.unheard} utterance(s) nobody listened for (dead air)`);
    if (outcome.endedBy !== outcome.expectedEnd) problems.push(`ended by ${outcome.endedBy}, expected ${outcome.expectedEnd}`);
    for (const note of outcome.notes) problems.push(`caller: ${note}`);
    const status = outcome.callConnectionId ? statuses[outcome.callConnectionId] : undefined;
    if (outcome.answered && status !== 'Completed') problems.push(`lifecycle ${status ?? 'unknown'}`);

    let callerTurns: string[] = [];
    if (outcome.answered) {
      if (!archivedIds.has(outcome.callId)) problems.push('not archived');
      const transcript = await archive.transcripts.read(outcome.callId).catch((error: unknown) => {
        problems.push(`transcript unreadable: ${(error as Error).message}`);
        return undefined;
      });
      if (transcript) {
        archivedTurns += transcript.turns.length;
        const ids = transcript.turns.map((t) => t.id);
        if (new Set(ids).size !== ids.length) problems.push(`${ids.length - new Set(ids).size} turn id(s) archived twice`);
        callerTurns = transcript.turns.filter((t) => t.role === 'user').map((t) => t.content);
        const agentTurns = transcript.turns.filter((t) => t.role === 'assistant').length;
        // The greeting, then one answer per caller turn.
        if (agentTurns !== outcome.said.length + 1) problems.push(`${agentTurns} agent turns archived for ${outcome.said.length} caller turns`);
      }
      const audit = await archive.audit.list(outcome.callId).catch((error: unknown) => {
        problems.push(`audit unreadable: ${(error as Error).message}`);
        return [];
      });
      const ended = audit.filter((a) => a.action === 'ended').length;
      if (ended !== 1) problems.push(`${ended} 'ended' audit entries`);
      if (audit.some((a) => a.action === 'hung_up_max_duration')) problems.push('hung up at the maximum duration');
    }
    const { lost, duplicated } = turnDifference(outcome.said, callerTurns);
    if (lost > 0) problems.push(`${lost} caller turn(s) lost`);
    if (duplicated > 0) problems.push(`${duplicated} caller turn(s) duplicated`);
    if (lost === 0 && duplicated === 0 && callerTurns.join('\n') !== outcome.said.join('\n')) problems.push('caller turns archived out of order');
    checks.push({ callId: outcome.callId, path: outcome.path, phase: outcome.phase, problems, saidTurns: outcome.said.length, archivedCallerTurns: callerTurns.length, lostTurns: lost, duplicatedTurns: duplicated });
  }

  const withProblems = checks.filter((c) => c.problems.length > 0);
  return {
    checks,
    summary: {
      calls: outcomes.length,
      archived: outcomes.filter((o) => archivedIds.has(o.callId)).length,
      saidTurns: sum(checks.map((c) => c.saidTurns)),
      archivedCallerTurns: sum(checks.map((c) => c.archivedCallerTurns)),
      archivedTurns,
      lostTurns: sum(checks.map((c) => c.lostTurns)),
      duplicatedTurns: sum(checks.map((c) => c.duplicatedTurns)),
      callsWithProblems: withProblems.length,
      problems: withProblems.slice(0, 20).map((c) => `${c.phase}/${c.path} ${c.callId}: ${c.problems.join('; ')}`),
      archiveWaitMs,
    },
  };
}

/** Caller turns said but not archived (lost), and archived beyond what was said (duplicated), as multisets. */
export function turnDifference(said: readonly string[], archived: readonly string[]): { lost: number; duplicated: number } {
  const remaining = new Map<string, number>();
  for (const text of archived) remaining.set(text, (remaining.get(text) ?? 0) + 1);
  let lost = 0;
  for (const text of said) {
    const left = remaining.get(text) ?? 0;
    if (left > 0) remaining.set(text, left - 1);
    else lost += 1;
  }
  return { lost, duplicated: sum([...remaining.values()]) };
}

/** Polls the transcripts container until every wanted call has a header (the header is written last). */
async function waitForArchive(archive: Archive, wanted: ReadonlySet<string>, timeoutMs: number): Promise<Set<string>> {
  const deadline = performance.now() + timeoutMs;
  let found = new Set<string>();
  for (;;) {
    const { resources } = await archive.containers.transcripts.items
      .query<{ callId: string }>({ query: 'SELECT c.callId FROM c WHERE c.type = @type', parameters: [{ name: '@type', value: 'transcript-header' }] })
      .fetchAll();
    found = new Set(resources.map((r) => r.callId));
    if ([...wanted].every((id) => found.has(id)) || performance.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function duplicateIds(outcomes: readonly CallOutcome[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const o of outcomes) (seen.has(o.callId) ? twice : seen).add(o.callId);
  return twice;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
