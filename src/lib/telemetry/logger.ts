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

function scrub(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(name)) continue;
    if (typeof value === 'string') out[name] = redact(value);
    else if (value instanceof Error) out[name] = { name: value.name, message: redact(value.message) };
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) out[name] = scrub(value as LogFields);
    else out[name] = value;
  }
  return out;
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
