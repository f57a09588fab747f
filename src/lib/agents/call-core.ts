import type { AgentReply, CallerProfile } from '../agent/types.js';
import type { JsonValue } from '../state/index.js';
import * as builtIn from './built-in.js';
import type { AgentCatalog } from './loader.js';
import { AgentPrompts } from './prompts.js';

/**
 * The call core both paths share: what to do after the agent's reply (`nextStep`), the fixed prompts
 * of the call's active agent, what a reply leaves in the transcript (`replyMeta`), and the
 * `CallActions` port an adapter fulfils (ACS recognize/play on the callback path, the relay on the
 * media path). The policy (a transfer wins over a hang-up, a hang-up over a handoff) lives here once.
 */

export type NextStep =
  | { readonly kind: 'listen'; readonly say: string }
  | { readonly kind: 'hang_up'; readonly say: string }
  | { readonly kind: 'transfer'; readonly say: string; readonly targetNumber: string }
  /** The next agent answers from the next turn; the caller hears `say` (the announcement, or its opening) and is listened to. */
  | { readonly kind: 'hand_off'; readonly say: string; readonly to: string };

export interface CallActions {
  /** Says `text`, then listens for the caller. */
  listen(text: string): Promise<void>;
  /** Says `text`, then hangs up once it was heard. */
  sayAndHangUp(text: string): Promise<void>;
  /** Says `text`, then transfers to `targetNumber` once it was heard. */
  sayAndTransfer(text: string, targetNumber: string): Promise<void>;
  /** Agent `to` takes the call over (its instructions, tools and voice); the caller hears `text` and is listened to. */
  handOff(text: string, to: string): Promise<void>;
}

export function nextStep(reply: AgentReply, prompts: Pick<FixedPrompts, 'hold' | 'goodbye'>): NextStep {
  const transfer = reply.toolCalls.find((t) => t.name === 'transfer_to_human');
  const targetNumber = transfer && 'targetNumber' in transfer ? transfer.targetNumber : undefined;
  if (targetNumber) return { kind: 'transfer', say: reply.text.trim() || prompts.hold(), targetNumber };
  if (reply.toolCalls.some((t) => t.name === 'end_call')) return { kind: 'hang_up', say: reply.text || prompts.goodbye() };
  if (reply.activeAgent) return { kind: 'hand_off', say: reply.text, to: reply.activeAgent };
  return { kind: 'listen', say: reply.text };
}

export async function perform(step: NextStep, actions: CallActions): Promise<void> {
  if (step.kind === 'transfer') return actions.sayAndTransfer(step.say, step.targetNumber);
  if (step.kind === 'hang_up') return actions.sayAndHangUp(step.say);
  if (step.kind === 'hand_off') return actions.handOff(step.say, step.to);
  return actions.listen(step.say);
}

/** What the transcript keeps of a caller's turn that was a PIN (never the digits). */
export const PIN_REDACTED = '(a PIN, entered on the keypad)';

/**
 * What an agent reply leaves on its transcript turn, on both paths: the tools it used, the latency of
 * the definition tools that ran and which were refused or failed (names only: arguments and results
 * stay out of the transcript), who answered (analytics per agent) and to whom the call was handed.
 */
export function replyMeta(reply: Pick<AgentReply, 'toolCalls' | 'activeAgent'>, agentName: string | undefined): Record<string, JsonValue> {
  const runs = reply.toolCalls.filter((t): t is Extract<typeof t, { latencyMs: number }> => 'latencyMs' in t);
  const refused = runs.filter((t) => t.status === 'refused').map((t) => t.name);
  const failed = runs.filter((t) => t.status === 'failed').map((t) => t.name);
  return {
    ...(reply.toolCalls.length > 0 ? { tools: reply.toolCalls.map((t) => t.name) } : {}),
    ...(runs.length > 0 ? { toolMs: Object.fromEntries(runs.map((t) => [t.name, t.latencyMs])) } : {}),
    ...(refused.length > 0 ? { refusedTools: refused } : {}),
    ...(failed.length > 0 ? { failedTools: failed } : {}),
    ...(agentName ? { agent: agentName } : {}),
    ...(reply.activeAgent ? { handoffTo: reply.activeAgent } : {}),
  };
}

/** The fixed prompts of a call, spoken without asking a model. */
export interface FixedPrompts {
  greeting(profile?: CallerProfile): string;
  outboundGreeting(purpose: string): string;
  reprompt(attempt: number): string;
  goodbye(): string;
  silenceGoodbye(): string;
  hold(): string;
  transferFailed(): string;
  failure(): string;
  trouble(): string;
  /** The agent's name in its scenario (none for the built-in prompts). */
  readonly agentName?: string | undefined;
  /** Set when the agent takes a PIN: recognize then accepts this many keypad tones as well as speech. */
  readonly pinDigits?: number | undefined;
}

/** The prompts that were built in before agents were definitions; used when no definitions are loaded. */
export const BUILT_IN_PROMPTS: FixedPrompts = {
  greeting: builtIn.greetingPrompt,
  outboundGreeting: builtIn.outboundGreetingPrompt,
  reprompt: builtIn.repromptPrompt,
  goodbye: builtIn.goodbyePrompt,
  silenceGoodbye: builtIn.silenceGoodbyePrompt,
  hold: builtIn.transferHoldPrompt,
  transferFailed: builtIn.transferFailedPrompt,
  failure: builtIn.failurePrompt,
  trouble: builtIn.troublePrompt,
};

/** The fixed prompts of the call's active agent (the scenario's entry before any handoff). */
export function fixedPromptsFor(catalog: AgentCatalog | undefined, scenarioName: string | undefined, activeAgent: string | undefined): FixedPrompts {
  if (!catalog) return BUILT_IN_PROMPTS;
  const scenario = (scenarioName ? catalog.scenario(scenarioName) : undefined) ?? catalog.scenarioFor();
  const agent = scenario.agents.get(activeAgent ?? '') ?? scenario.agents.get(scenario.scenario.entry)!;
  return new AgentPrompts(agent, scenario.scenario);
}

/** The transfer number of the call's scenario (its setting, resolved at load), or the app's. */
export function transferTargetFor(catalog: AgentCatalog | undefined, scenarioName: string | undefined, fallback: string | undefined): string | undefined {
  if (!catalog) return fallback;
  return ((scenarioName ? catalog.scenario(scenarioName) : undefined) ?? catalog.scenarioFor()).transferTargetNumber;
}
