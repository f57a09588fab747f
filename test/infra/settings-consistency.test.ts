import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config/index.js';
import { declarations, entry, literalNumber, literalString, textOf, tokenize } from './bicep-text.js';
import { resolveDefaultAppSettings } from './resolve-settings.js';
import { settingsProblems } from './settings-problems.js';
import { gatherSources, read, type SettingsSources } from './settings-sources.js';

/**
 * The deployment must set every setting the code reads, by identity, and nothing else. The Bicep
 * compiler cannot run offline, so infra/ is read as text (test/infra/bicep-text.ts).
 */

// Values that exist only once Azure has created the resources, shaped like the real ones.
const DEPLOYMENT_TIME_VALUES: Readonly<Record<string, string>> = {
  REDIS_HOST: 'redis-abcdefghij123.eastus2.redis.azure.net',
  AZURE_CLIENT_ID: '6f1d3a52-0000-4000-8000-000000000001',
  COSMOS_ENDPOINT: 'https://cosmos-abcdefghij123.documents.azure.com:443/',
  COSMOS_DATABASE: 'rtvoice',
  ACS_ENDPOINT: 'https://acs-abcdefghij123.unitedstates.communication.azure.com',
  ACS_CALLBACK_BASE_URL: 'https://func-abcdefghij123.azurewebsites.net',
  // What App Service puts in place of the Key Vault reference: two GUIDs, as main.bicep generates.
  ACS_CALLBACK_SIGNING_KEY: `${crypto.randomUUID()}${crypto.randomUUID()}`,
  USER_ID_SALT: `${crypto.randomUUID()}${crypto.randomUUID()}`,
  ACS_JWT_AUDIENCE: '2b6c1c0e-0000-4000-8000-000000000002',
  COGNITIVE_SERVICES_ENDPOINT: 'https://ais-abcdefghij123.cognitiveservices.azure.com/',
  WEBPUBSUB_ENDPOINT: 'https://wps-abcdefghij123.webpubsub.azure.com',
  WEBPUBSUB_ENDPOINTS: 'https://wps-abcdefghij123.webpubsub.azure.com',
  AZURE_OPENAI_ENDPOINT: 'https://ais-abcdefghij123.openai.azure.com',
  AGENTS_BLOB_CONTAINER_URL: 'https://stabcdefghij123.blob.core.windows.net/agent-definitions',
};

