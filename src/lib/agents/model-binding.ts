import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { END_CALL_TOOL, LOOKUP_PROFILE_TOOL, TRANSFER_TOOL, reasonFrom } from '../agent/tools.js';
import type { AgentInput, AgentReply, ToolCall } from '../agent/types.js';
import type { AgentCatalog, LoadedScenario } from './loader.js';
import { digitsOf, type ScenarioResponder } from './offline-responder.js';
import { AgentPrompts } from './prompts.js';
import type { AgentDefinition } from './schema.js';
import type { ToolRunner } from './tools.js';

/**
 * What a model-driven agent takes from the call's definition: the active agent's system prompt, its
 * tools in the model's shape, and how each tool call is handled. Tools that answer a question (HTTP,
 * code, `lookup_profile`) run through the shared {@link ToolRunner} and their output goes back to the
 * model; `end_call`, `transfer_to_human` and `handoff_to_<agent>` are actions on the call. A PIN turn
 * never reaches the model: the deterministic responder verifies it.
 */

export interface DefinitionBinding {
  readonly catalog: AgentCatalog;
  readonly tools: ToolRunner;
  /** Answers PIN turns (and any turn, offline). */
  readonly responder: ScenarioResponder;
}

export interface ModelTurn {
  readonly scenario: LoadedScenario;
  readonly agent: AgentDefinition;
  readonly systemPrompt: string;
  readonly tools: ChatCompletionFunctionTool[];
}

const HANDOFF_PREFIX = 'handoff_to_';

export function modelTurn(binding: DefinitionBinding, input: AgentInput): ModelTurn {
  const scenario = (input.scenario ? binding.catalog.scenario(input.scenario) : undefined) ?? binding.catalog.scenarioFor();
  const agent = scenario.agents.get(input.activeAgent ?? '') ?? scenario.agents.get(scenario.scenario.entry)!;
  const has = (name: string) => agent.tools.some((t) => t.name === name);
  const canTransfer = has('transfer_to_human') && scenario.transferTargetNumber !== undefined;
  const canLookUpProfile = has('lookup_profile');
  const tools: ChatCompletionFunctionTool[] = [];
  if (has('end_call')) tools.push(END_CALL_TOOL);
  if (canTransfer) tools.push(TRANSFER_TOOL);
  if (canLookUpProfile) tools.push(LOOKUP_PROFILE_TOOL);
  for (const tool of agent.tools) {
    if (tool.kind === 'builtin') continue;
    const parameters = tool.kind === 'http' ? tool.parameters : { type: 'object', properties: {} };
    tools.push({ type: 'function', function: { name: tool.name, description: tool.description ?? tool.name, parameters: parameters as Record<string, unknown> } });
  }
  for (const handoff of scenario.scenario.handoffs.filter((h) => h.from === agent.name && !h.whenVerified)) {
    const to = scenario.agents.get(handoff.to)!;
    tools.push({
      type: 'function',
      function: { name: `${HANDOFF_PREFIX}${handoff.to}`, description: `Hand the caller to ${to.description ?? handoff.to}`, parameters: { type: 'object', properties: {}, additionalProperties: false } },
    });
  }
  const systemPrompt = new AgentPrompts(agent, scenario.scenario).systemPrompt({ context: input.context, canTransfer, canLookUpProfile });
  return { scenario, agent, systemPrompt, tools };
}

/** A PIN turn for an agent that verifies callers: answered without the model. */
export async function answerWithoutModel(binding: DefinitionBinding, turn: ModelTurn, input: AgentInput): Promise<AgentReply | undefined> {
  if (!turn.agent.tools.some((t) => t.name === 'verify_caller') || digitsOf(input.userText) === undefined) return undefined;
  return binding.responder.respond(input);
}

export function isAction(name: string): boolean {
  return name === 'end_call' || name === 'transfer_to_human' || name.startsWith(HANDOFF_PREFIX);
}

/** An action the model asked for; the transfer number is the scenario's, never the model's. */
export function actionCall(turn: ModelTurn, call: { id: string; name: string; arguments: string }): { record: ToolCall; activeAgent?: string; announcement?: string } | undefined {
  const reason = reasonFrom(call.arguments);
  if (call.name === 'end_call') return { record: { id: call.id, name: 'end_call', reason } };
  if (call.name === 'transfer_to_human') {
    const targetNumber = turn.scenario.transferTargetNumber;
    return targetNumber ? { record: { id: call.id, name: 'transfer_to_human', reason, targetNumber } } : undefined;
  }
  const to = call.name.slice(HANDOFF_PREFIX.length);
  const handoff = turn.scenario.scenario.handoffs.find((h) => h.from === turn.agent.name && h.to === to);
  if (!handoff) return undefined;
  const next = turn.scenario.agents.get(to)!;
  const prompts = new AgentPrompts(next, turn.scenario.scenario);
  const announcement = [handoff.mode === 'announced' && handoff.announcement ? prompts.text(handoff.announcement) : '', prompts.text(next.returnGreeting ?? next.greeting.new)].filter(Boolean).join(' ');
  return { record: { id: call.id, name: 'handoff', to, mode: handoff.mode, shareContext: handoff.shareContext, reason: 'the model handed off' }, activeAgent: to, announcement };
}

/** Runs a question tool and returns what the model reads back (no ids, no numbers of the caller). */
export async function runQuestionTool(binding: DefinitionBinding, turn: ModelTurn, call: { id: string; name: string; arguments: string }, input: AgentInput): Promise<{ record: ToolCall; content: string }> {
  let args: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(call.arguments || '{}');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
  } catch {
    // Malformed arguments: the tool checks what it needs and fails with bad_arguments.
  }
  const userId = typeof input.context.userId === 'string' ? input.context.userId : undefined;
  const outcome = await binding.tools.run(call.name, args, { callId: input.callId, userId, agent: turn.agent, scenario: turn.scenario, signal: input.signal });
  const prompts = new AgentPrompts(turn.agent, turn.scenario.scenario);
  if (call.name === 'lookup_profile') {
    const found = outcome.status === 'ok' && outcome.output.found === true;
    return { record: { id: call.id, name: 'lookup_profile', found }, content: JSON.stringify(outcome.status === 'ok' ? outcome.output : { found: false }) };
  }
  const record: ToolCall = { id: call.id, name: call.name, status: outcome.status, latencyMs: outcome.latencyMs, ...(outcome.status === 'refused' ? { refused: outcome.reason } : {}) };
  if (outcome.status === 'ok') return { record, content: JSON.stringify(outcome.output).slice(0, 8_000) };
  if (outcome.status === 'refused' && outcome.reason === 'verification_required') return { record, content: JSON.stringify({ error: 'caller_not_verified', say: prompts.verificationRequired() }) };
  return { record, content: JSON.stringify({ error: outcome.status === 'failed' ? outcome.error.code : outcome.reason, say: prompts.toolFailed() }) };
}
