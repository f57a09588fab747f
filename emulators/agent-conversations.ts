/**
 * Scripted conversations of a scenario (`tests:` in its scenario.yaml), played as real phone calls
 * on the offline stack: the ACS emulator dials the scenario's number, the real function handlers
 * answer through the definition-driven agent, and the archived transcript is checked against what
 * the test expects (tools, handoffs, refusals, outcome, words heard). On a stack with the media path
 * the same script is spoken and keyed on the media socket, the relay bridges it to the realtime
 * emulator (answering as the definitions do, see emulators/realtime/scenario-model.ts), and the
 * same checks apply.
 */
import { hashPin } from '../src/lib/agents/verification.js';
import type { AgentCatalog, ConversationTest, LoadedScenario } from '../src/lib/agents/index.js';
import { userIdFromPhoneNumber } from '../src/lib/archive/index.js';
import { callIdForIncoming } from '../src/lib/calls/session.js';
import type { CallerStep, EmulatedCall } from './acs/index.js';
import { startOfflineStack, type OfflineStack } from './offline-stack.js';
import { scenarioModel } from './realtime/scenario-model.js';
import type { Logger } from '../src/lib/telemetry/logger.js';

export interface ConversationResult {
  readonly scenario: string;
  readonly test: string;
  readonly callId: string;
  readonly passed: boolean;
  readonly failures: readonly string[];
  readonly outcome: string;
  readonly tools: readonly string[];
  readonly handoffs: readonly string[];
  readonly durationMs: number;
  /** `recognize/play` or `media`. */
  readonly path: string;
}

/** A number the routing sends to `scenario` (the default scenario takes any number no route names). */
export function numberFor(catalog: AgentCatalog, scenario: string): string {
  const route = catalog.routing.routes.find((r) => r.scenario === scenario);
  if (route) return route.number;
  if (catalog.routing.default !== scenario) throw new Error(`no number routes to scenario ${scenario}`);
  return '+15550100001';
}

let callerSeq = 0;

