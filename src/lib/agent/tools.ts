import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';

/**
 * The tools the chat model may call. The transfer target is deliberately not a parameter: the number
 * comes from configuration, so a prompt-injected caller cannot redirect the call.
 */

export const TOOL_NAMES = ['end_call', 'transfer_to_human', 'lookup_profile'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const reasonParameters = {
  type: 'object',
  properties: { reason: { type: 'string', description: 'Why, in a few words (for the call record).' } },
  required: ['reason'],
  additionalProperties: false,
} as const;

export const END_CALL_TOOL: ChatCompletionFunctionTool = {
  type: 'function',
  function: { name: 'end_call', description: 'Hang up after your reply has been spoken.', parameters: reasonParameters, strict: true },
};

export const TRANSFER_TOOL: ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'transfer_to_human',
    description: 'Transfer the caller to a human agent after your reply has been spoken.',
    parameters: reasonParameters,
    strict: true,
  },
};

export const LOOKUP_PROFILE_TOOL: ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'lookup_profile',
    description: "Look up the caller's profile (name, previous calls). Takes no arguments: the caller is identified by the call.",
    parameters: { type: 'object', properties: {}, additionalProperties: false },
    strict: true,
  },
};

export interface ToolAvailability {
  readonly canTransfer: boolean;
  readonly canLookUpProfile: boolean;
}

export function toolsFor(availability: ToolAvailability): ChatCompletionFunctionTool[] {
  const tools = [END_CALL_TOOL];
  if (availability.canTransfer) tools.push(TRANSFER_TOOL);
  if (availability.canLookUpProfile) tools.push(LOOKUP_PROFILE_TOOL);
  return tools;
}

const ReasonArguments = z.object({ reason: z.string().max(500).optional() });

/** Default bound on a tool call's arguments (`LIMIT_TOOL_ARGUMENTS_CHARS`). */
export const MAX_TOOL_ARGUMENTS_CHARS = 4_096;

/**
 * The `reason` of end_call / transfer_to_human; malformed arguments still count as the call itself,
 * and so do arguments longer than `maxChars`, which are not parsed at all.
 */
export function reasonFrom(argumentsJson: string, maxChars = MAX_TOOL_ARGUMENTS_CHARS): string {
  if (argumentsJson.length > maxChars) return 'unspecified';
  try {
    const parsed = ReasonArguments.safeParse(JSON.parse(argumentsJson || '{}'));
    return parsed.success ? (parsed.data.reason ?? 'unspecified') : 'unspecified';
  } catch {
    return 'unspecified';
  }
}

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}
