import { context, propagation } from '@opentelemetry/api';

/**
 * Runs a function handler in the Functions host's trace context (its `traceparent`), so spans that do
 * not belong to a call are children of the host's invocation span, and call spans can link to it.
 */
export function bindToTraceParent<F extends (...args: never[]) => unknown>(handler: F, traceParent: string, traceState: string | undefined): F {
  const carrier: Record<string, string> = { traceparent: traceParent, ...(traceState ? { tracestate: traceState } : {}) };
  return context.bind(propagation.extract(context.active(), carrier), handler);
}
