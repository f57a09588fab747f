import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR, CALL_ID_KEY } from './tracing.js';

/**
 * Gives every span started inside a call's context the call id, so the spans of Redis, the model,
 * ACS and the Azure SDKs under a callback turn can be filtered by call like the turn itself.
 */
export class CallSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const callId = parentContext.getValue(CALL_ID_KEY);
    if (typeof callId === 'string' && span.attributes[ATTR.callId] === undefined) span.setAttribute(ATTR.callId, callId);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
