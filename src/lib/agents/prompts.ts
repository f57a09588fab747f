import { redact } from '../telemetry/logger.js';
import type { CallerProfile } from '../agent/types.js';
import type { AgentDefinition, Scenario } from './schema.js';

/**
 * An agent's spoken words and system prompt, from its definition: `{company}`, `{displayName}`,
 * `{purpose}` and a tool result's fields are filled in; placeholders with no value stay as written,
 * so a typo shows in a test instead of vanishing.
 */

export function fill(template: string, values: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined || value === null ? whole : typeof value === 'string' ? value : JSON.stringify(value);
  });
}

export class AgentPrompts {
  constructor(
    readonly agent: AgentDefinition,
    readonly scenario: Pick<Scenario, 'company'>,
  ) {}

  get agentName(): string {
    return this.agent.name;
  }

  /** Keypad tones recognize accepts for this agent: a PIN's length, or one key for a DTMF menu. */
  get pinDigits(): number | undefined {
    if (this.agent.tools.some((t) => t.name === 'verify_caller')) return this.agent.verification?.pinDigits;
    return this.agent.dtmf.main ? 1 : undefined;
  }

  private say(template: string, values: Readonly<Record<string, unknown>> = {}): string {
    return fill(template, { company: this.scenario.company, ...values });
  }

  greeting(profile?: CallerProfile): string {
    const g = this.agent.greeting;
    if (profile?.displayName) return this.say(g.returningNamed, { displayName: profile.displayName });
    if (profile && (profile.callCount ?? 0) > 0) return this.say(g.returning);
    return this.say(g.new);
  }

  outboundGreeting(purpose: string): string {
    return this.say(this.agent.greeting.outbound ?? this.agent.greeting.new, { purpose });
  }

  /** `attempt` counts silences so far (1 = the first); past the last prompt the last one repeats. */
  reprompt(attempt: number): string {
    const list = this.agent.prompts.reprompt;
    return this.say(list[Math.min(Math.max(attempt, 1), list.length) - 1]!);
  }

  goodbye = () => this.say(this.agent.prompts.goodbye);
  silenceGoodbye = () => this.say(this.agent.prompts.silenceGoodbye);
  hold = () => this.say(this.agent.prompts.hold);
  transferUnavailable = () => this.say(this.agent.prompts.transferUnavailable);
  transferFailed = () => this.say(this.agent.prompts.transferFailed);
  failure = () => this.say(this.agent.prompts.failure);
  notUnderstood = () => this.say(this.agent.prompts.notUnderstood);
  trouble = () => this.say(this.agent.prompts.trouble);
  toolFailed = () => this.say(this.agent.prompts.toolFailed);
  verificationRequired = () => this.say(this.agent.prompts.verificationRequired);
  text = (template: string, values: Readonly<Record<string, unknown>> = {}) => this.say(template, values);

  /** The model's system prompt: persona, instructions, the rules of the tools it has, and the call's context. */
  systemPrompt(input: { readonly context: Readonly<Record<string, unknown>>; readonly canTransfer: boolean; readonly canLookUpProfile: boolean }): string {
    const rules = [this.say(this.agent.persona), ...this.agent.instructions.map((rule) => this.say(rule)), ...toolRules(input)];
    const facts = this.agent.knowledge.map((k) => `- ${k.label}: ${k.answer}`);
    if (facts.length > 0 && this.agent.model.chat.knowledgeInPrompt) rules.push('', 'What you know:', ...facts);
    const lines = contextLines(input.context);
    if (lines.length > 0) rules.push('', 'About this call:', ...lines);
    return rules.join('\n');
  }
}

/**
 * What every agent's model is told about the built-in tools it may or may not have: one wording for
 * every agent, so a change to the rule reaches all of them.
 */
export function toolRules(input: { readonly canTransfer: boolean; readonly canLookUpProfile: boolean }): string[] {
  const rules = [
    input.canTransfer
      ? 'When the caller asks for a human, an agent or a representative, or is upset, say that you will connect them and call transfer_to_human.'
      : 'No human agents are available on this line; if asked, apologise and keep helping.',
  ];
  if (input.canLookUpProfile) rules.push("Call lookup_profile once if knowing the caller (their name, their last call) would help you; don't mention the tool.");
  return rules;
}

/** Context values as `key: value` lines; phone numbers masked, nested values as JSON, long values cut; `_` keys are internal. */
export function contextLines(context: Readonly<Record<string, unknown>>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    if (key.startsWith('_') || value === undefined || value === null || value === '') continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    lines.push(`- ${key}: ${redact(text).slice(0, 500)}`);
  }
  return lines;
}
