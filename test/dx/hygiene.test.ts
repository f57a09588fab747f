import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO } from './child.js';

const read = (file: string) => readFileSync(new URL(file, `file://${REPO}`), 'utf8');
const pkg = JSON.parse(read('package.json')) as { license: string; engines: { node: string } };

/** Whether `major.minor` satisfies a range made of `>=a.b <c || >=d` clauses (the only forms package.json uses). */
function satisfies(version: string, range: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const value = major * 1000 + minor;
  const bound = (v: string) => {
    const [a = 0, b = 0] = v.split('.').map(Number);
    return a * 1000 + b;
  };
  return range.split('||').some((clause) =>
    clause.trim().split(/\s+/).every((part) => {
      const [, op, v] = /^(>=|<|<=|>)?(\d+(?:\.\d+)?)$/.exec(part) ?? [];
      if (!v) throw new Error(`unexpected range part ${part}`);
      if (op === '>=') return value >= bound(v);
      if (op === '<') return value < bound(v);
      if (op === '<=') return value <= bound(v);
      if (op === '>') return value > bound(v);
      return Math.floor(value / 1000) === Number(v);
    }),
  );
}

describe('repository hygiene', () => {
  it('has the MIT LICENSE package.json names, SECURITY.md, CONTRIBUTING.md and a devcontainer with Node and redis-server', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License/);
    expect(read('SECURITY.md')).toMatch(/## Reporting a vulnerability[\s\S]*## In scope/);
    expect(read('CONTRIBUTING.md')).toMatch(/npm test[\s\S]*[Cc]luster[\s\S]*npm run bench/);
    const devcontainer = read('.devcontainer/devcontainer.json');
    expect(devcontainer).toMatch(/typescript-node:1-22/);
    expect(devcontainer).toMatch(/install -y --no-install-recommends redis-server/);
  });

  it('states one Node range: package.json engines, the README, and an .nvmrc inside it', () => {
    const nvmrc = read('.nvmrc').trim();
    expect(satisfies(`${nvmrc}.0`, pkg.engines.node)).toBe(true);
    expect(read('README.md')).toContain(`Node.js \`${pkg.engines.node}\``);
    expect(satisfies('20.20', pkg.engines.node)).toBe(true);
    expect(satisfies('20.18', pkg.engines.node)).toBe(false);
  });

  it('cites no document outside the repository in code, tests, infra or docs', () => {
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && existsSync(`${REPO}${f}`) && /\.(ts|js|mjs|cjs|md|json|bicep|sh|ps1|yaml|yml)$/.test(f) && f !== 'package-lock.json' && f !== 'test/dx/hygiene.test.ts');
    const outside = /shared\/design|ARCHITECTURE\.md|data-flows|WIRE-PROTOCOLS|HOUSE-STYLE|\.\.\/shared\//;
    const offenders = files.filter((f) => outside.test(readFileSync(`${REPO}${f}`, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
