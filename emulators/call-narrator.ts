/**
 * What the demo and `npm run dev` print while a call runs (the caller's words, the agent's prompts
 * with their latency, transfers and hang-ups) and once it is archived.
 */
import type { EmulatedCall } from './acs/index.js';
import { DEMO_TRANSFER_NUMBER, type OfflineStack } from './offline-stack.js';
import { maskPhoneNumber } from '../src/lib/telemetry/logger.js';

export const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
export const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

export interface CallResult {
  readonly title: string;
  readonly callId: string;
  readonly archived: boolean;
  readonly turns: number;
  readonly outcome: string;
}

/** Prints what crosses the wire of one call as it happens: the agent's prompts and the caller's words. */
export function narrate(stack: Pick<OfflineStack, 'acs'>, known: Set<string>, print: (line: string) => void = console.log): { stop(): void } {
  const started = new Map<string, number>();
  let lastCallerAtMs: number | undefined;
  const attach = (call: EmulatedCall) => {
    started.set(call.callConnectionId, call.createdAtMs);
    const at = (ms: number) => dim(`[${((ms - call.createdAtMs) / 1000).toFixed(1).padStart(5)}s]`);
    const onRequest = (record: { atMs: number; operation: string; body: unknown }) => {
      const text = promptText(record.body);
      // The operation names the ACS emulator records (emulators/acs/rest.ts), after the REST paths.
      if (record.operation === 'transferToParticipant') {
        print(`  ${at(record.atMs)} ${bold('system:')} transfer to ${maskPhoneNumber(DEMO_TRANSFER_NUMBER)}`);
      } else if (record.operation === 'terminateCall' || record.operation === 'hangupCall') {
        print(`  ${at(record.atMs)} ${bold('system:')} the agent hangs up`);
      }
      if (!text) return;
      const latency = lastCallerAtMs === undefined ? '' : dim(`  (${Math.round(record.atMs - lastCallerAtMs)} ms after the caller)`);
      lastCallerAtMs = undefined;
      print(`  ${at(record.atMs)} ${bold('agent: ')} ${text}${latency}`);
    };
    const onEvent = (sent: { type: string; queuedAtMs: number; event: { data: Record<string, unknown> } }) => {
      if (sent.type === 'RecognizeCompleted') {
        const speech = (sent.event.data.speechResult as { speech?: string } | undefined)?.speech;
        lastCallerAtMs = sent.queuedAtMs;
        print(`  ${at(sent.queuedAtMs)} ${bold('caller:')} ${speech ?? '(tones)'}`);
      } else if (sent.type === 'RecognizeFailed') {
        lastCallerAtMs = sent.queuedAtMs;
        print(`  ${at(sent.queuedAtMs)} ${bold('caller:')} ${dim('(silence)')}`);
      }
    };
    for (const r of call.requests) onRequest(r);
    call.on('request', onRequest);
    call.on('event', onEvent);
  };
  const timer = setInterval(() => {
    for (const call of stack.acs.calls.values()) {
      if (known.has(call.callConnectionId)) continue;
      known.add(call.callConnectionId);
      attach(call);
    }
  }, 10);
  return { stop: () => clearInterval(timer) };
}

function promptText(body: unknown): string | undefined {
  const b = body as { playPrompt?: { text?: { text?: string } }; playSources?: { text?: { text?: string } }[]; recognizeOptions?: unknown } | undefined;
  return b?.playPrompt?.text?.text ?? b?.playSources?.[0]?.text?.text;
}

export async function archivedResult(stack: OfflineStack, title: string, callId: string, callConnectionId: string | undefined, print: (line: string) => void = console.log): Promise<CallResult> {
  if (!callConnectionId) return { title, callId, archived: false, turns: 0, outcome: 'unanswered' };
  const status = await stack.host.durable.waitForCompletion(callConnectionId, { timeoutMs: 30_000 });
  const archive = await stack.runtime.archive();
  const transcript = await archive.transcripts.read(callId);
  const audit = await archive.audit.list(callId);
  const day = transcript?.header.startedAt.slice(0, 10);
  const analytics = day ? await archive.analytics.get(callId, day) : undefined;
  print(dim(`  lifecycle ${status.runtimeStatus}; transcript: ${transcript ? `${transcript.header.turnCount} turns in ${transcript.header.pageCount} page(s), outcome ${transcript.header.outcome}` : 'NOT ARCHIVED'}`));
  if (analytics) {
    const turn = analytics.latency.turn;
    print(dim(`  analytics (${analytics.day}): ${(analytics.durationMs / 1000).toFixed(1)} s, ${analytics.turns} turns${turn ? `, agent turn p50 ${turn.p50Ms} ms / p99 ${turn.p99Ms} ms` : ''}`));
  }
  print(dim(`  audit: ${audit.map((a) => a.action).join(', ') || '—'}`));
  if (transcript?.header.summary) print(dim(`  summary: ${transcript.header.summary}`));
  const archived = Boolean(transcript && analytics) && status.runtimeStatus === 'Completed';
  return { title, callId, archived, turns: transcript?.header.turnCount ?? 0, outcome: transcript?.header.outcome ?? 'not archived' };
}

