import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/lib/config/settings.js';
import { declarations, entry, objectEntries, textOf, tokenize, type Declaration, type Token } from './bicep-text.js';
import { REPO, read } from './settings-sources.js';

/**
 * What `az bicep build` and the linter would catch, checked from the text because the Bicep compiler
 * cannot be installed offline: module wiring, parameter files, API versions, naming rules, and the
 * promises of the design (identity only, no secrets in outputs, every endpoint an output).
 */

interface BicepFile {
  readonly path: string;
  readonly text: string;
  readonly tokens: Token[];
  readonly decls: Declaration[];
}

function load(path: string): BicepFile {
  const text = read(path);
  const tokens = tokenize(text);
  return { path, text, tokens, decls: declarations(tokens) };
}

const FILES: BicepFile[] = [
  load('infra/main.bicep'),
  ...readdirSync(join(REPO, 'infra/modules'))
    .filter((f) => f.endsWith('.bicep'))
    .sort()
    .map((f) => load(`infra/modules/${f}`)),
];
const MAIN = FILES[0]!;
const byPath = (path: string) => FILES.find((f) => f.path === path);

/** A property of the first non-existing resource of `typePrefix` in `path`, as a literal. */
function resourceProperty(path: string, typePrefix: string, key: string): string | undefined {
  const file = byPath(path)!;
  const resource = file.decls.find((d) => d.kind === 'resource' && !d.existing && d.target?.startsWith(`${typePrefix}@`));
  const props = resource?.body === undefined ? undefined : entry(file.tokens, resource.body, 'properties');
  const e = props && entry(file.tokens, props.start, key);
  return e ? textOf(file.tokens, e.start, e.end) : undefined;
}

