import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type { CallerProfile } from '../agent/types.js';
import type { Logger } from '../telemetry/logger.js';
import { ToolError } from './errors.js';
import type { LoadedScenario } from './loader.js';
import type { AgentDefinition, AgentTool, HttpTool } from './schema.js';
import type { CallerVerification } from './verification.js';

/**
 * Runs an agent's tools, with the one tool policy both call paths share: a tool the agent does not
 * have is unknown, a `requiresVerifiedCaller` tool is refused until the call is verified, and a
 * failing tool (timeout, HTTP error, oversized or malformed answer) becomes an outcome the agent
 * apologises for, never an exception that leaves the caller waiting.
 */

export interface ToolCallContext {
  readonly callId: string;
  /** From the call session, never from the model. */
  readonly userId?: string | undefined;
  readonly agent: AgentDefinition;
  readonly scenario: LoadedScenario;
  readonly signal?: AbortSignal | undefined;
}

export type ToolOutcome =
  | { readonly status: 'ok'; readonly tool: string; readonly output: Readonly<Record<string, unknown>>; readonly latencyMs: number }
  | { readonly status: 'refused'; readonly tool: string; readonly reason: 'verification_required' | 'unknown_tool'; readonly latencyMs: number }
  | { readonly status: 'failed'; readonly tool: string; readonly error: ToolError; readonly latencyMs: number };

/** A tool written in TypeScript; its arguments are checked against `parameters` before it runs. */
export interface CodeTool<P extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly parameters: P;
  run(args: z.infer<P>, context: ToolCallContext): Promise<Record<string, unknown>>;
}

export class CodeToolRegistry {
  private readonly tools = new Map<string, CodeTool>();
  register<P extends z.ZodType>(tool: CodeTool<P>): this {
    if (this.tools.has(tool.name)) throw new ToolError(`code tool ${tool.name} is registered twice`, tool.name, 'not_registered');
    this.tools.set(tool.name, tool as unknown as CodeTool);
    return this;
  }
  get(name: string): CodeTool | undefined {
    return this.tools.get(name);
  }
}

export interface ToolRunnerOptions {
  readonly verification?: CallerVerification | undefined;
  readonly lookupProfile?: ((userId: string) => Promise<CallerProfile | undefined>) | undefined;
  readonly codeTools?: CodeToolRegistry;
  /** App settings for HTTP tools' keys (Key Vault references resolve into app settings in Azure). */
  readonly settings?: Readonly<Record<string, string | undefined>>;
  /** A bearer token for a scope, from the managed identity. */
  readonly tokenFor?: (scope: string) => Promise<string>;
  readonly fetch?: typeof fetch;
  readonly logger: Logger;
}

/** The agent's tools with the handoffs of its scenario (`handoff_to_<agent>`). */
export function toolNamesOf(agent: AgentDefinition, scenario: LoadedScenario): string[] {
  const handoffs = scenario.scenario.handoffs.filter((h) => h.from === agent.name).map((h) => `handoff_to_${h.to}`);
  return [...agent.tools.map((t) => t.name), ...handoffs];
}

export class ToolRunner {
  constructor(private readonly options: ToolRunnerOptions) {}

  async run(name: string, args: Readonly<Record<string, unknown>>, context: ToolCallContext): Promise<ToolOutcome> {
    const startedAt = performance.now();
    const elapsed = () => Math.round((performance.now() - startedAt) * 10) / 10;
    const tool = context.agent.tools.find((t) => t.name === name);
    if (!tool) return { status: 'refused', tool: name, reason: 'unknown_tool', latencyMs: elapsed() };
    if (tool.requiresVerifiedCaller && !(await this.options.verification?.isVerified(context.callId))) {
      this.options.logger.info('tool refused: caller not verified', { callId: context.callId, tool: name });
      return { status: 'refused', tool: name, reason: 'verification_required', latencyMs: elapsed() };
    }
    try {
      const output = await this.execute(tool, args, context);
      return { status: 'ok', tool: name, output, latencyMs: elapsed() };
    } catch (err) {
      const error = err instanceof ToolError ? err : new ToolError(`tool ${name} failed`, name, 'unavailable', { cause: err });
      this.options.logger.warn('tool failed', { callId: context.callId, tool: name, code: error.code, error });
      return { status: 'failed', tool: name, error, latencyMs: elapsed() };
    }
  }

