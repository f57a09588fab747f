/**
 * Spans at the seams of the call path, over the OpenTelemetry API only: without a registered SDK
 * (nothing configured) every span is a non-recording no-op, so the call path pays next to nothing.
 *
 * A call is one trace. Its callbacks, relay turns and lifecycle activities arrive as unrelated
 * invocations, so each is parented on a remote span context derived from the call id: every span of
 * a call carries the same trace id (App Insights' `operation_Id`) and the call's timeline is one query.
 * The derived parent is never exported itself, so a trace viewer shows the call's spans as its roots.
 */

import { createHash } from 'node:crypto';
import { context, createContextKey, trace, SpanKind, SpanStatusCode, TraceFlags, type Attributes, type Context, type Link, type Span, type SpanContext, type TimeInput } from '@opentelemetry/api';
import { APP_VERSION } from '../version.js';

export const TRACER_NAME = 'rtvoice';

/** Attribute names of our own (OpenTelemetry's semantic conventions have none for calls and turns). */
export const ATTR = {
  callId: 'rtvoice.call.id',
  turnId: 'rtvoice.turn.id',
  eventType: 'rtvoice.acs.event_type',
  eventId: 'rtvoice.acs.event_id',
  operation: 'rtvoice.operation',
  stage: 'rtvoice.stage',
  path: 'rtvoice.path',
  outcome: 'rtvoice.outcome',
  shard: 'rtvoice.redis.shard',
  direction: 'rtvoice.direction',
  workerId: 'rtvoice.relay.worker_id',
} as const;

export { SpanKind };
export type { Span, Attributes };

export function tracer() {
  return trace.getTracer(TRACER_NAME, APP_VERSION);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The trace id every span of the call carries (32 hex digits, never all zero). */
export function callTraceId(callId: string): string {
  const id = digest(`rtvoice-call:${callId}`).slice(0, 32);
  return /^0+$/.test(id) ? '1'.padStart(32, '0') : id;
}

export function callSpanContext(callId: string): SpanContext {
  return { traceId: callTraceId(callId), spanId: digest(`rtvoice-call-root:${callId}`).slice(0, 16), traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

/** The call a context belongs to: every span started in it gets the call id (see `CallSpanProcessor`). */
export const CALL_ID_KEY = createContextKey('rtvoice.call.id');

/** A context whose parent is the call's (remote, derived) root: spans started in it join the call's trace. */
export function callContext(callId: string, base: Context = context.active()): Context {
  const active = trace.getSpanContext(base);
  // Already inside a span of this call: keep the real parent.
  if (active && active.traceId === callTraceId(callId)) return base;
  return trace.setSpanContext(base, callSpanContext(callId)).setValue(CALL_ID_KEY, callId);
}

export interface SpanOptions {
  readonly attributes?: Attributes;
  readonly kind?: SpanKind;
  readonly links?: Link[];
  readonly startTime?: TimeInput;
  /** Parent the span on this call's trace (see {@link callContext}). */
  readonly callId?: string;
}

/**
 * Runs `fn` inside a span; a thrown error marks the span failed (its name, not its message, as the
 * status: messages may carry data) and is rethrown.
 *
 * @example
 * await inSpan('redis conversation.flush', { callId }, () => conversation.flush());
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
  const parent = options.callId === undefined ? context.active() : callContext(options.callId);
  const attributes = options.callId === undefined ? options.attributes : { [ATTR.callId]: options.callId, ...options.attributes };
  const links = [...(options.links ?? []), ...hostLink(options.callId)];
  return tracer().startActiveSpan(
    name,
    { ...(attributes ? { attributes } : {}), ...(options.kind === undefined ? {} : { kind: options.kind }), ...(links.length > 0 ? { links } : {}), ...(options.startTime === undefined ? {} : { startTime: options.startTime }) },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        failSpan(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A call span started inside another trace (the host's invocation) links to it instead of joining it. */
function hostLink(callId: string | undefined): Link[] {
  if (callId === undefined) return [];
  const active = trace.getSpanContext(context.active());
  if (!active || !trace.isSpanContextValid(active) || active.traceId === callTraceId(callId)) return [];
  return [{ context: active }];
}

/** Starts a span the caller ends (for spans that outlive one function, e.g. a relay turn). */
export function startSpan(name: string, options: SpanOptions): Span {
  const parent = options.callId === undefined ? context.active() : callContext(options.callId);
  const attributes = options.callId === undefined ? options.attributes : { [ATTR.callId]: options.callId, ...options.attributes };
  return tracer().startSpan(
    name,
    { ...(attributes ? { attributes } : {}), ...(options.kind === undefined ? {} : { kind: options.kind }), ...(options.links ? { links: options.links } : {}), ...(options.startTime === undefined ? {} : { startTime: options.startTime }) },
    parent,
  );
}

export function failSpan(span: Span, error: unknown): void {
  const name = error instanceof Error ? error.name : 'Error';
  span.setStatus({ code: SpanStatusCode.ERROR, message: name });
  span.setAttribute('error.type', name);
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number') span.setAttribute('http.response.status_code', status);
}

/** The active span's trace id (for log correlation), undefined outside spans or without an SDK. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const ctx = trace.getSpanContext(context.active());
  if (!ctx || !trace.isSpanContextValid(ctx)) return undefined;
  return { traceId: ctx.traceId, spanId: ctx.spanId };
}
