import { performance } from 'node:perf_hooks';
import { APIConnectionTimeoutError, APIError, APIUserAbortError, AzureOpenAI } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { goodbyePrompt, notUnderstoodPrompt, systemPrompt, transferHoldPrompt } from '../agents/built-in.js';
import { isToolName, MAX_TOOL_ARGUMENTS_CHARS, reasonFrom, toolsFor } from './tools.js';
import { AgentPrompts } from '../agents/prompts.js';
import { actionCall, answerWithoutModel, isAction, modelTurn, runQuestionTool, type DefinitionBinding, type ModelTurn } from '../agents/model-binding.js';
import { AgentError, type AgentInput, type AgentReply, type ChatAgent, type ProfileLookup, type TokenUsage, type ToolCall } from './types.js';

/**
 * The chat agent on Azure OpenAI chat completions (streaming, with tools), through the `openai`
 * package's Azure client: key auth locally, Entra ID (managed identity) in the cloud.
 */

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

export interface AzureOpenAIChatAgentSettings {
  readonly endpoint: string;
  readonly deployment: string;
  readonly apiVersion: string;
  /** Key auth (local runs). Exactly one of apiKey / tokenProvider. */
  readonly apiKey?: string | undefined;
  /** Entra ID: `getBearerTokenProvider(new DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE)`. */
  readonly tokenProvider?: (() => Promise<string>) | undefined;
  /** Where `transfer_to_human` sends the caller; without it the tool is not offered. */
  readonly transferTargetNumber?: string | undefined;
  readonly lookupProfile?: ProfileLookup | undefined;
  /** Tool-call arguments longer than this are not accumulated or parsed (the call still counts). @default 4096 */
  readonly maxToolArgumentsChars?: number;
  /** One model request; a phone caller is waiting. @default 8000 */
  readonly requestTimeoutMs?: number;
  /** Retries inside one request (429/5xx/connection) by the SDK. @default 1 */
  readonly maxRetries?: number;
  /** Replies are spoken, so they are short. @default 300 */
  readonly maxOutputTokens?: number;
  /** @default 0.4 */
  readonly temperature?: number;
  /** The agent definitions: the active agent's prompt and tools replace the built-in ones. */
  readonly definitions?: DefinitionBinding | undefined;
}

/** At most one lookup round trip, then the model must answer. */
const MAX_MODEL_ROUNDS = 2;
/** With definitions: up to two tool round trips (a profile, then a claim), then the model must answer. */
const MAX_DEFINITION_ROUNDS = 3;

interface StreamedToolCall {
  id: string;
  name: string;
  arguments: string;
}

interface RoundResult {
  text: string;
  toolCalls: StreamedToolCall[];
  usage: TokenUsage | undefined;
}

export class AzureOpenAIChatAgent implements ChatAgent {
  private readonly client: AzureOpenAI;

  constructor(private readonly settings: AzureOpenAIChatAgentSettings) {
    if (!settings.apiKey === !settings.tokenProvider) {
      throw new AgentError('Azure OpenAI needs exactly one of an API key or a token provider', { code: 'config', retryable: false });
    }
    this.client = new AzureOpenAI({
      endpoint: settings.endpoint,
      deployment: settings.deployment,
      apiVersion: settings.apiVersion,
      ...(settings.apiKey ? { apiKey: settings.apiKey } : { azureADTokenProvider: settings.tokenProvider }),
      timeout: settings.requestTimeoutMs ?? 8_000,
      maxRetries: settings.maxRetries ?? 1,
    });
  }

