import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES, COSMOS_BUILT_IN_ROLES, SPECS } from './arm-specs.js';
import { declarations, matching, objectEntries, tokenize, type Token } from './bicep-text.js';
import { REPO, read } from './settings-sources.js';

/**
 * infra/ against the REST API specs and the built-in role table in arm-specs.ts (which records where each
 * fact was read). A role id one digit short, or a property the spec requires on create, fails here
 * instead of in the middle of `azd up`.
 */

const FILES = ['infra/main.bicep', ...readdirSync(join(REPO, 'infra/modules')).filter((f) => f.endsWith('.bicep')).map((f) => `infra/modules/${f}`)].map(
  (path) => {
    const text = read(path);
    const tokens = tokenize(text);
    return { path, text, tokens, decls: declarations(tokens) };
  },
);

/** Whether the value tokens [start, end) set the dotted path (`a.b`, `a[].b`). */
function setsPath(tokens: readonly Token[], start: number, end: number, path: readonly string[]): boolean {
  if (path.length === 0) return end > start;
  const [head, ...rest] = path;
  const isArray = head!.endsWith('[]');
  const key = isArray ? head!.slice(0, -2) : head!;
  // The value may be an object literal, a condition (`x ? {…} : {…}`) or a function of literals
  // (`union({…}, …)`): every object literal directly inside must be looked into.
  for (let i = start; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '{') {
      const close = matching(tokens, i);
      const hit = objectEntries(tokens, i).find((e) => e.key === key);
      if (hit && (isArray ? setsArrayItems(tokens, hit.start, hit.end, rest) : setsPath(tokens, hit.start, hit.end, rest))) return true;
      i = close;
    }
  }
  return false;
}

function setsArrayItems(tokens: readonly Token[], start: number, end: number, rest: readonly string[]): boolean {
  for (let i = start; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '[') return setsPath(tokens, i + 1, matching(tokens, i), rest);
  }
  return false;
}

describe('infra/ against the Azure REST API specs', () => {
  it('declares only resource types and API versions whose spec was checked, and sets what each requires on create', () => {
    const problems: string[] = [];
    let checkedResources = 0;
    for (const file of FILES) {
      for (const r of file.decls.filter((d) => d.kind === 'resource')) {
        const [type, apiVersion] = r.target!.split('@');
        const spec = SPECS.find((s) => s.type === type && s.apiVersion === apiVersion);
        if (!spec) {
          problems.push(`${file.path}: ${r.name} ${r.target} has no entry in arm-specs.ts`);
          continue;
        }
        if (r.existing) continue;
        checkedResources++;
        const body = r.body!;
        for (const path of spec.required) {
          if (!setsPath(file.tokens, body, matching(file.tokens, body) + 1, path.split('.'))) {
            problems.push(`${file.path}: ${r.name} (${r.target}) does not set ${path}, required on create by ${spec.spec}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checkedResources).toBeGreaterThan(25);
  });

  it('names a spec file under the version it checks, for every entry', () => {
    for (const s of SPECS) {
      expect(s.spec).toMatch(/^specification\/[\w-]+\/resource-manager\//);
      expect(s.spec).toContain(`/stable/${s.apiVersion}/`);
      expect(s.spec.toLowerCase()).toContain(s.type.split('/')[0]!.toLowerCase());
    }
    expect(new Set(SPECS.map((s) => `${s.type}@${s.apiVersion}`)).size).toBe(SPECS.length);
  });

  it('catches a missing required property (the check itself can fail)', () => {
    const tokens = tokenize("resource c 'Microsoft.Cache/redisEnterprise@2025-07-01' = {\n  name: 'x'\n  sku: { name: 'B0' }\n  properties: {\n    minimumTlsVersion: '1.2'\n  }\n}\n");
    const [decl] = declarations(tokens);
    const end = matching(tokens, decl!.body!) + 1;
    expect(setsPath(tokens, decl!.body!, end, ['sku', 'name'])).toBe(true);
    expect(setsPath(tokens, decl!.body!, end, ['properties', 'publicNetworkAccess'])).toBe(false);
    expect(setsPath(tokens, decl!.body!, end, ['location'])).toBe(false);
  });
});

describe('infra/ role definition ids', () => {
  const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it('writes every GUID-like literal in the GUID shape (8-4-4-4-12 hex digits)', () => {
    const problems: string[] = [];
    let seen = 0;
    for (const file of FILES) {
      // Anything that starts like a GUID: 8 hex digits and a dash, then hex digits and dashes.
      for (const m of file.text.matchAll(/'([0-9a-fA-F]{8}-[0-9a-fA-F-]{6,})'/g)) {
        seen++;
        if (!GUID.test(m[1]!)) problems.push(`${file.path}: '${m[1]}' is not a lowercase 8-4-4-4-12 GUID`);
      }
    }
    expect(problems).toEqual([]);
    expect(seen).toBeGreaterThan(9);
    expect(GUID.test('0a9a7e1f-b9d0-4cc4-a60d-0319b160ff3')).toBe(false);
  });

  it('uses only built-in role ids from the table, under the name the table gives them', () => {
    const problems: string[] = [];
    const used = new Set<string>();
    for (const file of FILES) {
      // Each role id sits on a line of its own with the role named in a comment above it, or in a
      // `var name = 'guid'` whose name says the role.
      for (const m of file.text.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g)) {
        const id = m[1]!;
        const role = [...BUILT_IN_ROLES, ...COSMOS_BUILT_IN_ROLES].find((r) => r.id === id);
        if (!role) {
          problems.push(`${file.path}: ${id} is not in the built-in role table`);
          continue;
        }
        used.add(role.name);
        const lineStart = file.text.lastIndexOf('\n', m.index) + 1;
        const line = file.text.slice(lineStart, file.text.indexOf('\n', m.index));
        const key = /^\s*(\w+)\s*[:=]|var (\w+)/.exec(line);
        const identifier = (key?.[1] ?? key?.[2] ?? '').toLowerCase();
        const expected = role.name.toLowerCase().replace(/cosmos db built-in /, '').replace(/[^a-z]/g, '');
        if (!identifier.replace(/roleid$/, '').endsWith(expected)) {
          problems.push(`${file.path}: ${id} is ${role.name} but is named ${identifier || line.trim()}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect([...used].sort()).toEqual(
      expect.arrayContaining(['Storage Table Data Contributor', 'Storage Blob Data Owner', 'Storage Queue Data Contributor', 'Key Vault Secrets User']),
    );
  });

  it('has a well-formed, duplicate-free role table', () => {
    for (const r of [...BUILT_IN_ROLES, ...COSMOS_BUILT_IN_ROLES]) {
      expect(r.id).toMatch(GUID);
      expect(r.source).toMatch(/^Azure\/bicep-registry-modules@\w+ avm\//);
    }
    const all = [...BUILT_IN_ROLES, ...COSMOS_BUILT_IN_ROLES];
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
  });
});
