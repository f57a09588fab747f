import { performance } from 'node:perf_hooks';
import { misunderstandingsInARow, silencesInARow } from '../agent/turn-streaks.js';
import { AgentError, type AgentInput, type AgentReply, type ChatAgent, type ToolCall } from '../agent/types.js';
import type { AgentCatalog, LoadedScenario } from './loader.js';
import { AgentPrompts } from './prompts.js';
import type { AgentDefinition, Handoff } from './schema.js';
import type { ToolOutcome, ToolRunner } from './tools.js';
import type { CallerVerification } from './verification.js';

/**
 * The deterministic responder, driven by the call's scenario and its active agent: intents from the
 * definition's offline patterns, answers from its knowledge, its tools run through the shared
 * {@link ToolRunner}, PIN verification and handoffs. Same definition and input, same output, so any
 * agent runs offline and its scripted conversations can be checked.
 */

export interface ScenarioResponderSettings {
  readonly catalog: AgentCatalog;
  readonly tools: ToolRunner;
  readonly verification?: CallerVerification | undefined;
}

interface Decision {
  text: string;
  toolCalls: ToolCall[];
  activeAgent?: string;
}

export function normalize(text: string): string {
  return text.toLowerCase().replace(/[’`]/g, "'").replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const DIGIT_WORDS: Readonly<Record<string, string>> = { zero: '0', oh: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9' };

const PIN_FILLER = new Set(['my', 'pin', 'is', "it's", 'its', 'the', 'code', 'number', 'it', 'ok', 'okay', 'pound', 'hash']);

/**
 * A PIN the caller keyed (ACS reports tones as words: "one two three four") or spoke ("1 2 3 4",
 * "my pin is 1234"); undefined when the words are more than digits (a claim number in a sentence).
 */
export function digitsOf(text: string): string | undefined {
  const words = normalize(text).split(' ').filter((w) => w !== '');
  let digits = '';
  for (const word of words) {
    if (/^[0-9]+$/.test(word)) digits += word;
    else if (DIGIT_WORDS[word] !== undefined) digits += DIGIT_WORDS[word];
    else if (!PIN_FILLER.has(word)) return undefined;
  }
  return digits.length > 0 ? digits : undefined;
}

const matches = (patterns: readonly string[], said: string) => patterns.some((p) => new RegExp(p).test(said));

export class ScenarioResponder implements ChatAgent {
  constructor(private readonly settings: ScenarioResponderSettings) {}

  async respond(input: AgentInput): Promise<AgentReply> {
    const startedAt = performance.now();
    if (input.signal?.aborted) throw new AgentError('The reply was aborted', { code: 'aborted', retryable: false, cause: input.signal.reason });
    const scenario = this.scenarioOf(input);
    const agent = scenario.agents.get(input.activeAgent ?? '') ?? scenario.agents.get(scenario.scenario.entry)!;
    const decision = await this.decide(input, scenario, agent);
    input.onTextDelta?.(decision.text);
    const totalMs = performance.now() - startedAt;
    return {
      text: decision.text,
      toolCalls: decision.toolCalls,
      timings: { firstTokenMs: totalMs, totalMs },
      ...(decision.activeAgent && decision.activeAgent !== agent.name ? { activeAgent: decision.activeAgent } : {}),
    };
  }

  private scenarioOf(input: AgentInput): LoadedScenario {
    return (input.scenario ? this.settings.catalog.scenario(input.scenario) : undefined) ?? this.settings.catalog.scenarioFor();
  }

  private async decide(input: AgentInput, scenario: LoadedScenario, agent: AgentDefinition): Promise<Decision> {
    const prompts = new AgentPrompts(agent, scenario.scenario);
    const offline = agent.offline;
    const said = normalize(input.userText);
    const has = (tool: string) => agent.tools.some((t) => t.name === tool);

    if (said === '') {
      if (input.history.length === 0) return this.greeting(input, scenario, agent, prompts);
      return { text: prompts.reprompt(silencesInARow(input.history) + 1), toolCalls: [] };
    }
    const pin = has('verify_caller') ? digitsOf(input.userText) : undefined;
    if (pin !== undefined) return this.verify(input, scenario, agent, prompts, pin);
    const menu = agent.dtmf.main;
    const key = menu ? digitsOf(input.userText) : undefined;
    if (menu && key !== undefined) {
      const option = menu.options[key];
      if (!option) return { text: prompts.text(menu.prompt), toolCalls: [] };
      const said = option.say ? `${prompts.text(option.say)} ` : '';
      const handoff = option.handoff ? scenario.scenario.handoffs.find((h) => h.from === agent.name && h.to === option.handoff) : undefined;
      if (handoff) return this.handoff(input, scenario, handoff, `caller pressed ${key}`);
      if (option.tool === 'transfer_to_human') return this.transfer(input, scenario, agent, prompts, `caller pressed ${key}`);
      if (option.tool === 'end_call') return { text: said.trim() || prompts.goodbye(), toolCalls: [{ id: toolId(input, 'end_call'), name: 'end_call', reason: `caller pressed ${key}` }] };
      const topic = option.knowledge ? agent.knowledge.find((k) => k.id === option.knowledge) : undefined;
      if (topic) return { text: said + prompts.text(offline.answer, { label: topic.label, answer: topic.answer }), toolCalls: [] };
      return { text: said.trim() || prompts.text(menu.prompt), toolCalls: [] };
    }
    if (matches(offline.intents.human, said)) return this.transfer(input, scenario, agent, prompts, 'caller asked for a human');
    if (matches(offline.intents.goodbye, said) && has('end_call')) {
      return { text: prompts.goodbye(), toolCalls: [{ id: toolId(input, 'end_call'), name: 'end_call', reason: 'caller said goodbye' }] };
    }
    const handoff = scenario.scenario.handoffs.find((h) => h.from === agent.name && matches(h.patterns, said));
    if (handoff) return this.handoff(input, scenario, handoff, `caller asked about ${handoff.to}`);

    for (const tool of agent.tools) {
      if (tool.patterns.length === 0 || !matches(tool.patterns, said)) continue;
      const args = argumentsFrom(input.userText, tool.kind === 'http' ? Object.keys(tool.parameters.properties) : []);
      // Offline, a tool whose required arguments were not said is not the caller's intent ("file a claim").
      if (tool.kind === 'http' && (tool.parameters.required ?? []).some((name) => args[name] === undefined)) continue;
      const outcome = await this.settings.tools.run(tool.name, args, { callId: input.callId, userId: userIdOf(input), agent, scenario, signal: input.signal });
      return { text: this.sayOutcome(outcome, tool.say, prompts, args), toolCalls: [toolRecord(input, outcome)] };
    }

    const topic = agent.knowledge.find((k) => matches(k.patterns, said));
    if (topic) return { text: prompts.text(offline.answer, { label: topic.label, answer: topic.answer }), toolCalls: [] };
    if (matches(offline.intents.thanks, said)) return { text: prompts.text(offline.thanks), toolCalls: [] };
    if (matches(offline.intents.hello, said)) return { text: prompts.text(offline.hello), toolCalls: [] };

    const fallbackPrefix = offline.fallback.slice(0, offline.fallback.indexOf('{heard}'));
    const limit = offline.transferAfterMisunderstandings;
    // Not understood `limit` times in a row: a person will do better than another guess.
    if (limit > 0 && misunderstandingsInARow(input.history, fallbackPrefix) >= limit && scenario.transferTargetNumber && has('transfer_to_human')) {
      return this.transfer(input, scenario, agent, prompts, `caller not understood ${timesInWords(limit + 1)}`);
    }
    const heard = input.userText.trim().replace(/\s+/g, ' ').slice(0, 120);
    return { text: prompts.text(offline.fallback, { heard }), toolCalls: [] };
  }

  private sayOutcome(outcome: ToolOutcome, template: string | undefined, prompts: AgentPrompts, args: Record<string, unknown>): string {
    if (outcome.status === 'refused') return outcome.reason === 'verification_required' ? prompts.verificationRequired() : prompts.notUnderstood();
    if (outcome.status === 'failed') return prompts.toolFailed();
    return template ? prompts.text(template, { ...args, ...outcome.output }) : prompts.notUnderstood();
  }

  private async greeting(input: AgentInput, scenario: LoadedScenario, agent: AgentDefinition, prompts: AgentPrompts): Promise<Decision> {
    const userId = userIdOf(input);
    if (!userId || !agent.tools.some((t) => t.name === 'lookup_profile')) return { text: prompts.greeting(), toolCalls: [] };
    const outcome = await this.settings.tools.run('lookup_profile', {}, { callId: input.callId, userId, agent, scenario, signal: input.signal });
    const found = outcome.status === 'ok' && outcome.output.found === true;
    const profile = found ? { userId, displayName: outcome.output.displayName as string | undefined, callCount: outcome.output.callCount as number | undefined } : undefined;
    return { text: prompts.greeting(profile), toolCalls: [{ id: toolId(input, 'lookup_profile'), name: 'lookup_profile', found }] };
  }

  private transfer(input: AgentInput, scenario: LoadedScenario, agent: AgentDefinition, prompts: AgentPrompts, reason: string): Decision {
    const target = scenario.transferTargetNumber;
    if (!target || !agent.tools.some((t) => t.name === 'transfer_to_human')) return { text: prompts.transferUnavailable(), toolCalls: [] };
    return { text: prompts.hold(), toolCalls: [{ id: toolId(input, 'transfer_to_human'), name: 'transfer_to_human', reason, targetNumber: target }] };
  }

  private handoff(input: AgentInput, scenario: LoadedScenario, handoff: Handoff, reason: string): Decision {
    const next = scenario.agents.get(handoff.to)!;
    const nextPrompts = new AgentPrompts(next, scenario.scenario);
    const said = handoff.mode === 'announced' && handoff.announcement ? nextPrompts.text(handoff.announcement) : '';
    const opening = nextPrompts.text(next.returnGreeting ?? next.greeting.new);
    return {
      text: [said, opening].filter(Boolean).join(' '),
      toolCalls: [{ id: toolId(input, `handoff_to_${handoff.to}`), name: 'handoff', to: handoff.to, mode: handoff.mode, shareContext: handoff.shareContext, reason }],
      activeAgent: handoff.to,
    };
  }

  private async verify(input: AgentInput, scenario: LoadedScenario, agent: AgentDefinition, prompts: AgentPrompts, pin: string): Promise<Decision> {
    const settings = agent.verification!;
    const verification = this.settings.verification;
    const result = verification ? await verification.verifyPin(input.callId, userIdOf(input), pin, settings) : 'no_pin_on_file';
    const record: ToolCall = { id: toolId(input, 'verify_caller'), name: 'verify_caller', result };
    if (result === 'verified') {
      const next = scenario.scenario.handoffs.find((h) => h.from === agent.name && h.whenVerified);
      if (next) {
        const handed = this.handoff(input, scenario, next, 'caller verified');
        return { ...handed, text: `${prompts.text(settings.prompts.verified)} ${handed.text}`, toolCalls: [record, ...handed.toolCalls] };
      }
      return { text: prompts.text(settings.prompts.verified), toolCalls: [record] };
    }
    if (result === 'locked_out') {
      const transfer = this.transfer(input, scenario, agent, prompts, 'caller locked out');
      if (transfer.toolCalls.length > 0) return { text: `${prompts.text(settings.prompts.lockedOut)} ${transfer.text}`, toolCalls: [record, ...transfer.toolCalls] };
      return { text: prompts.text(settings.prompts.lockedOut), toolCalls: [record, { id: toolId(input, 'end_call'), name: 'end_call', reason: 'caller locked out' }] };
    }
    return { text: prompts.text(result === 'wrong_pin' ? settings.prompts.wrongPin : settings.prompts.noProfile), toolCalls: [record] };
  }
}

function timesInWords(n: number): string {
  return ['once', 'twice', 'three times', 'four times', 'five times', 'six times', 'seven times', 'eight times', 'nine times', 'ten times', 'eleven times'][n - 1] ?? `${n} times`;
}

function userIdOf(input: AgentInput): string | undefined {
  return typeof input.context.userId === 'string' ? input.context.userId : undefined;
}

/** Offline tool arguments: a number or code the caller said, for each parameter (the first parameter only). */
function argumentsFrom(text: string, parameters: readonly string[]): Record<string, unknown> {
  const first = parameters[0];
  if (!first) return {};
  const code = /\b([A-Za-z]{0,3}-?[0-9]{3,})\b/.exec(text)?.[1];
  return code ? { [first]: code.toUpperCase() } : {};
}

function toolRecord(input: AgentInput, outcome: ToolOutcome): ToolCall {
  return { id: toolId(input, outcome.tool), name: outcome.tool, status: outcome.status, latencyMs: outcome.latencyMs, ...(outcome.status === 'refused' ? { refused: outcome.reason } : {}) };
}

/** Deterministic tool-call ids (turn number), so transcripts of two runs compare equal. */
function toolId(input: AgentInput, name: string): string {
  return `offline-${name}-${input.history.length}`;
}
