/**
 * Just enough of Bicep's grammar to read declarations and object literals out of infra/ without the
 * Bicep compiler (which cannot be installed offline). Strings — including `${…}` interpolations that
 * contain strings of their own — and comments are lexed properly, so braces, quotes and `//` inside
 * them never confuse the structure.
 */

export type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'newline';

export interface Token {
  readonly kind: TokenKind;
  /** Identifier, punctuation or number text; for strings the raw source between the quotes. */
  readonly text: string;
  /** For strings without interpolation: the unescaped value. */
  readonly value?: string;
  readonly interpolated?: boolean;
  readonly line: number;
}

export class BicepSyntaxError extends Error {
  override readonly name = 'BicepSyntaxError';
  constructor(message: string, readonly line: number) {
    super(`${message} (line ${line})`);
  }
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;

  const lineOf = () => line;

  /** Skips an interpolation body starting after `${`; returns the index after its closing `}`. */
  function skipInterpolation(start: number): number {
    let depth = 1;
    let i = start;
    while (i < source.length) {
      const ch = source[i]!;
      if (ch === "'") {
        i = skipString(i);
        continue;
      }
      if (ch === '\n') line++;
      if (ch === '{') depth++;
      if (ch === '}' && --depth === 0) return i + 1;
      i++;
    }
    throw new BicepSyntaxError('unterminated interpolation', lineOf());
  }

  /** Skips a single-line or ''' string starting at its opening quote; returns the index after it. */
  function skipString(start: number): number {
    if (source.startsWith("'''", start)) {
      const end = source.indexOf("'''", start + 3);
      if (end < 0) throw new BicepSyntaxError('unterminated multi-line string', lineOf());
      line += countNewlines(source.slice(start, end));
      return end + 3;
    }
    let i = start + 1;
    while (i < source.length) {
      const ch = source[i]!;
      if (ch === '\\') {
        i += 2;
        continue;
      }
      if (ch === '$' && source[i + 1] === '{') {
        i = skipInterpolation(i + 2);
        continue;
      }
      if (ch === "'") return i + 1;
      if (ch === '\n') throw new BicepSyntaxError('newline in a string', lineOf());
      i++;
    }
    throw new BicepSyntaxError('unterminated string', lineOf());
  }