describe('infrastructure settings', () => {
  it('sets every setting the code reads, nothing else, and lists the same in local.settings.sample.json', () => {
    // Prepare
    const sources = gatherSources();

    // Act
    const problems = settingsProblems(sources);

    // Assess
    expect(sources.infra.length).toBeGreaterThan(30);
    expect(problems).toEqual([]);
  });

  it('gives the config module a valid production configuration with the default parameters', () => {
    // Prepare
    const resolved = resolveDefaultAppSettings();
    const env: Record<string, string> = {};
    const unknown: string[] = [];
    for (const setting of resolved) {
      const value = setting.value ?? DEPLOYMENT_TIME_VALUES[setting.name];
      if (value !== undefined) env[setting.name] = value;
      else if (!/^(AzureWebJobs|APPLICATIONINSIGHTS_)/.test(setting.name)) unknown.push(`${setting.name} <- ${setting.source}`);
    }
    expect(unknown, 'add a realistic value to DEPLOYMENT_TIME_VALUES').toEqual([]);

    // Act
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(env);
    } catch (err) {
      throw new Error(err instanceof ConfigError ? err.message : String(err), { cause: err });
    }

    // Assess
    expect(config.env).toBe('prod');
    expect(config.redis).toMatchObject({ port: 10000, tls: true, cluster: true, auth: 'entra', password: undefined });
    expect(config.cosmos.key).toBeUndefined();
    expect(config.acs.connectionString).toBeUndefined();
    expect(config.webPubSub).toMatchObject({ connectionString: undefined, hub: 'media', mediaMode: 'realtime', relayEnabled: false });
    expect(config.agent).toMatchObject({ mode: 'azure-openai', apiKey: undefined });
    expect(config.acs.callbackAuth).toBe('jwt+signature');
  });

  it('configures the Redis client the way Azure Managed Redis is deployed', () => {
    // Prepare
    const tokens = tokenize(read('infra/modules/redis.bicep'));
    const db = declarations(tokens).find((d) => d.target?.startsWith('Microsoft.Cache/redisEnterprise/databases@'));
    const props = db?.body === undefined ? undefined : entry(tokens, db.body, 'properties');
    const app = new Map(gatherSources().infra.map((s) => [s.name, s.literal]));

    // Act
    const prop = (key: string) => {
      const e = props && entry(tokens, props.start, key);
      return e && (literalString(tokens, e) ?? literalNumber(tokens, e));
    };

    // Assess
    expect(props, 'redis.bicep declares the database properties').toBeDefined();
    expect(String(prop('port'))).toBe(app.get('REDIS_PORT'));
    expect(prop('clusteringPolicy') === 'OSSCluster').toBe(app.get('REDIS_CLUSTER') === 'true');
    expect(prop('clientProtocol') === 'Encrypted').toBe(app.get('REDIS_TLS') === 'true');
    expect(prop('accessKeysAuthentication')).toBe('Disabled');
    expect(app.get('REDIS_AUTH')).toBe('entra');
  });

  it.each([
    ['callback signing key', 'acsCallbackSigningKey', 'callbackSigningKeyExists', 'ACS_CALLBACK_SIGNING_KEY_EXISTS'],
    ['user id salt', 'userIdSalt', 'userIdSaltExists', 'USER_ID_SALT_EXISTS'],
  ])('generates a %s the config module accepts, as a secure parameter, once', (_what, paramName, existsParam, existsOutput) => {
    // Prepare
    const tokens = tokenize(read('infra/main.bicep'));
    const decls = declarations(tokens);
    const param = decls.find((d) => d.kind === 'param' && d.name === paramName);
    const parameters = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };

    // Act
    const defaultText = param ? textOf(tokens, param.valueStart!, param.valueEnd!) : '';
    const guids = defaultText.match(/\$\{newGuid\(\)\}/g) ?? [];
    const output = decls.find((d) => d.kind === 'output' && d.name === existsOutput);

    // Assess
    expect(param?.decorators).toContain('secure');
    expect(defaultText).toMatch(/^'(\$\{newGuid\(\)\})+'$/);
    expect(guids.length * 36).toBeGreaterThanOrEqual(32);
    // Later deployments keep the secret: azd feeds the output back as the parameter that skips creating it.
    expect(output && textOf(tokens, output.valueStart!, output.valueEnd!)).toBe('true');
    expect(parameters.parameters[existsParam]?.value).toBe(`\${${existsOutput}=false}`);
    expect(read('azure.yaml')).toContain(`azd env set ${existsOutput} false`);
  });
});

