import {
  declarations,
  entry,
  literalNumber,
  literalString,
  objectEntries,
  textOf,
  tokenize,
  type Declaration,
  type Token,
} from './bicep-text.js';
import { read } from './settings-sources.js';

/**
 * The app settings a default deployment (main.bicep's parameter defaults) would produce, as far as
 * they are known before deployment. Values that only exist once resources do (host names, ids) are
 * left undefined for the caller to fill in.
 */

type Scalar = string | number | boolean;

interface ParsedFile {
  readonly tokens: Token[];
  readonly decls: Declaration[];
}

function parse(path: string): ParsedFile {
  const tokens = tokenize(read(path));
  return { tokens, decls: declarations(tokens) };
}

function scalar(tokens: readonly Token[], start: number, end: number): Scalar | undefined {
  const range = { start, end };
  const s = literalString(tokens, range);
  if (s !== undefined) return s;
  const n = literalNumber(tokens, range);
  if (n !== undefined) return n;
  if (end - start === 1 && (tokens[start]?.text === 'true' || tokens[start]?.text === 'false')) return tokens[start]!.text === 'true';
  return undefined;
}

function is(tokens: readonly Token[], start: number, end: number, ...texts: string[]): boolean {
  return end - start === texts.length && texts.every((t, i) => tokens[start + i]?.text === t);
}

export interface ResolvedSetting {
  readonly name: string;
  readonly value: string | undefined;
  /** Bicep text of the value, for messages. */
  readonly source: string;
}

export function resolveDefaultAppSettings(): ResolvedSetting[] {
  const main = parse('infra/main.bicep');
  const app = parse('infra/modules/function-app.bicep');

  const mainParam = (name: string) => main.decls.find((d) => d.kind === 'param' && d.name === name);
  const functionAppModule = main.decls.find((d) => d.kind === 'module' && d.target === 'modules/function-app.bicep');
  if (!functionAppModule?.body) throw new Error('main.bicep does not call modules/function-app.bicep');
  const moduleParams = entry(main.tokens, functionAppModule.body, 'params');
  if (!moduleParams) throw new Error('the function-app module call has no params');
  const passed = new Map(objectEntries(main.tokens, moduleParams.start).map((e) => [e.key, e]));

  /** Default of a main.bicep parameter, or of one property of an object parameter's default. */
  function mainDefault(name: string, property?: string): Scalar | undefined {
    const p = mainParam(name);
    if (!p?.hasDefault) return undefined;
    const t = main.tokens;
    if (property === undefined) return scalar(t, p.valueStart!, p.valueEnd!);
    if (t[p.valueStart!]?.text !== '{') return undefined;
    const e = entry(t, p.valueStart!, property);
    return e ? scalar(t, e.start, e.end) : undefined;
  }

  /** Value main.bicep passes for a function-app module parameter, when it is known before deployment. */
  function moduleParam(name: string): Scalar | undefined {
    const e = passed.get(name);
    if (!e) return undefined;
    const t = main.tokens;
    const literal = scalar(t, e.start, e.end);
    if (literal !== undefined) return literal;
    if (e.end - e.start === 1 && t[e.start]?.kind === 'ident') return mainDefault(t[e.start]!.text);
    if (e.end - e.start === 3 && t[e.start + 1]?.text === '.' && mainParam(t[e.start]!.text)) {
      return mainDefault(t[e.start]!.text, t[e.start + 2]!.text);
    }
    return undefined;
  }

  const settingsResource = app.decls.find((d) => d.kind === 'resource' && d.target?.startsWith('Microsoft.Web/sites/config@'));
  const properties = settingsResource?.body === undefined ? undefined : entry(app.tokens, settingsResource.body, 'properties');
  if (!properties) throw new Error('function-app.bicep has no appsettings properties');

  return objectEntries(app.tokens, properties.start).map((e) => {
    const t = app.tokens;
    const source = textOf(t, e.start, e.end);
    let value: Scalar | undefined = scalar(t, e.start, e.end);
    if (value === undefined && e.end - e.start === 1 && t[e.start]?.kind === 'ident') {
      value = moduleParam(t[e.start]!.text);
    } else if (value === undefined && t[e.start]?.text === 'string' && is(t, e.start + 1, e.end, '(', t[e.start + 2]?.text ?? '', ')')) {
      value = moduleParam(t[e.start + 2]!.text);
    } else if (value === undefined && /^\w+ \? 'true' : 'false'$/.test(source)) {
      // `flag ? 'true' : 'false'`, resolved through the flag.
      const flag = moduleParam(t[e.start]!.text);
      value = flag === undefined ? undefined : flag ? 'true' : 'false';
    }
    return { name: e.key, value: value === undefined ? undefined : String(value), source };
  });
}
