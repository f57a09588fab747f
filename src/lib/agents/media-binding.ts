import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import type { ToolCallRequest } from '../agent/realtime/tools.js';
import type { AgentReply, ToolCall } from '../agent/types.js';
import type { JsonValue } from '../state/index.js';
import type { FixedPrompts } from './call-core.js';
import type { AgentCatalog } from './loader.js';
import { AgentPrompts } from './prompts.js';
import { actionCall, isAction, modelTurn, runQuestionTool, type DefinitionBinding, type ModelTurn } from './model-binding.js';

/**
 * The call's agent definition on the media path: the realtime session gets the active agent's
 * instructions, its HTTP and code tools and its handoffs (answered through the same
 * {@link ToolRunner} policy as the chat path: unknown tools refused, protected tools refused until the
 * caller is verified) and its voice; the relay speaks its fixed prompts. Keyed PINs never reach the
 * model: the deterministic responder verifies them, as on the chat path. The built-ins (`end_call`,
 * `transfer_to_human`, `lookup_profile`) stay the bridge's.
 */
export interface MediaAgentDefinition {
  /** The agent's name in its scenario. */
  readonly agentName: string;
  instructions(context: Readonly<Record<string, JsonValue>>, tools: { canTransfer: boolean; canLookUpProfile: boolean }): string;
  /** Its HTTP and code tools and its `handoff_to_<agent>` tools. */
  readonly extraTools: readonly RealtimeFunctionTool[];
  readonly voice: string;
  /** Its fixed prompts, in its words. */
  readonly prompts: FixedPrompts;
  /** The scenario's transfer number (its setting, resolved at load). */
  readonly transferTargetNumber: string | undefined;
  /** Keypad tones that make one entry for this agent: a PIN's length, or one key of a DTMF menu; undefined when it takes none. */
  readonly keypadDigits: number | undefined;
  /**
   * Answers a definition tool call: the model's output, and the record kept in the transcript (names,
   * status and latency only). Undefined for a tool the bridge handles itself.
   */
  toolCall(call: ToolCallRequest): Promise<{ readonly output: unknown; readonly record: ToolCall }> | undefined;
  /** A `handoff_to_<agent>` the model asked for, as the reply the call core acts on; undefined for any other tool. */
  handoff(call: ToolCallRequest): AgentReply | undefined;
  /**
   * Keys pressed on the phone, answered by the deterministic responder as on the recognize/play path:
   * a PIN is verified (attempts, lockout, audit in Redis), a menu key picks its option.
   */
  keypad(digits: string): Promise<AgentReply>;
  /** The definition of another agent of the same scenario (after a handoff). */
  forAgent(agentName: string): MediaAgentDefinition;
  /** Whether the scenario's handoff to `agentName` shares the call's context (true when none says otherwise). */
  sharesContextWith(agentName: string): boolean;
}

const BUILT_IN = new Set(['end_call', 'transfer_to_human', 'lookup_profile']);

export interface MediaCall {
  readonly callId: string;
  readonly scenario?: string | undefined;
  readonly activeAgent?: string | undefined;
  readonly userId?: string | undefined;
}

export function mediaAgentDefinition(binding: DefinitionBinding & { readonly catalog: AgentCatalog }, call: MediaCall): MediaAgentDefinition {
  const input = { callId: call.callId, history: [], userText: '', context: call.userId ? { userId: call.userId } : {}, scenario: call.scenario, activeAgent: call.activeAgent };
  const turn = modelTurn(binding, input);
  const extraTools: RealtimeFunctionTool[] = turn.tools
    .filter((t) => !BUILT_IN.has(t.function.name) && (!isAction(t.function.name) || t.function.name.startsWith('handoff_to_')))
    .map(({ function: fn }) => ({ type: 'function', name: fn.name, ...(fn.description === undefined ? {} : { description: fn.description }), parameters: fn.parameters ?? { type: 'object', properties: {} } }));
  const questions = new Set(extraTools.flatMap((t) => (t.name && !isAction(t.name) ? [t.name] : [])));
  const prompts = new AgentPrompts(turn.agent, turn.scenario.scenario);
  return {
    agentName: turn.agent.name,
    extraTools,
    voice: turn.agent.voice.name,
    prompts,
    transferTargetNumber: turn.scenario.transferTargetNumber,
    keypadDigits: prompts.pinDigits,
    instructions(context, tools) {
      return [
        prompts.systemPrompt({ context, ...tools }),
        '',
        'You are speaking in real time. The caller may interrupt you; if they do, stop and listen, and do not repeat what you already said unless asked.',
        'When a tool result has a "say", say those words to the caller.',
      ].join('\n');
    },
    toolCall(request) {
      if (!questions.has(request.name)) return undefined;
      return runQuestionTool(binding, turn, wireCall(request), input).then(({ content, record }) => ({ output: withWording(turn, request, JSON.parse(content) as unknown, record), record }));
    },
    handoff(request) {
      if (!request.name.startsWith('handoff_to_')) return undefined;
      const action = actionCall(turn, wireCall(request));
      if (!action?.activeAgent) return undefined;
      return { text: action.announcement ?? '', toolCalls: [action.record], timings: { totalMs: 0 }, activeAgent: action.activeAgent };
    },
    keypad(digits) {
      return binding.responder.respond({ ...input, userText: digits });
    },
    forAgent(agentName) {
      return mediaAgentDefinition(binding, { ...call, activeAgent: agentName });
    },
    sharesContextWith(agentName) {
      return turn.scenario.scenario.handoffs.find((h) => h.from === turn.agent.name && h.to === agentName)?.shareContext ?? true;
    },
  };
}

function wireCall(request: ToolCallRequest): { id: string; name: string; arguments: string } {
  return { id: request.callId, name: request.name, arguments: JSON.stringify(request.args) };
}

/**
 * A tool that answered, with the wording its definition gives (`say:` with the result's fields), so a
 * model on a phone line says what the definition means it to; refusals and failures carry theirs already.
 */
function withWording(turn: ModelTurn, request: ToolCallRequest, output: unknown, record: ToolCall): unknown {
  if (!('status' in record) || record.status !== 'ok' || output === null || typeof output !== 'object') return output;
  const tool = turn.agent.tools.find((t) => t.name === request.name);
  const template = tool && 'say' in tool ? tool.say : undefined;
  if (!template) return output;
  return { ...output, say: new AgentPrompts(turn.agent, turn.scenario.scenario).text(template, { ...request.args, ...output }) };
}