  async respond(input: AgentInput): Promise<AgentReply> {
    if (this.settings.definitions) return this.respondByDefinition(this.settings.definitions, input);
    const startedAt = performance.now();
    let firstTokenMs: number | undefined;
    const availability = { canTransfer: Boolean(this.settings.transferTargetNumber), canLookUpProfile: Boolean(this.settings.lookupProfile) };
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: systemPrompt({ context: input.context, ...availability }) },
      ...input.history.map((t): ChatCompletionMessageParam => ({ role: t.role, content: t.text })),
      // Silence reaches the model as a marker rather than an empty message it would misread.
      { role: 'user', content: input.userText.trim() || '(the caller said nothing)' },
    ];
    const tools = toolsFor(availability);
    const reported: ToolCall[] = [];
    let usage: TokenUsage | undefined;
    let text = '';

    for (let round = 1; round <= MAX_MODEL_ROUNDS; round += 1) {
      const lastRound = round === MAX_MODEL_ROUNDS;
      const result = await this.streamRound(messages, lastRound ? tools.filter((t) => t.function.name !== 'lookup_profile') : tools, input, () => {
        firstTokenMs ??= performance.now() - startedAt;
      });
      usage = addUsage(usage, result.usage);
      text += result.text;

      const lookups = result.toolCalls.filter((c) => c.name === 'lookup_profile');
      const actions = result.toolCalls.filter((c) => c.name !== 'lookup_profile');
      reported.push(...this.actionCalls(actions));
      if (lookups.length === 0 || lastRound || reported.length > 0) break;

      // Run the lookup here and give the model its answer; the model's own text so far stays.
      messages.push({
        role: 'assistant',
        content: result.text || null,
        tool_calls: lookups.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } })),
      });
      for (const call of lookups) {
        const { found, content } = await this.lookup(input);
        reported.push({ id: call.id, name: 'lookup_profile', found });
        messages.push({ role: 'tool', tool_call_id: call.id, content });
      }
    }

    return {
      text: text.trim() || fallbackText(reported),
      toolCalls: reported,
      ...(usage ? { usage } : {}),
      timings: { ...(firstTokenMs === undefined ? {} : { firstTokenMs }), totalMs: performance.now() - startedAt },
    };
  }

  /** The definition's agent: its prompt and tools; question tools run between rounds, actions end the turn. */
  private async respondByDefinition(binding: DefinitionBinding, input: AgentInput): Promise<AgentReply> {
    const startedAt = performance.now();
    const turn: ModelTurn = modelTurn(binding, input);
    const direct = await answerWithoutModel(binding, turn, input);
    if (direct) return direct;
    let firstTokenMs: number | undefined;
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: turn.systemPrompt },
      ...input.history.map((t): ChatCompletionMessageParam => ({ role: t.role, content: t.text })),
      { role: 'user', content: input.userText.trim() || '(the caller said nothing)' },
    ];
    const reported: ToolCall[] = [];
    let usage: TokenUsage | undefined;
    let text = '';
    let activeAgent: string | undefined;
    let announcement: string | undefined;
    const known = new Set(turn.tools.map((t) => t.function.name));
    for (let round = 1; round <= MAX_DEFINITION_ROUNDS; round += 1) {
      const lastRound = round === MAX_DEFINITION_ROUNDS;
      const offered = lastRound ? turn.tools.filter((t) => isAction(t.function.name)) : turn.tools;
      const result = await this.streamRound(messages, offered, input, () => {
        firstTokenMs ??= performance.now() - startedAt;
      }, known);
      usage = addUsage(usage, result.usage);
      text += result.text;
      const questions = result.toolCalls.filter((c) => !isAction(c.name));
      for (const call of result.toolCalls.filter((c) => isAction(c.name))) {
        const action = actionCall(turn, call);
        if (!action) continue;
        reported.push(action.record);
        activeAgent ??= action.activeAgent;
        announcement ??= action.announcement;
      }
      if (questions.length === 0 || lastRound || reported.some((r) => isAction(r.name) || r.name === 'handoff')) break;
      messages.push({
        role: 'assistant',
        content: result.text || null,
        tool_calls: questions.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } })),
      });
      for (const call of questions) {
        const { record, content } = await runQuestionTool(binding, turn, call, input);
        reported.push(record);
        messages.push({ role: 'tool', tool_call_id: call.id, content });
      }
    }
    const prompts = new AgentPrompts(turn.agent, turn.scenario.scenario);
    const spoken = [text.trim(), announcement ?? ''].filter(Boolean).join(' ');
    return {
      text: spoken || (reported.some((c) => c.name === 'transfer_to_human') ? prompts.hold() : reported.some((c) => c.name === 'end_call') ? prompts.goodbye() : prompts.notUnderstood()),
      toolCalls: reported,
      ...(usage ? { usage } : {}),
      ...(activeAgent ? { activeAgent } : {}),
      timings: { ...(firstTokenMs === undefined ? {} : { firstTokenMs }), totalMs: performance.now() - startedAt },
    };
  }

  private async streamRound(
    messages: ChatCompletionMessageParam[],
    tools: ReturnType<typeof toolsFor>,
    input: AgentInput,
    onFirstToken: () => void,
    definitionTools?: ReadonlySet<string>,
  ): Promise<RoundResult> {
    const calls = new Map<number, StreamedToolCall>();
    let text = '';
    let usage: TokenUsage | undefined;
    try {
      const stream = await this.client.chat.completions.create(
        {
          model: this.settings.deployment,
          messages,
          tools,
          tool_choice: 'auto',
          parallel_tool_calls: false,
          stream: true,
          stream_options: { include_usage: true },
          max_completion_tokens: this.settings.maxOutputTokens ?? 300,
          temperature: this.settings.temperature ?? 0.4,
          user: input.callId,
        },
        { signal: input.signal },
      );
      for await (const chunk of stream) {
        if (chunk.usage) {
          usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens, totalTokens: chunk.usage.total_tokens };
        }
        // Azure sends a first chunk with no choices (prompt filter results); skip it.
        const delta = chunk.choices[0]?.delta;
        if (!delta) continue;
        if (delta.content) {
          onFirstToken();
          text += delta.content;
          input.onTextDelta?.(delta.content);
        }
        for (const part of delta.tool_calls ?? []) {
          onFirstToken();
          const call = calls.get(part.index) ?? { id: '', name: '', arguments: '' };
          if (part.id) call.id = part.id;
          if (part.function?.name) call.name += part.function.name;
          // Bounded: a runaway model must not grow a string without end; an overlong call keeps no arguments.
          if (part.function?.arguments && call.arguments.length <= (this.settings.maxToolArgumentsChars ?? MAX_TOOL_ARGUMENTS_CHARS)) {
            call.arguments += part.function.arguments;
          }
          calls.set(part.index, call);
        }
      }
    } catch (error) {
      throw toAgentError(error, input.signal);
    }
    // The SDK's stream ends quietly when aborted mid-body; a half reply must not pass for a whole one.
    if (input.signal?.aborted) {
      throw new AgentError('The model request was aborted', { code: 'aborted', retryable: false, cause: input.signal.reason });
    }
    const toolCalls = [...calls.values()];
    for (const call of toolCalls) {
      if (!call.id || !(definitionTools ? definitionTools.has(call.name) : isToolName(call.name))) {
        throw new AgentError(`Model called an unknown tool "${call.name.slice(0, 64)}"`, { code: 'invalid_response', retryable: true });
      }
    }
    return { text, toolCalls, usage };
  }

  private actionCalls(calls: StreamedToolCall[]): ToolCall[] {
    const out: ToolCall[] = [];
    for (const call of calls) {
      const reason = reasonFrom(call.arguments, this.settings.maxToolArgumentsChars);
      if (call.name === 'end_call') out.push({ id: call.id, name: 'end_call', reason });
      // The target is read from configuration here; the tool has no parameter for it.
      else if (call.name === 'transfer_to_human' && this.settings.transferTargetNumber) {
        out.push({ id: call.id, name: 'transfer_to_human', reason, targetNumber: this.settings.transferTargetNumber });
      }
    }
    return out;
  }

  private async lookup(input: AgentInput): Promise<{ found: boolean; content: string }> {
    const userId = typeof input.context.userId === 'string' ? input.context.userId : undefined;
    if (!userId || !this.settings.lookupProfile) return { found: false, content: JSON.stringify({ found: false }) };
    const profile = await this.settings.lookupProfile(userId);
    if (!profile) return { found: false, content: JSON.stringify({ found: false }) };
    const { displayName, callCount, lastCallAt, lastCallSummary } = profile;
    return { found: true, content: JSON.stringify({ found: true, displayName, callCount, lastCallAt, lastCallSummary }) };
  }
}

