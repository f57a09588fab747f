import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import type { ToolCallRequest } from '../agent/realtime/tools.js';
import type { JsonValue } from '../state/codec.js';
import type { AgentCatalog } from './loader.js';
import { AgentPrompts } from './prompts.js';
import { isAction, modelTurn, runQuestionTool, type DefinitionBinding } from './model-binding.js';

/**
 * The call's agent definition on the media path: the realtime session gets the active agent's
 * instructions, its HTTP and code tools (answered through the same {@link ToolRunner} policy as the
 * chat path: unknown tools refused, protected tools refused until the caller is verified) and its
 * voice. The built-ins (`end_call`, `transfer_to_human`, `lookup_profile`) stay the bridge's.
 */
export interface MediaAgentDefinition {
  instructions(context: Readonly<Record<string, JsonValue>>, tools: { canTransfer: boolean; canLookUpProfile: boolean }): string;
  readonly extraTools: readonly RealtimeFunctionTool[];
  readonly voice: string;
  /** Answers a definition tool call; undefined for a tool the bridge handles itself. */
  toolCall(call: ToolCallRequest): Promise<unknown> | undefined;
}

const BUILT_IN = new Set(['end_call', 'transfer_to_human', 'lookup_profile']);

export function mediaAgentDefinition(
  binding: Pick<DefinitionBinding, 'tools'> & { readonly catalog: AgentCatalog },
  call: { readonly callId: string; readonly scenario?: string | undefined; readonly activeAgent?: string | undefined; readonly userId?: string | undefined },
): MediaAgentDefinition {
  const input = { callId: call.callId, history: [], userText: '', context: call.userId ? { userId: call.userId } : {}, scenario: call.scenario, activeAgent: call.activeAgent };
  const turn = modelTurn({ ...binding, responder: undefined as never }, input);
  const extraTools: RealtimeFunctionTool[] = turn.tools
    .filter((t) => !BUILT_IN.has(t.function.name) && !isAction(t.function.name))
    .map(({ function: fn }) => ({ type: 'function', name: fn.name, ...(fn.description === undefined ? {} : { description: fn.description }), parameters: fn.parameters ?? { type: 'object', properties: {} } }));
  const names = new Set(extraTools.map((t) => t.name));
  return {
    extraTools,
    voice: turn.agent.voice.name,
    instructions(context, tools) {
      return [
        new AgentPrompts(turn.agent, turn.scenario.scenario).systemPrompt({ context, ...tools }),
        '',
        'You are speaking in real time. The caller may interrupt you; if they do, stop and listen, and do not repeat what you already said unless asked.',
      ].join('\n');
    },
    toolCall(request) {
      if (!names.has(request.name)) return undefined;
      return runQuestionTool({ ...binding, responder: undefined as never }, turn, { id: request.callId, name: request.name, arguments: JSON.stringify(request.args) }, input).then(({ content }) => JSON.parse(content) as unknown);
    },
  };
}