export async function playConversation(stack: OfflineStack, catalog: AgentCatalog, loaded: LoadedScenario, test: ConversationTest, hooks: { onCall?: (call: EmulatedCall) => void } = {}): Promise<ConversationResult> {
  const startedAt = Date.now();
  const from = `+1555020${String(1000 + (callerSeq++ % 9000)).padStart(4, '0')}`;
  const archive = await stack.runtime.archive();
  const userId = userIdFromPhoneNumber(from, stack.config.archive.userIdSalt);
  if (test.caller.pin || test.caller.displayName || test.caller.callCount) {
    await archive.profiles.upsert({
      userId,
      ...(test.caller.displayName ? { displayName: test.caller.displayName } : {}),
      ...(test.caller.callCount === undefined ? {} : { callCount: test.caller.callCount }),
      ...(test.caller.pin ? { pinHash: await hashPin(test.caller.pin) } : {}),
    });
  }
  const media = stack.media !== undefined;
  // On the media path nothing waits for a recognize: the caller lets the agent answer before going on
  // (long enough for the VAD's end of speech, the relay and the first coalesced audio).
  const answered: CallerStep[] = media ? [{ waitFor: 'agentSilence', quietMs: 1_200, timeoutMs: 15_000 }] : [];
  const steps: CallerStep[] = [media ? { waitFor: 'greeting', quietMs: 600, timeoutMs: 15_000 } : { waitFor: 'greeting' }];
  for (const step of test.steps) {
    if ('say' in step) steps.push({ say: step.say }, ...answered);
    else if ('dtmf' in step) steps.push({ dtmf: step.dtmf }, ...answered);
    else steps.push({ silence: true }, ...answered);
  }
  // A conversation expected to go on ends with the caller hanging up; otherwise the app ends it.
  steps.push(test.expect.outcome === 'listening' ? { waitFor: 'agentSilence', quietMs: 300 } : { waitFor: 'agentSilence', timeoutMs: 15_000 });
  if (test.expect.outcome === 'listening') steps.push({ hangUp: true });

  const watcher = hooks.onCall ? watchNewCalls(stack, hooks.onCall) : undefined;
  let recording;
  try {
    recording = await stack.acs.placeCall({ from, to: numberFor(catalog, loaded.scenario.name), steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 60_000 });
  } finally {
    watcher?.stop();
  }
  const callId = callIdForIncoming(recording.serverCallId);
  if (recording.callConnectionId) await stack.host.durable.waitForCompletion(recording.callConnectionId, { timeoutMs: 30_000 });
  const transcript = await archive.transcripts.read(callId);
  const turns = transcript?.turns ?? [];
  const metaList = (name: string) => turns.flatMap((t) => (Array.isArray(t.meta?.[name]) ? (t.meta[name] as string[]) : []));
  const tools = metaList('tools').map((t) => (t === 'handoff' ? undefined : t)).filter((t): t is string => t !== undefined);
  const handoffs = turns.flatMap((t) => (typeof t.meta?.handoffTo === 'string' ? [t.meta.handoffTo] : []));
  const refused = metaList('refusedTools');
  const heard = turns.filter((t) => t.role === 'assistant').map((t) => t.content).join('\n');
  const outcome = recording.endedBy === 'transfer' ? 'transferred' : recording.endedBy === 'caller' ? 'listening' : (transcript?.header.outcome ?? `not archived (${recording.endedBy})`);

  const failures: string[] = [];
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (outcome !== test.expect.outcome) failures.push(`outcome ${outcome}, expected ${test.expect.outcome}`);
  if (!same(tools, test.expect.tools)) failures.push(`tools [${tools.join(', ')}], expected [${test.expect.tools.join(', ')}]`);
  if (!same(handoffs, test.expect.handoffs)) failures.push(`handoffs [${handoffs.join(', ')}], expected [${test.expect.handoffs.join(', ')}]`);
  if (!same(refused, test.expect.refused)) failures.push(`refused [${refused.join(', ')}], expected [${test.expect.refused.join(', ')}]`);
  for (const words of test.expect.heard) if (!heard.includes(words)) failures.push(`never heard "${words}"`);
  for (const pin of [test.caller.pin, ...test.steps.flatMap((s) => ('dtmf' in s ? [s.dtmf] : []))]) {
    if (pin && turns.some((t) => t.role === 'assistant' && t.content.includes(pin))) failures.push('a PIN was spoken back');
  }
  return { scenario: loaded.scenario.name, test: test.name, callId, passed: failures.length === 0, failures, outcome, tools, handoffs, durationMs: Date.now() - startedAt, path: media ? 'media' : 'recognize/play' };
}

function watchNewCalls(stack: OfflineStack, onCall: (call: EmulatedCall) => void): { stop(): void } {
  const known = new Set(stack.acs.calls.keys());
  const timer = setInterval(() => {
    for (const [id, call] of stack.acs.calls) {
      if (known.has(id)) continue;
      known.add(id);
      onCall(call);
    }
  }, 10);
  return { stop: () => clearInterval(timer) };
}

export function resultTable(results: readonly ConversationResult[]): string {
  const rows = results.map((r) => [r.passed ? 'PASS' : 'FAIL', r.scenario, r.path, r.test, r.outcome, `${(r.durationMs / 1000).toFixed(1)} s`]);
  const header = ['', 'scenario', 'path', 'conversation', 'outcome', 'time'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const [i, row] of rows.entries()) {
    out.push(line(row));
    for (const failure of results[i]!.failures) out.push(`      ✘ ${failure}`);
  }
  return out.join('\n');
}

export type ConversationPath = 'recognize/play' | 'media';

/**
 * The offline stack a scenario's conversations play on: the recognize/play path, or the media path
 * with the realtime emulator answering as the catalog's definitions do.
 */
export function startConversationStack(
  catalog: AgentCatalog,
  path: ConversationPath,
  options: { readonly env: Readonly<Record<string, string>>; readonly logger: Logger; readonly speechMsPerChar: number },
): Promise<OfflineStack> {
  return startOfflineStack({
    env: options.env,
    acs: { speechMsPerChar: options.speechMsPerChar },
    logger: options.logger,
    ...(path === 'media' ? { media: { realtime: { speechMsPerWord: 60, responder: scenarioModel(catalog, options.logger) } } } : {}),
  });
}
