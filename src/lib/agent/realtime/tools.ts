/**
 * The chat agent's tools (`end_call`, `transfer_to_human`, `lookup_profile`) in the realtime API's
 * shape, and a dispatcher over injected implementations.
 */

import type { RealtimeFunctionTool } from 'openai/resources/realtime/realtime';
import { toolsFor, type ToolAvailability, type ToolName, isToolName } from '../tools.js';

/** The same tool set as the chat agent, flattened to the realtime `{type, name, description, parameters}`. */
export function realtimeToolsFor(availability: ToolAvailability): RealtimeFunctionTool[] {
  return toolsFor(availability).map(({ function: fn }) => ({
    type: 'function',
    name: fn.name,
    ...(fn.description === undefined ? {} : { description: fn.description }),
    parameters: fn.parameters,
  }));
}

export type ToolCallRequest = {
  readonly name: string;
  /** Parsed JSON arguments (an empty object when the model sent none or malformed ones). */
  readonly args: Record<string, unknown>;
  readonly callId: string;
  readonly responseId: string;
};

/**
 * A tool output the model receives without being asked to speak again: return it from `onToolCall`
 * when the caller hears something else instead (the media relay plays the fixed hold prompt before a
 * transfer and the fixed goodbye prompt before hanging up, so a spoken reply from the model would be a
 * second "please hold" or "goodbye").
 */
export class SilentToolOutput {
  constructor(readonly output: unknown) {}
}

/** Injected implementations; the result goes back to the model as the function output (JSON). */
export type ToolImplementations = Partial<Record<ToolName, (args: Record<string, unknown>, call: ToolCallRequest) => unknown>>;

/** Builds an `onToolCall` handler from implementations; an unknown tool answers with an error output. */
export function dispatchTools(implementations: ToolImplementations): (call: ToolCallRequest) => Promise<unknown> {
  return async (call) => {
    const implementation = isToolName(call.name) ? implementations[call.name] : undefined;
    if (implementation === undefined) return { error: `unknown tool ${call.name}` };
    return implementation(call.args, call);
  };
}

export function parseToolArguments(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json || '{}');
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
