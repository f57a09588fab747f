import type { FailureDetails } from './history.js';

/** How values and failures cross the boundary between the extension and the worker. */

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';

export function failureOf(error: unknown): FailureDetails {
  if (error instanceof Error) return { ErrorType: error.name, ErrorMessage: error.message, ...(error.stack ? { StackTrace: error.stack } : {}) };
  return { ErrorType: 'Error', ErrorMessage: String(error) };
}

/** The library throws `OrchestrationFailureError` with its state appended as JSON after a label. */
export function parseOrchestrationFailure(error: unknown): { error: string; customStatus?: unknown } {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(OUT_OF_PROC_LABEL);
  if (at < 0) return { error: message };
  try {
    // The text before the label is only whether the orchestrator had returned; the error is in the state.
    const state = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as { error?: string; customStatus?: unknown };
    return { error: state.error ?? message.slice(0, at), customStatus: state.customStatus };
  } catch {
    return { error: message.slice(0, at) };
  }
}

/** Values cross a JSON boundary between the extension and the worker; copying keeps that property. */
export function copy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
