/**
 * A realtime emulator responder that behaves like the agent definitions of a catalog, so a scenario's
 * scripted conversations play on the media path without a model: the session's instructions name the
 * agent speaking (its persona), the definition-driven offline responder decides what that agent
 * does with the caller's words, and the decision is answered the way a model would answer — a tool
 * call the relay runs (a definition tool, `end_call`, `transfer_to_human`, `handoff_to_<agent>`), or
 * words. After a tool output it says the output's `say`; asked to say exact words, it says them.
 */

import type { Turn } from '../../src/lib/agent/types.js';
import { AgentPrompts, ScenarioResponder, ToolRunner, type AgentCatalog, type ToolCallContext, type ToolOutcome } from '../../src/lib/agents/index.js';
import type { AgentDefinition } from '../../src/lib/agents/schema.js';
import type { LoadedScenario } from '../../src/lib/agents/loader.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { defaultResponder, type Responder, type ResponderReply } from './responder.js';

/** Thrown by the responder's tool runner: the model asks for the tool instead of running it. */
class ToolRequested extends Error {
  constructor(
    readonly tool: string,
    readonly args: Record<string, unknown>,
  ) {
    super(`the model calls ${tool}`);
    this.name = 'ToolRequested';
  }
}

/** A tool runner that never runs a tool: the relay does, through its own runner, when the model calls it. */
class RequestingToolRunner extends ToolRunner {
  override run(name: string, args: Readonly<Record<string, unknown>>, _context: ToolCallContext): Promise<ToolOutcome> {
    return Promise.reject(new ToolRequested(name, { ...args }));
  }
}

const SAY_EXACTLY = /^Say exactly this to the caller, and nothing else: "([\s\S]*)"$/;

export function scenarioModel(catalog: AgentCatalog, logger: Logger): Responder {
  const responder = new ScenarioResponder({ catalog, tools: new RequestingToolRunner({ logger }) });
  const histories = new Map<string, Turn[]>();
  const personas = [...catalog.scenarios.values()].flatMap((loaded) =>
    [...loaded.agents.values()].map((agent) => ({ loaded, agent, persona: new AgentPrompts(agent, loaded.scenario).text(agent.persona) })),
  );
  /** The agent whose persona opens the session's instructions (the longest match, when one persona contains another). */
  const speaking = (instructions: string): { loaded: LoadedScenario; agent: AgentDefinition } | undefined =>
    personas.filter((p) => instructions.includes(p.persona)).sort((a, b) => b.persona.length - a.persona.length)[0];

  return async (input) => {
    const exact = input.responseInstructions === undefined ? null : SAY_EXACTLY.exec(input.responseInstructions);
    if (exact) return { text: exact[1]! };
    const who = speaking(input.instructions);
    if (!who) return defaultResponder(input);
    const lastTool = input.toolOutputs.at(-1);
    if (lastTool) return afterTool(lastTool.output);
    const prompts = new AgentPrompts(who.agent, who.loaded.scenario);
    if (input.userText === '') return { text: prompts.greeting() };

    const history = histories.get(input.sessionId) ?? [];
    histories.set(input.sessionId, history);
    const base = { callId: input.sessionId, history: [...history], userText: input.userText, context: {}, scenario: who.loaded.scenario.name, activeAgent: who.agent.name };
    let reply: ResponderReply;
    try {
      const decided = await responder.respond(base);
      const action = decided.toolCalls.find((t) => t.name === 'end_call' || t.name === 'transfer_to_human' || t.name === 'handoff');
      if (action?.name === 'handoff' && 'to' in action) reply = { toolCall: { name: `handoff_to_${action.to}`, arguments: {} } };
      else if (action) reply = { toolCall: { name: action.name, arguments: { reason: 'reason' in action ? action.reason : '' } } };
      else reply = { text: decided.text };
    } catch (error) {
      if (!(error instanceof ToolRequested)) throw error;
      reply = { toolCall: { name: error.tool, arguments: error.args } };
    }
    history.push({ role: 'user', text: input.userText }, { role: 'assistant', text: 'text' in reply ? reply.text : '' });
    return reply;
  };
}

/** What a model says with a tool's output: the wording the definition gave it, else a short acknowledgement. */
function afterTool(output: string): ResponderReply {
  try {
    const parsed: unknown = JSON.parse(output);
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { say?: unknown }).say === 'string') return { text: (parsed as { say: string }).say };
  } catch {
    // Not JSON: acknowledged like any other output.
  }
  return { text: 'Thanks, I found your details.' };
}