describe('infra/ Bicep structure', () => {
  it('passes every module exactly the parameters it declares, and all the required ones', () => {
    const problems: string[] = [];
    for (const file of FILES) {
      for (const module of file.decls.filter((d) => d.kind === 'module')) {
        const target = posix.join(dirname(file.path), module.target!);
        const callee = byPath(target);
        if (!callee || !existsSync(join(REPO, target))) {
          problems.push(`${file.path}: module ${module.name} → missing file ${target}`);
          continue;
        }
        const params = entry(file.tokens, module.body!, 'params');
        const passed = new Set(params ? objectEntries(file.tokens, params.start).map((e) => e.key) : []);
        const declared = callee.decls.filter((d) => d.kind === 'param');
        for (const name of passed) {
          if (!declared.some((d) => d.name === name)) problems.push(`${file.path}: module ${module.name} passes unknown param ${name}`);
        }
        for (const p of declared) {
          if (!p.hasDefault && !passed.has(p.name)) problems.push(`${file.path}: module ${module.name} misses required param ${p.name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('main.parameters.json names only parameters of main.bicep and gives every required one', () => {
    const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, unknown> };
    const params = MAIN.decls.filter((d) => d.kind === 'param');
    const given = Object.keys(file.parameters);
    expect(given.filter((name) => !params.some((p) => p.name === name))).toEqual([]);
    expect(params.filter((p) => !p.hasDefault && !given.includes(p.name)).map((p) => p.name)).toEqual([]);
  });

  it('describes every parameter and every module output', () => {
    const undescribed = FILES.flatMap((f) =>
      f.decls
        .filter((d) => (d.kind === 'param' || (d.kind === 'output' && f !== MAIN)) && !d.decorators.includes('description'))
        .map((d) => `${f.path}: ${d.kind} ${d.name}`),
    );
    expect(undescribed).toEqual([]);
  });

  it('uses GA API versions, current ones, and one version per resource type', () => {
    // Newest GA versions of these two types are older than 2023; there is nothing more recent to use.
    const oldButNewest = new Set(['Microsoft.Insights/components', 'Microsoft.Authorization/roleAssignments']);
    const versions = new Map<string, Set<string>>();
    const problems: string[] = [];
    for (const file of FILES) {
      for (const r of file.decls.filter((d) => d.kind === 'resource')) {
        const [type, version] = r.target!.split('@') as [string, string | undefined];
        if (!version || !/^\d{4}-\d{2}-\d{2}$/.test(version)) problems.push(`${file.path}: ${r.name} uses ${r.target}`);
        else if (version < '2023-01-01' && !oldButNewest.has(type)) problems.push(`${file.path}: ${r.name} uses old ${r.target}`);
        versions.set(type, new Set([...(versions.get(type) ?? []), version ?? '']));
      }
    }
    for (const [type, set] of versions) if (set.size > 1) problems.push(`${type} in several versions: ${[...set].join(', ')}`);
    expect(problems).toEqual([]);
    expect(versions.size).toBeGreaterThan(20);
  });

  it('gives every resource a name that passes its Azure naming rule', () => {
    // Rules from https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
    const rules: Record<string, RegExp> = {
      identity: /^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/,
      storage: /^[a-z0-9]{3,24}$/,
      deploymentContainer: /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
      relayDeploymentContainer: /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
      logAnalytics: /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/,
      appInsights: /^[^%&\\?/]{1,260}$/,
      keyVault: /^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/,
      redis: /^(?!.*--)[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$/,
      cosmos: /^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$/,
      webPubSub: /^[A-Za-z][A-Za-z0-9-]{1,61}[A-Za-z0-9]$/,
      communication: /^[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]$/,
      // Also the custom subdomain, hence lowercase.
      aiServices: /^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$/,
      plan: /^[A-Za-z0-9-]{1,60}$/,
      relayPlan: /^[A-Za-z0-9-]{1,60}$/,
      functionApp: /^(?!.*--)[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$/,
      relayApp: /^(?!.*--)[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$/,
      systemTopic: /^[A-Za-z0-9-]{3,128}$/,
    };
    const abbrs = JSON.parse(read('infra/abbreviations.json')) as Record<string, string>;
    const namesVar = MAIN.decls.find((d) => d.kind === 'var' && d.name === 'names')!;
    const names = objectEntries(MAIN.tokens, namesVar.valueStart!);
    // uniqueString() yields 13 characters of [a-z0-9].
    const token = 'abcdefghij123';
    const problems: string[] = [];
    for (const e of names) {
      if (e.key === 'resourceGroup') continue; // the user's own name or rg-<environmentName>; any 1-90 characters
      const t = MAIN.tokens[e.start]!;
      const rule = rules[e.key];
      if (!rule || e.end - e.start !== 1 || t.kind !== 'string') {
        problems.push(`names.${e.key}: needs a naming rule here and a plain template value`);
        continue;
      }
      const sample = t.text
        .replace(/\$\{abbrs\.(\w+)\}/g, (_, k: string) => abbrs[k] ?? `<unknown abbreviation ${k}>`)
        .replace(/\$\{resourceToken\}/g, token);
      if (!rule.test(sample)) problems.push(`names.${e.key}: "${sample}" breaks ${rule}`);
    }
    expect(problems).toEqual([]);
    expect(names.length).toBe(Object.keys(rules).length + 1);

    // Durable task hub names: 3-45 letters and digits, starting with a letter.
    const hub = MAIN.decls.find((d) => d.kind === 'param' && d.name === 'durableTaskHubName')!;
    expect(textOf(MAIN.tokens, hub.valueStart!, hub.valueEnd!)).toMatch(/^'[A-Za-z][A-Za-z0-9]{2,44}'$/);
  });

  it('turns local (key) authentication off on every data plane', () => {
    expect(resourceProperty('infra/modules/storage.bicep', 'Microsoft.Storage/storageAccounts', 'allowSharedKeyAccess')).toBe('false');
    expect(resourceProperty('infra/modules/cosmos.bicep', 'Microsoft.DocumentDB/databaseAccounts', 'disableLocalAuth')).toBe('true');
    expect(resourceProperty('infra/modules/ai-services.bicep', 'Microsoft.CognitiveServices/accounts', 'disableLocalAuth')).toBe('true');
    expect(resourceProperty('infra/modules/web-pubsub.bicep', 'Microsoft.SignalRService/webPubSub', 'disableLocalAuth')).toBe('true');
    expect(resourceProperty('infra/modules/monitoring.bicep', 'Microsoft.Insights/components', 'DisableLocalAuth')).toBe('true');
    expect(resourceProperty('infra/modules/redis.bicep', 'Microsoft.Cache/redisEnterprise/databases', 'accessKeysAuthentication')).toBe("'Disabled'");
  });

  it('keeps secrets out of outputs and parameters, and reads keys only where a webhook needs them', () => {
    const problems: string[] = [];
    for (const file of FILES) {
      for (const out of file.decls.filter((d) => d.kind === 'output')) {
        const value = textOf(file.tokens, out.valueStart!, out.valueEnd!);
        // A secret's URI and the App Insights connection string (local auth off) are addresses, not credentials.
        if (/\blist\w*\s*\(|primaryKey|secondaryKey|MasterKey/.test(value) || /password|accessKey/i.test(out.name)) {
          problems.push(`${file.path}: output ${out.name} = ${value}`);
        }
      }
      for (const p of file.decls.filter((d) => d.kind === 'param' && d.decorators.includes('secure') && d.hasDefault)) {
        const value = textOf(file.tokens, p.valueStart!, p.valueEnd!);
        if (!/^'(\$\{newGuid\(\)\})+'$/.test(value)) problems.push(`${file.path}: secure param ${p.name} has a fixed default`);
      }
      if (/\blist\w*\s*\(/.test(file.text) && file.path !== 'infra/modules/app-wiring.bicep') {
        problems.push(`${file.path}: calls a list* function`);
      }
      if (/AccountKey=|AccessKey=|SharedAccessSignature|[?&]sig=/i.test(file.text)) problems.push(`${file.path}: contains a key`);
    }
    expect(problems).toEqual([]);
  });

  it('outputs every endpoint and host the app is configured with', () => {
    const outputs = new Set(MAIN.decls.filter((d) => d.kind === 'output').map((d) => d.name));
    const expected = [
      ...SETTING_NAMES.filter((n) => /_(ENDPOINT|HOST)$/.test(n)),
      'ACS_CALLBACK_BASE_URL',
      'ACS_JWT_AUDIENCE',
      'WEBPUBSUB_HUB',
      'REDIS_PORT',
    ];
    expect(expected.filter((n) => !outputs.has(n))).toEqual([]);
  });

  it('creates the agent definitions container the app is told to read, partitioned as the source writes', () => {
    const cosmos = byPath('infra/modules/cosmos.bicep')!.text;
    const app = byPath('infra/modules/function-app.bicep')!.text;
    const container = /AGENTS_COSMOS_CONTAINER: '([^']+)'/.exec(app)?.[1];
    expect(container).toBe('agentDefinitions');
    expect(cosmos).toContain(`resource: { id: '${container}', partitionKey: { paths: ['/scenario'], kind: 'Hash', version: 2 } }`);
  });

  it('creates the archive containers with the partition keys the archive writes with', () => {
    const cosmos = byPath('infra/modules/cosmos.bicep')!.text;
    const containers = [...cosmos.matchAll(/\{ name: '(\w+)', partitionKey: '([^']+)', ttl: (\{[^}]*\}) \}/g)].map((m) => [m[1], m[2], m[3] !== '{}']);
    expect(containers).toEqual([
      ['transcripts', '/callId', false],
      ['profiles', '/userId', false],
      ['analytics', '/day', false],
      ['audit', '/callId', true],
    ]);
    // Built-in Data Contributor, assigned on the database only.
    expect(cosmos).toContain("var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'");
    expect(resourceProperty('infra/modules/cosmos.bicep', 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments', 'roleDefinitionId')).toBe(
      "'${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'",
    );
    expect(resourceProperty('infra/modules/cosmos.bicep', 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments', 'scope')).toBe(
      "'${account.id}/dbs/${databaseName}'",
    );
  });

  it('wires the Web PubSub system events and IncomingCall to the functions', () => {
    const wiring = byPath('infra/modules/app-wiring.bicep')!.text;
    expect(wiring).toMatch(/urlTemplate: '\$\{appBaseUrl\}\/runtime\/webhooks\/webpubsub\?code=\$\{site::host\.listKeys\(\)\.systemKeys\.webpubsub_extension\}'/);
    expect(wiring).toMatch(/systemEvents: \['connected', 'disconnected'\]/);
    expect(wiring).toMatch(/endpointUrl: '\$\{appBaseUrl\}\/api\/\$\{incomingCallFunctionName\}\?code=\$\{site::incomingCall\.listKeys\(\)\.default\}'/);
    expect(wiring).toMatch(/includedEventTypes: \['Microsoft\.Communication\.IncomingCall'\]/);
    expect(wiring).toMatch(/eventDeliverySchema: 'EventGridSchema'/);
    expect(wiring).toMatch(/key: 'data\.to\.PhoneNumber\.Value'/);
  });

  it('matches azure.yaml to the Function App and ships an executable wiring hook', () => {
    const azureYaml = read('azure.yaml');
    expect(azureYaml).toMatch(/^services:\n {2}api:\n(?: {4}.*\n)*? {4}host: function$/m);
    expect(azureYaml).toMatch(/^ {2}relay:\n(?: {4}.*\n)*? {4}host: function$/m);
    // One module, two apps: the main app (api) and the relay app (relay), each tagged with its service.
    expect(read('infra/modules/function-app.bicep')).toContain("'azd-service-name': serviceName");
    expect(read('infra/main.bicep')).toContain("serviceName: 'api'");
    expect(read('infra/main.bicep')).toContain("serviceName: 'relay'");
    const hooks = [...azureYaml.matchAll(/run: \.\/(\S+)/g)].map((m) => m[1]!);
    expect(hooks).toEqual(['infra/scripts/wire-app-endpoints.sh', 'infra/scripts/wire-app-endpoints.ps1']);
    expect(() => accessSync(join(REPO, hooks[0]!), constants.X_OK)).not.toThrow();
    expect(existsSync(join(REPO, hooks[1]!))).toBe(true);
  });
});
