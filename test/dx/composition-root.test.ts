import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * One composition root: no module of src/ keeps process-wide state of its own. The lint rule
 * (eslint.config.js) refuses a module-level `let`, cache or empty Map/Set, and an exported setter or
 * resetter; these cases show it is on for src/ and which files it allows, so removing or narrowing it
 * fails here.
 */
const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function ruleMessages(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('the composition-root lint rule', () => {
  it('refuses a module-level let and an exported setter or resetter in src/', async () => {
    const messages = await ruleMessages(
      ['let current: number | undefined;', 'export let other = 1;', 'export function setCurrent(next: number): void { current = next; other = next; }', 'export function resetCurrent(): void { current = undefined; }', ''].join('\n'),
      'src/lib/calls/example.ts',
    );
    expect(messages).toHaveLength(4);
    expect(messages.filter((m) => m.includes('module-level `let`'))).toHaveLength(2);
    expect(messages.filter((m) => m.includes('setters or resetters'))).toHaveLength(2);
  });

  it('refuses a module-level cache or registry in src/, exported or not', async () => {
    const code = [
      "import { LRUCache } from 'lru-cache';",
      'const wrappers = new WeakMap<object, object>();',
      'const seen = new WeakSet<object>();',
      'export const handles = new LRUCache<string, object>({ max: 10 });',
      'const byRate = new Map<number, string>();',
      'export const known = new Set<string>();',
      '',
    ].join('\n');
    const messages = await ruleMessages(code, 'src/lib/acs/example.ts');
    expect(messages).toHaveLength(5);
    expect(messages.filter((m) => m.includes('No module-level cache') && m.includes('src/lib/app'))).toHaveLength(3);
    expect(messages.filter((m) => m.includes('empty Map or Set') && m.includes('src/lib/app'))).toHaveLength(2);
  });

  it('allows state inside functions and objects, constant tables built from their entries, and setters that are not exported', async () => {
    const code = [
      'export function counter() {',
      '  let count = 0;',
      '  const byId = new Map<string, number>();',
      '  return { next: (id: string) => byId.set(id, ++count) };',
      '}',
      'export class Client {',
      '  private readonly handles = new WeakMap<object, object>();',
      '  handleOf(key: object) { return this.handles.get(key); }',
      '}',
      "const KINDS = new Set(['a', 'b']);",
      "const LOWER = new Map(['A', 'B'].map((k) => [k.toLowerCase(), k]));",
      'function setCurrent(next: string) { return KINDS.has(next) || LOWER.has(next); }',
      'export const known = (name: string) => setCurrent(name);',
      '',
    ].join('\n');
    expect(await ruleMessages(code, 'src/lib/calls/example.ts')).toEqual([]);
  });

  it('allows the OpenTelemetry modules, whose providers are process-global by design', async () => {
    expect(await ruleMessages('let running: Promise<void> | undefined;\n', 'src/lib/telemetry/otel.ts')).toEqual([]);
  });

  it('finds no offender in src/ today', async () => {
    const results = await eslint.lintFiles(['src/**/*.ts']);
    const offenders = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(offenders).toEqual([]);
  });
});
