/**
 * Structured logging with PII kept out: phone numbers are masked in messages and fields, and
 * fields whose names say they hold secrets are dropped. Works over the Functions InvocationContext
 * or the console.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// E.164 or dialable digit runs ("4:+1555…", "+1 (555) 010-0123"), but not parts of ids or addresses: a run that
// touches a letter, digit, dot or dash on either side (UUIDs, hex hashes, IP addresses) is left alone.
const PHONE = /(?<![\w.-])\+?\d[\d\s()-]{5,}\d(?![\w.-])/g;
const MIN_PHONE_DIGITS = 7;
const SECRET_FIELD = /(password|secret|token|key|authorization|connectionstring|signature)$/i;

/** "+15550100123" → "+1•••••••123": enough to correlate, not enough to dial. */
export function maskPhoneNumber(value: string): string {
  const digits = value.replace(/[^\d+]/g, '');
  if (digits.length < 7) return '•••';
  return `${digits.slice(0, 2)}${'•'.repeat(Math.max(digits.length - 5, 3))}${digits.slice(-3)}`;
}

export function redact(text: string): string {
  return text.replace(PHONE, (m) => (m.replace(/\D/g, '').length >= MIN_PHONE_DIGITS ? maskPhoneNumber(m) : m));
}

/** How deep an error's cause chain (and any nested field) is followed before it is cut. */
const MAX_DEPTH = 6;
const CUT = '[depth limit]';
const CYCLE = '[circular]';
/** Set by `Error` itself or formatted on their own; everything else an error holds is one of its fields. */
const ERROR_OWN = new Set(['name', 'message', 'stack', 'cause']);

/**
 * An error as log fields: name, message, stack, its own fields (`code`, `retryable`, `context`,
 * `statusCode`…) and its cause, formatted the same way down the chain. Bounded in depth and safe
 * against cycles (an error that is its own cause, a field pointing back at the error). Not redacted:
 * the logger redacts the result, like every other field.
 */
export function formatError(error: Error): LogFields {
  return formatErrorAt(error, new WeakSet(), 0);
}

function formatErrorAt(error: Error, seen: WeakSet<object>, depth: number): LogFields {
  seen.add(error);
  try {
    const out: LogFields = { name: error.name, message: error.message };
    if (error.stack) out.stack = error.stack;
    for (const [field, value] of Object.entries(error)) {
      if (!ERROR_OWN.has(field)) out[field] = formatValue(value, seen, depth + 1);
    }
    // Not enumerable, so not among the fields above: the failures an AggregateError collects.
    if (error instanceof AggregateError) out.errors = formatValue(error.errors, seen, depth + 1);
    if (error.cause !== undefined) out.cause = formatValue(error.cause, seen, depth + 1);
    return out;
  } finally {
    seen.delete(error);
  }
}

function formatValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return CYCLE;
  if (depth > MAX_DEPTH) return CUT;
  if (value instanceof Error) return formatErrorAt(value, seen, depth);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => formatValue(item, seen, depth + 1));
    if (value instanceof Date) return value.toISOString();
    const out: LogFields = {};
    for (const [field, item] of Object.entries(value)) out[field] = formatValue(item, seen, depth + 1);
    return out;
  } finally {
    // Siblings may share an object; only a path back to itself is a cycle.
    seen.delete(value);
  }
}

/** Secret-named fields dropped, phone numbers masked, at every depth and in arrays too. */
function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH * 2) return CUT;
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  const out: LogFields = {};
  for (const [name, item] of Object.entries(value)) {
    if (!SECRET_FIELD.test(name)) out[name] = scrubValue(item, depth + 1);
  }
  return out;
}

/** Format first (errors become plain fields), then redact the result: nothing an error holds escapes the mask. */
function scrub(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  return scrubValue(formatValue(fields, new WeakSet(), 0), 0) as LogFields;
}

export type LogSink = (level: LogLevel, message: string, fields?: LogFields) => void;

/**
 * Where records also go once OpenTelemetry runs (see `otel.ts`): as log records whose attributes are
 * the structured fields (App Insights custom dimensions), in the active span's trace. Set by the
 * telemetry start, so this module never loads the SDK.
 */
let telemetrySink: LogSink | undefined;

export function setTelemetryLogSink(sink: LogSink | undefined): void {
  telemetrySink = sink;
}

export function createLogger(sink: LogSink, minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  const min = LEVELS[minLevel];
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    const clean = redact(message);
    const cleanFields = scrub({ ...base, ...fields });
    sink(level, clean, cleanFields);
    telemetrySink?.(level, clean, cleanFields);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** JSON lines on stdout/stderr, for dev hosts, emulators and the relay running standalone. */
export function consoleLogger(minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  return createLogger(
    (level, message, fields) => {
      const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
      if (level === 'error' || level === 'warn') process.stderr.write(`${line}\n`);
      else process.stdout.write(`${line}\n`);
    },
    minLevel,
    base,
  );
}

/** The methods of InvocationContext that logging needs; keeps this module free of the Functions types. */
export interface InvocationLog {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export function invocationLogger(context: InvocationLog, minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  return createLogger(
    (level, message, fields) => (fields && Object.keys(fields).length > 0 ? context[level](message, fields) : context[level](message)),
    minLevel,
    base,
  );
}

/** For library code that was given no logger: drops everything but errors, which go to stderr. */
export const quietLogger: Logger = createLogger((level, message, fields) => {
  process.stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
}, 'error');
