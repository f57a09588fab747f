import { describe, expect, it } from 'vitest';
import { BicepSyntaxError, declarations, entry, literalNumber, literalString, objectEntries, tokenize } from './bicep-text.js';

describe('bicep-text', () => {
  it('keeps URLs, braces and quotes inside strings and interpolations out of the structure', () => {
    // Prepare
    const source = [
      "var a = 'https://example.net/{x}' // a comment with { and '",
      "var b = '${concat('}', 'x')}-${c ? '{' : 'y'}'",
      '/* a block { comment',
      '   over lines */',
      "var c = 'it\\'s'",
      "var d = '''",
      "multi { line ' string",
      "'''",
    ].join('\n');

    // Act
    const decls = declarations(tokenize(source));

    // Assess
    expect(decls.map((d) => [d.kind, d.name, d.line])).toEqual([
      ['var', 'a', 1],
      ['var', 'b', 2],
      ['var', 'c', 5],
      ['var', 'd', 6],
    ]);
    const tokens = tokenize(source);
    expect(literalString(tokens, { start: decls[0]!.valueStart!, end: decls[0]!.valueEnd! })).toBe('https://example.net/{x}');
    expect(literalString(tokens, { start: decls[1]!.valueStart!, end: decls[1]!.valueEnd! })).toBeUndefined();
    expect(literalString(tokens, { start: decls[2]!.valueStart!, end: decls[2]!.valueEnd! })).toBe("it's");
    expect(literalString(tokens, { start: decls[3]!.valueStart!, end: decls[3]!.valueEnd! })).toBe("\nmulti { line ' string\n");
  });

  it('reads resources, modules and params with decorators, conditions and loops', () => {
    // Prepare
    const source = `
@secure()
@description('a secret')
param key string = '\${newGuid()}'
param plain int

resource kv 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: 'kv'
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (create) {
  parent: kv
  name: 'k'
}

@batchSize(1)
resource deployments 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = [for d in list: {
  name: d.name
}]

module m 'modules/m.bicep' = {
  name: 'm'
  params: { a: 1, 'b-c': 'x' }
}
`;
    const tokens = tokenize(source);

    // Act
    const decls = declarations(tokens);

    // Assess
    expect(decls.map((d) => [d.kind, d.name, d.target ?? '', d.decorators.join(',')])).toEqual([
      ['param', 'key', 'string', 'secure,description'],
      ['param', 'plain', 'int', ''],
      ['resource', 'kv', 'Microsoft.KeyVault/vaults@2024-11-01', ''],
      ['resource', 'secret', 'Microsoft.KeyVault/vaults/secrets@2024-11-01', ''],
      ['resource', 'deployments', 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01', 'batchSize'],
      ['module', 'm', 'modules/m.bicep', ''],
    ]);
    expect(decls.map((d) => d.hasDefault)).toEqual([true, false, undefined, undefined, undefined, undefined]);
    expect(decls[2]!.existing).toBe(true);
    expect(literalString(tokens, entry(tokens, decls[3]!.body!, 'name')!)).toBe('k');
    expect(literalString(tokens, entry(tokens, decls[4]!.body!, 'name')!)).toBeUndefined();
    const params = entry(tokens, decls[5]!.body!, 'params')!;
    const passed = objectEntries(tokens, params.start);
    expect(passed.map((e) => e.key)).toEqual(['a', 'b-c']);
    expect(literalNumber(tokens, passed[0]!)).toBe(1);
  });

  it('fails loudly on text it cannot read instead of guessing', () => {
    expect(() => tokenize("var a = 'open")).toThrow(BicepSyntaxError);
    expect(() => tokenize("var a = '${x'")).toThrow(BicepSyntaxError);
    const tokens = tokenize('var o = {\n  a: 1\n  resource x\n}');
    const decl = declarations(tokens)[0]!;
    expect(() => objectEntries(tokens, decl.valueStart!)).toThrow(/expected "key:"/);
  });
});