function fallbackText(calls: readonly ToolCall[]): string {
  if (calls.some((c) => c.name === 'transfer_to_human')) return transferHoldPrompt();
  if (calls.some((c) => c.name === 'end_call')) return goodbyePrompt();
  return notUnderstoodPrompt();
}

function addUsage(total: TokenUsage | undefined, more: TokenUsage | undefined): TokenUsage | undefined {
  if (!more) return total;
  if (!total) return more;
  return {
    promptTokens: total.promptTokens + more.promptTokens,
    completionTokens: total.completionTokens + more.completionTokens,
    totalTokens: total.totalTokens + more.totalTokens,
  };
}

export function toAgentError(error: unknown, signal?: AbortSignal): AgentError {
  if (error instanceof AgentError) return error;
  if (error instanceof APIUserAbortError || signal?.aborted) {
    return new AgentError('The model request was aborted', { code: 'aborted', retryable: false, cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) return new AgentError('The model did not answer in time', { code: 'timeout', retryable: true, cause: error });
  if (error instanceof APIError) {
    const status = error.status;
    if (status === undefined) return new AgentError('The model endpoint could not be reached', { code: 'unavailable', retryable: true, cause: error });
    if (status === 429) return new AgentError('The model deployment is rate limited', { code: 'rate_limited', retryable: true, status, cause: error });
    if (status === 401 || status === 403) return new AgentError('Not authorized for the model deployment', { code: 'auth', retryable: false, status, cause: error });
    if (status >= 500 || status === 408) return new AgentError(`The model service failed (${status})`, { code: 'unavailable', retryable: true, status, cause: error });
    return new AgentError(`The model rejected the request (${status})`, { code: 'bad_request', retryable: false, status, cause: error });
  }
  return new AgentError('The model response could not be read', { code: 'invalid_response', retryable: true, cause: error });
}
