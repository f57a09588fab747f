/**
 * The safety net under every exporter: no span, span event or log record leaves the process with a
 * phone-number-like value or a secret-named attribute. Our own instrumentation never puts either
 * there; this catches what libraries add (URLs with query strings, SDK error messages, a caller's
 * number in an ACS request body echoed into an exception).
 */

import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { LogRecordProcessor, SdkLogRecord } from '@opentelemetry/sdk-logs';
import { redact } from './logger.js';

const SECRET_ATTRIBUTE = /(password|secret|token|key|authorization|connectionstring|signature|cookie)$/i;
const SECRET_QUERY = /([?&](?:code|sig|signature|token|access_token|key|se|sp|sv|skoid)=)[^&#\s]+/gi;
// A URL-encoded E.164 number ("%2B15550100123") touches a letter, so the logger's pattern leaves it.
const ENCODED_PHONE = /%2B\d{7,15}(?!\d)/gi;

function clean(text: string): string {
  return redact(text.replace(SECRET_QUERY, '$1•••').replace(ENCODED_PHONE, '%2B•••'));
}

type AttributeValue = string | number | boolean | (string | number | boolean | null | undefined)[] | null | undefined;

export function redactValue(value: AttributeValue): AttributeValue {
  if (typeof value === 'string') return clean(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? clean(v) : v));
  return value;
}

/** Redacts in place; returns how many attributes were changed or dropped. */
export function redactAttributes(attributes: Record<string, unknown> | undefined): number {
  if (!attributes) return 0;
  let changed = 0;
  for (const [name, value] of Object.entries(attributes)) {
    if (SECRET_ATTRIBUTE.test(name.replace(/[._-]/g, ''))) {
      delete attributes[name];
      changed += 1;
      continue;
    }
    const clean = redactValue(value as AttributeValue);
    if (clean !== value && JSON.stringify(clean) !== JSON.stringify(value)) {
      attributes[name] = clean;
      changed += 1;
    }
  }
  return changed;
}

/**
 * Registered before the exporting processors: `onEnding` runs while the span can still be changed,
 * and `onEnd` scrubs the ended span's attribute objects, which the batch processors export later.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {}

  onEnding(span: Span): void {
    scrubSpan(span as unknown as ReadableSpan);
  }

  onEnd(span: ReadableSpan): void {
    scrubSpan(span);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function scrubSpan(span: ReadableSpan): void {
  redactAttributes(span.attributes as Record<string, unknown>);
  for (const event of span.events) redactAttributes(event.attributes as Record<string, unknown> | undefined);
  if (span.status.message) (span.status as { message?: string }).message = clean(span.status.message);
  const named = span as unknown as { name: string };
  const cleanName = clean(span.name);
  if (cleanName !== span.name) named.name = cleanName;
}

/** Log records: the body and every attribute, before the exporting processor sees them. */
export class RedactingLogRecordProcessor implements LogRecordProcessor {
  onEmit(record: SdkLogRecord): void {
    if (typeof record.body === 'string') record.setBody(clean(record.body));
    redactAttributes(record.attributes as Record<string, unknown>);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
