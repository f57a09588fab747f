import type { z } from 'zod';

/** The outcome of parsing untrusted input: a value, or one precise reason fit for a 400 body. */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** `events[2].data.callConnectionId` from a base name and a zod path. */
export function pathText(base: string, path: readonly PropertyKey[]): string {
  let text = base;
  for (const part of path) text += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return text;
}

/**
 * The first zod issue as `<path>: <problem>`, with "required" for a missing field rather than
 * zod's "expected string, received undefined". Input values are never echoed (they may be phone numbers).
 */
export function describeIssue(base: string, issue: z.core.$ZodIssue): string {
  const where = pathText(base, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      return /received undefined$/.test(issue.message) ? `${where}: required` : `${where}: expected ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'string' ? `${where}: must not be empty` : `${where}: too small (minimum ${String(issue.minimum)})`;
    case 'too_big':
      return `${where}: too big (maximum ${String(issue.maximum)})`;
    case 'invalid_value':
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

export function firstIssue(base: string, error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? describeIssue(base, issue) : `${base}: invalid`;
}

/** Accepts an already-parsed body or its text. */
export function decodeJson(body: unknown): ParseResult<unknown> {
  if (typeof body !== 'string') return { ok: true, value: body };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false, reason: 'body: not valid JSON' };
  }
}

/**
 * The event list of a webhook body (text or parsed): an array, or one event object (structured
 * CloudEvents mode) as a one-element array; empty and oversized lists are refused with a reason.
 */
export function decodeEventList(body: unknown, what: string, maxEvents: number): ParseResult<unknown[]> {
  const decoded = decodeJson(body);
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  const list = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? [value] : undefined;
  if (!list) return { ok: false, reason: `events: expected an array of ${what}` };
  if (list.length === 0) return { ok: false, reason: 'events: empty array' };
  if (list.length > maxEvents) return { ok: false, reason: `events: more than ${maxEvents} events` };
  return { ok: true, value: list };
}