describe('settingsProblems', () => {
  const accepts = (v: string) => v !== 'bad';
  const base = (): SettingsSources => ({
    settings: [
      { name: 'APP_SETTING', local: false, secret: false, accepts },
      { name: 'LOCAL_KEY', local: true, secret: true, accepts },
      { name: 'SIGNING_KEY', local: false, secret: true, accepts },
    ],
    hostJson: ['TASK_HUB'],
    bindings: ['PUBSUB'],
    envReads: [{ name: 'APP_SETTING', file: 'src/a.ts' }],
    infra: [
      { name: 'AzureWebJobsStorage__accountName', literal: undefined, text: 'storageAccountName' },
      { name: 'APP_SETTING', literal: 'ok', text: "'ok'" },
      { name: 'SIGNING_KEY', literal: undefined, text: "'@Microsoft.KeyVault(SecretUri=${uri})'" },
      { name: 'TASK_HUB', literal: 'hub', text: "'hub'" },
      { name: 'PUBSUB__serviceUri', literal: undefined, text: 'endpoint' },
    ],
    sample: ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage', 'APP_SETTING', 'LOCAL_KEY', 'SIGNING_KEY', 'TASK_HUB', 'PUBSUB'],
  });
  const withInfra = (change: (infra: SettingsSources['infra']) => SettingsSources['infra']) => {
    const s = base();
    return { ...s, infra: change(s.infra) };
  };

  it('finds nothing wrong in a consistent set', () => {
    expect(settingsProblems(base())).toEqual([]);
  });

  it('reports a setting the code reads that infra does not set', () => {
    const problems = settingsProblems(withInfra((i) => i.filter((x) => x.name !== 'APP_SETTING')));
    expect(problems).toEqual(['APP_SETTING: read by the config module but not set by infra']);
  });

  it('reports a setting infra sets that nothing reads', () => {
    const problems = settingsProblems(withInfra((i) => [...i, { name: 'STALE', literal: 'x', text: "'x'" }]));
    expect(problems).toEqual(['STALE: set by infra but nothing reads it']);
  });

  it('reports key-based settings, host settings Flex rejects, and secrets not from Key Vault', () => {
    const problems = settingsProblems(
      withInfra((i) => [
        ...i.filter((x) => x.name !== 'SIGNING_KEY'),
        { name: 'LOCAL_KEY', literal: 'k', text: "'k'" },
        { name: 'FUNCTIONS_WORKER_RUNTIME', literal: 'node', text: "'node'" },
        { name: 'SIGNING_KEY', literal: 'plain', text: "'plain'" },
      ]),
    );
    expect(problems).toEqual([
      "LOCAL_KEY: key-based (scope 'local') setting must not be set by infra; production uses managed identity",
      expect.stringMatching(/^FUNCTIONS_WORKER_RUNTIME: host setting not to be set in Azure/),
      "SIGNING_KEY: a secret; infra must set it as a Key Vault reference, got 'plain'",
    ]);
  });

  it('reports a literal value the config module would reject at start-up', () => {
    const problems = settingsProblems(withInfra((i) => i.map((x) => (x.name === 'APP_SETTING' ? { ...x, literal: 'bad', text: "'bad'" } : x))));
    expect(problems).toEqual(['APP_SETTING: infra sets "bad", which the config module rejects']);
  });

  it('reports host.json and binding references that are not set, and key-based host storage', () => {
    const problems = settingsProblems(
      withInfra((i) => i.filter((x) => !['TASK_HUB', 'PUBSUB__serviceUri', 'AzureWebJobsStorage__accountName'].includes(x.name))),
    );
    expect(problems).toEqual([
      'TASK_HUB: referenced by host.json but not set by infra',
      'PUBSUB: used by a function binding but not set by infra (as PUBSUB or PUBSUB__*)',
      'AzureWebJobsStorage__accountName: the host must reach its storage by identity',
    ]);
  });

  it('reports process.env reads that bypass the config module', () => {
    const s = base();
    const problems = settingsProblems({ ...s, envReads: [...s.envReads, { name: 'SNEAKY', file: 'src/lib/x.ts' }] });
    expect(problems).toEqual(['SNEAKY: read from process.env in src/lib/x.ts but not declared in SETTINGS']);
  });

  it('reports a sample that misses a setting, lists an unknown one, or carries an Azure-only host setting', () => {
    const s = base();
    const sample = [...s.sample.filter((n) => n !== 'LOCAL_KEY'), 'OLD_SETTING', 'AzureWebJobsStorage__accountName'];
    expect(settingsProblems({ ...s, sample })).toEqual([
      'LOCAL_KEY: in SETTINGS but missing from local.settings.sample.json',
      'OLD_SETTING: in local.settings.sample.json but nothing reads it',
      expect.stringMatching(/^AzureWebJobsStorage__accountName: host setting for Azure only/),
    ]);
  });
});