  private async execute(tool: AgentTool, args: Readonly<Record<string, unknown>>, context: ToolCallContext): Promise<Record<string, unknown>> {
    if (tool.kind === 'http') return this.http(tool, args, context);
    if (tool.kind === 'code') {
      const code = this.options.codeTools?.get(tool.implementation ?? tool.name);
      if (!code) throw new ToolError(`no code tool ${tool.implementation ?? tool.name} is registered`, tool.name, 'not_registered');
      const parsed = code.parameters.safeParse(args);
      if (!parsed.success) throw new ToolError(`bad arguments: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`, tool.name, 'bad_arguments');
      return code.run(parsed.data, context);
    }
    if (tool.name === 'lookup_profile') {
      const profile = context.userId && this.options.lookupProfile ? await this.options.lookupProfile(context.userId) : undefined;
      if (!profile) return { found: false };
      return { found: true, displayName: profile.displayName, callCount: profile.callCount, lastCallAt: profile.lastCallAt };
    }
    // end_call, transfer_to_human and verify_caller act on the call; their caller does the acting.
    return {};
  }

  private async http(tool: HttpTool, args: Readonly<Record<string, unknown>>, context: ToolCallContext): Promise<Record<string, unknown>> {
    const missing = (tool.parameters.required ?? []).filter((name) => args[name] === undefined || args[name] === '');
    if (missing.length > 0) throw new ToolError(`missing arguments: ${missing.join(', ')}`, tool.name, 'bad_arguments');
    const used = new Set<string>();
    const url = tool.url.replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (whole, name: string) => {
      used.add(name);
      const value = args[name];
      return value === undefined ? whole : encodeURIComponent(String(value));
    });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (tool.auth.type === 'key') headers[tool.auth.header] = this.options.settings?.[tool.auth.setting] ?? '';
    if (tool.auth.type === 'managedIdentity') {
      if (!this.options.tokenFor) throw new ToolError('no managed identity to sign the request', tool.name, 'unavailable');
      headers.authorization = `Bearer ${await this.options.tokenFor(tool.auth.scope)}`;
    }
    const body = Object.fromEntries(Object.entries(args).filter(([name]) => !used.has(name)));
    if (tool.method === 'POST') headers['content-type'] = 'application/json';
    const signal = AbortSignal.any([AbortSignal.timeout(tool.timeoutMs), ...(context.signal ? [context.signal] : [])]);
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, { method: tool.method, headers, signal, ...(tool.method === 'POST' ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new ToolError(timedOut ? `no answer within ${tool.timeoutMs} ms` : 'request failed', tool.name, timedOut ? 'timeout' : 'unavailable', { cause: err });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new ToolError(`HTTP ${response.status}`, tool.name, 'http_status');
    }
    const text = await readCapped(response, tool.maxResponseBytes, tool.name, signal);
    try {
      const value: unknown = JSON.parse(text);
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { result: value };
    } catch (err) {
      throw new ToolError('the answer is not JSON', tool.name, 'bad_response', { cause: err });
    }
  }
}

/** Reads the body, giving up (and cancelling the stream) past `maxBytes`; a timeout mid-body is a timeout. */
async function readCapped(response: Response, maxBytes: number, tool: string, signal: AbortSignal): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new ToolError(`answer of ${declared} bytes exceeds ${maxBytes}`, tool, 'too_large');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ToolError(`answer exceeds ${maxBytes} bytes`, tool, 'too_large');
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(signal.aborted ? 'no whole answer in time' : 'answer broken off', tool, signal.aborted ? 'timeout' : 'bad_response', { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}
