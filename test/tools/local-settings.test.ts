import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config/index.js';
import { AzdEnvError, parseAzdEnv } from '../../tools/azd-env.js';
import { LocalSettingsError, localSettingsFromAzd } from '../../tools/local-settings.js';

/** `azd env get-values` of a provisioned environment, as azd prints it (outputs of infra/main.bicep). */
const AZD_OUTPUT = [
  'ACS_ENDPOINT="https://acs-abc.unitedstates.communication.azure.com"',
  'ACS_JWT_AUDIENCE="0d6b6e9f-1d7c-4c4e-9a59-3f1c1c8e2a10"',
  'AZURE_CLIENT_ID="11111111-2222-3333-4444-555555555555"',
  'AZURE_ENV_NAME="dev-jane"',
  'AZURE_KEY_VAULT_NAME="kv-abc"',
  'AZURE_OPENAI_ENDPOINT="https://ai-abc.openai.azure.com"',
  'COGNITIVE_SERVICES_ENDPOINT="https://ai-abc.cognitiveservices.azure.com/"',
  'COSMOS_DATABASE="rtvoice"',
  'COSMOS_ENDPOINT="https://cosmos-abc.documents.azure.com:443/"',
  'DEVELOPER_ACCESS_GRANTED="true"',
  'REDIS_HOST="redis-abc.eastus2.redis.azure.net"',
  'REDIS_PORT="10000"',
  'SOME_NOTE="say \\"hi\\" \\$HOME\\nnext"',
  'WEBPUBSUB_ENDPOINT="https://wps-abc.webpubsub.azure.com"',
  'WEBPUBSUB_HUB="media"',
  '',
].join('\n');

describe('azd env get-values → local.settings.json', () => {
  it('parses azd quoting, escapes included', () => {
    const env = parseAzdEnv(AZD_OUTPUT);
    expect(env.REDIS_PORT).toBe('10000');
    expect(env.SOME_NOTE).toBe('say "hi" $HOME\nnext');
    expect(() => parseAzdEnv('BROKEN="open')).toThrow(AzdEnvError);
    expect(() => parseAzdEnv('no equals sign')).toThrow(/line 1/);
  });

  it('gives settings the app accepts, pointed at the deployed resources with the developer as identity', () => {
    const settings = localSettingsFromAzd(parseAzdEnv(AZD_OUTPUT), { callbackBaseUrl: 'https://abc-7071.euw.devtunnels.ms' });
    const config = loadConfig(settings.Values);
    expect(config.redis).toMatchObject({ host: 'redis-abc.eastus2.redis.azure.net', port: 10000, tls: true, cluster: true, auth: 'entra' });
    expect(config.cosmos).toMatchObject({ endpoint: 'https://cosmos-abc.documents.azure.com:443', key: undefined });
    expect(config.acs.endpoint).toBe('https://acs-abc.unitedstates.communication.azure.com');
    expect(config.acs.connectionString).toBeUndefined();
    expect(config.acs.callbackBaseUrl).toBe('https://abc-7071.euw.devtunnels.ms');
    expect(config.agent).toMatchObject({ mode: 'azure-openai', endpoint: 'https://ai-abc.openai.azure.com', apiKey: undefined });
    expect(config.env).toBe('dev');
    // The deployed app's managed identity does not exist on a laptop: the developer's sign-in is used.
    expect(config.managedIdentityClientId).toBeUndefined();
    expect(settings.Values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(settings.Values.ACS_CALLBACK_SIGNING_KEY!.length).toBeGreaterThanOrEqual(32);
  });

  it('uses the Key Vault secrets when given, and refuses an environment that was never provisioned', () => {
    const key = 'k'.repeat(40);
    const salt = 's'.repeat(40);
    const settings = localSettingsFromAzd(parseAzdEnv(AZD_OUTPUT), { secrets: { callbackSigningKey: key, userIdSalt: salt } });
    expect(settings.Values.ACS_CALLBACK_SIGNING_KEY).toBe(key);
    expect(settings.Values.USER_ID_SALT).toBe(salt);
    expect(() => localSettingsFromAzd({ AZURE_ENV_NAME: 'x' })).toThrow(LocalSettingsError);
    expect(() => localSettingsFromAzd({ AZURE_ENV_NAME: 'x' })).toThrow(/REDIS_HOST, COSMOS_ENDPOINT, ACS_ENDPOINT/);
  });
});