  while (pos < source.length) {
    const ch = source[pos]!;
    if (ch === '\n') {
      if (tokens.at(-1)?.kind !== 'newline') tokens.push({ kind: 'newline', text: '\n', line });
      line++;
      pos++;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      pos++;
    } else if (source.startsWith('//', pos)) {
      const end = source.indexOf('\n', pos);
      pos = end < 0 ? source.length : end;
    } else if (source.startsWith('/*', pos)) {
      const end = source.indexOf('*/', pos + 2);
      if (end < 0) throw new BicepSyntaxError('unterminated comment', line);
      line += countNewlines(source.slice(pos, end));
      pos = end + 2;
    } else if (ch === "'") {
      const startLine = line;
      const end = skipString(pos);
      const multi = source.startsWith("'''", pos);
      const raw = multi ? source.slice(pos + 3, end - 3) : source.slice(pos + 1, end - 1);
      const interpolated = !multi && /(^|[^\\])\$\{/.test(raw);
      tokens.push({
        kind: 'string',
        text: raw,
        interpolated,
        ...(interpolated ? {} : { value: multi ? raw : unescape(raw) }),
        line: startLine,
      });
      pos = end;
    } else if (IDENT_START.test(ch)) {
      let end = pos + 1;
      while (end < source.length && IDENT_PART.test(source[end]!)) end++;
      tokens.push({ kind: 'ident', text: source.slice(pos, end), line });
      pos = end;
    } else if (/[0-9]/.test(ch)) {
      let end = pos + 1;
      while (end < source.length && /[0-9]/.test(source[end]!)) end++;
      tokens.push({ kind: 'number', text: source.slice(pos, end), line });
      pos = end;
    } else {
      const two = source.slice(pos, pos + 2);
      const text = ['::', '==', '!=', '<=', '>=', '&&', '||', '??', '=~', '!~'].includes(two) ? two : ch;
      tokens.push({ kind: 'punct', text, line });
      pos += text.length;
    }
  }
  return tokens;
}

function countNewlines(text: string): number {
  return text.split('\n').length - 1;
}

function unescape(raw: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

const OPEN: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const CLOSERS = new Set(Object.values(OPEN));

/** Index of the bracket closing the one at `open`. */
export function matching(tokens: readonly Token[], open: number): number {
  const stack: string[] = [];
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (OPEN[t.text]) stack.push(OPEN[t.text]!);
    else if (CLOSERS.has(t.text)) {
      if (stack.pop() !== t.text) throw new BicepSyntaxError(`unbalanced "${t.text}"`, t.line);
      if (stack.length === 0) return i;
    }
  }
  throw new BicepSyntaxError(`unclosed "${tokens[open]?.text}"`, tokens[open]?.line ?? 0);
}

/** Token ranges [start, end) of a value: up to the newline or comma at its own depth, or `end`. */
function valueEnd(tokens: readonly Token[], start: number, end: number): number {
  let i = start;
  while (i < end) {
    const t = tokens[i]!;
    if (t.kind === 'newline' || (t.kind === 'punct' && t.text === ',')) return i;
    if (t.kind === 'punct' && OPEN[t.text]) {
      i = matching(tokens, i) + 1;
      continue;
    }
    i++;
  }
  return end;
}

export interface Entry {
  readonly key: string;
  readonly line: number;
  /** Value tokens, [start, end). */
  readonly start: number;
  readonly end: number;
}

/** Properties of the object literal whose `{` is at `open`, in source order. */
export function objectEntries(tokens: readonly Token[], open: number): Entry[] {
  if (tokens[open]?.text !== '{') throw new BicepSyntaxError('expected an object literal', tokens[open]?.line ?? 0);
  const close = matching(tokens, open);
  const entries: Entry[] = [];
  let i = open + 1;
  while (i < close) {
    const t = tokens[i]!;
    if (t.kind === 'newline' || (t.kind === 'punct' && t.text === ',')) {
      i++;
      continue;
    }
    if (t.kind === 'punct' && t.text === '@') {
      // A decorator inside a type literal: skip to its end.
      i = valueEnd(tokens, i, close);
      continue;
    }
    const key = t.kind === 'ident' ? t.text : t.kind === 'string' && !t.interpolated ? t.value! : undefined;
    if (key === undefined || tokens[i + 1]?.text !== ':') {
      throw new BicepSyntaxError(`expected "key:" in object literal, got "${t.text}"`, t.line);
    }
    const start = i + 2;
    const end = valueEnd(tokens, start, close);
    entries.push({ key, line: t.line, start, end });
    i = end;
  }
  return entries;
}

export type DeclarationKind = 'param' | 'var' | 'resource' | 'module' | 'output' | 'type' | 'import';

export interface Declaration {
  readonly kind: DeclarationKind;
  readonly name: string;
  readonly line: number;
  /** Decorator names, e.g. ['secure', 'description']. */
  readonly decorators: readonly string[];
  /** resource: 'Type@apiVersion'; module: path; param/output: type name. */
  readonly target?: string;
  /** param: whether a default value follows `=`. */
  readonly hasDefault?: boolean;
  /** resource/module: index of the body `{`, after any `if (…)` or `[for …:`. */
  readonly body?: number;
  /** param (default), var, output: value tokens [start, end). */
  readonly valueStart?: number;
  readonly valueEnd?: number;
  readonly existing?: boolean;
}

const KEYWORDS = new Set<string>(['param', 'var', 'resource', 'module', 'output', 'type', 'import']);

/** Top-level declarations of a Bicep file. */
export function declarations(tokens: readonly Token[]): Declaration[] {
  const result: Declaration[] = [];
  let decorators: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t.kind === 'newline') {
      i++;
      continue;
    }
    if (t.kind === 'punct' && t.text === '@') {
      decorators.push(tokens[i + 1]?.text ?? '');
      i = valueEnd(tokens, i, tokens.length);
      continue;
    }
    if (t.kind !== 'ident' || !KEYWORDS.has(t.text)) {
      // targetScope, metadata and anything else: skip the statement.
      i = valueEnd(tokens, i, tokens.length);
      decorators = [];
      continue;
    }
    const kind = t.text as DeclarationKind;
    const end = valueEnd(tokens, i, tokens.length);
    const name = tokens[i + 1]?.text ?? '';
    const base = { kind, name, line: t.line, decorators };
    if (kind === 'resource' || kind === 'module') {
      const target = tokens[i + 2]?.kind === 'string' ? tokens[i + 2]!.text : '';
      const existing = tokens.slice(i + 3, end).some((x) => x.kind === 'ident' && x.text === 'existing');
      let body = -1;
      for (let j = i + 3; j < end; j++) {
        const x = tokens[j]!;
        if (x.kind === 'punct' && x.text === '{') {
          body = j;
          break;
        }
        if (x.kind === 'punct' && x.text === '(') j = matching(tokens, j);
      }
      result.push({ ...base, target, existing, body });
    } else if (kind === 'param') {
      const eq = tokens.slice(i + 2, end).findIndex((x) => x.kind === 'punct' && x.text === '=');
      const valueStart = eq < 0 ? end : i + 2 + eq + 1;
      result.push({ ...base, target: tokens[i + 2]?.text ?? '', hasDefault: eq >= 0, valueStart, valueEnd: end });
    } else if (kind === 'var' || kind === 'output') {
      const eq = tokens.slice(i + 2, end).findIndex((x) => x.kind === 'punct' && x.text === '=');
      const valueStart = eq < 0 ? end : i + 2 + eq + 1;
      result.push({ ...base, target: kind === 'output' ? tokens[i + 2]?.text ?? '' : undefined, valueStart, valueEnd: end });
    } else {
      result.push(base);
    }
    decorators = [];
    i = end;
  }
  return result;
}

/** The entry `key` of the object at `open`, or undefined. */
export function entry(tokens: readonly Token[], open: number, key: string): Entry | undefined {
  return objectEntries(tokens, open).find((e) => e.key === key);
}

/** The unescaped value when the entry is exactly one plain string literal. */
export function literalString(tokens: readonly Token[], e: Pick<Entry, 'start' | 'end'>): string | undefined {
  const t = tokens[e.start];
  return e.end - e.start === 1 && t?.kind === 'string' && !t.interpolated ? t.value : undefined;
}

/** The value when the entry is exactly one number literal. */
export function literalNumber(tokens: readonly Token[], e: Pick<Entry, 'start' | 'end'>): number | undefined {
  const t = tokens[e.start];
  return e.end - e.start === 1 && t?.kind === 'number' ? Number(t.text) : undefined;
}

/** Source-like text of a token range, for messages and substring checks. */
export function textOf(tokens: readonly Token[], start: number, end: number): string {
  return tokens
    .slice(start, end)
    .map((t) => (t.kind === 'string' ? `'${t.text}'` : t.text))
    .join(' ');
}
