import { AppError, type AppErrorOptions } from '../errors.js';

/** One thing wrong in a definition file, placed where an editor can jump to it. */
export interface DefinitionProblem {
  /** Path of the file inside the definitions folder (or the source's name for it). */
  readonly file: string;
  /** 1-based; 0 when the problem concerns the file as a whole. */
  readonly line: number;
  readonly column: number;
  /** Dotted path of the field (`tools.2.url`); empty for the whole file. */
  readonly field: string;
  readonly message: string;
}

/** Base error of the agents module. */
export class AgentsError extends AppError {
  override name: string = 'AgentsError';
  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, { code: 'agents_error', ...options });
  }
}

/** The definitions do not load: every problem found, not only the first. */
export class AgentDefinitionError extends AgentsError {
  override name = 'AgentDefinitionError';
  constructor(readonly problems: readonly DefinitionProblem[]) {
    super(`agent definitions are invalid:\n${problems.map(formatProblem).join('\n')}`, { code: 'invalid_definitions', context: { problems: problems.length } });
  }
}

export function formatProblem(p: DefinitionProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `  ${where}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
}

/** A tool could not run (timeout, HTTP error, oversized or malformed response, bad arguments). */
export class ToolError extends AgentsError {
  override name = 'ToolError';
  constructor(
    message: string,
    readonly tool: string,
    override readonly code: 'timeout' | 'http_status' | 'too_large' | 'bad_response' | 'bad_arguments' | 'unavailable' | 'not_registered',
    options?: { cause?: unknown },
  ) {
    // A slow or unreachable tool may answer next time; a bad answer or bad arguments will not change.
    super(message, { code, retryable: code === 'timeout' || code === 'unavailable', context: { tool }, cause: options?.cause });
  }
}
