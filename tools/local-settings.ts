/**
 * A local.settings.json for running this app on a developer machine against a deployed environment,
 * from the environment's `azd env get-values`: every endpoint comes from the deployment's outputs, auth
 * is the developer's own Entra sign-in (DefaultAzureCredential; the deployment grants it the data-plane
 * roles when provisioned with GRANT_DEVELOPER_ACCESS=true), and nothing the app identity owns is copied
 * (AZURE_CLIENT_ID would make the credential look for a managed identity that does not exist locally).
 */
import { randomBytes } from 'node:crypto';
import { SETTINGS, SETTING_NAMES, type SettingName } from '../src/lib/config/settings.js';

export interface LocalSettingsOptions {
  /** Public HTTPS base where ACS can reach this machine (a dev tunnel); without it only the local callers work. */
  readonly callbackBaseUrl?: string;
  /** Secret values read from the environment's Key Vault (`--with-secrets`); otherwise fresh local ones. */
  readonly secrets?: { readonly callbackSigningKey?: string; readonly userIdSalt?: string };
  readonly randomSecret?: () => string;
}

export interface LocalSettings {
  readonly IsEncrypted: false;
  readonly Values: Record<string, string>;
  readonly Host: { readonly CORS: string };
}

/** Outputs of infra/main.bicep copied as they are: the output name is the setting name. */
const COPIED: readonly SettingName[] = [
  'REDIS_HOST',
  'REDIS_PORT',
  'COSMOS_ENDPOINT',
  'COSMOS_DATABASE',
  'ACS_ENDPOINT',
  'ACS_JWT_AUDIENCE',
  'WEBPUBSUB_ENDPOINT',
  'WEBPUBSUB_HUB',
  'COGNITIVE_SERVICES_ENDPOINT',
  'AZURE_OPENAI_ENDPOINT',
];

export class LocalSettingsError extends Error {
  override readonly name = 'LocalSettingsError';
}

export function localSettingsFromAzd(env: Readonly<Record<string, string>>, options: LocalSettingsOptions = {}): LocalSettings {
  const missing = ['REDIS_HOST', 'COSMOS_ENDPOINT', 'ACS_ENDPOINT'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new LocalSettingsError(`azd env get-values lacks ${missing.join(', ')}: run \`azd provision\` first (or pick the environment with -e)`);
  }
  if (env.DEVELOPER_ACCESS_GRANTED !== 'true') {
    // Not fatal: the roles may have been granted by hand. Said, because otherwise every call fails with 403.
    console.warn(
      'local-settings: this environment was not provisioned with developer access; run `azd env set GRANT_DEVELOPER_ACCESS true && azd env set APP_ENV dev && azd provision`, or grant the roles yourself',
    );
  }
  const random = options.randomSecret ?? (() => randomBytes(32).toString('base64url'));
  const values: Record<string, string> = {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    // Durable Functions' task hub stays local (Azurite): a developer's orchestrations must not mix with the deployed app's.
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    AzureWebJobsFeatureFlags: 'EnableWorkerIndexing',
    DURABLE_TASK_HUB: 'rtvoicelocal',
  };
  for (const name of SETTING_NAMES) values[name] = SETTINGS[name].sample;
  for (const name of COPIED) if (env[name]) values[name] = env[name];
  Object.assign(values, {
    APP_ENV: 'dev',
    // Azure Managed Redis as deployed: TLS, OSS cluster policy, Entra ID only.
    REDIS_TLS: 'true',
    REDIS_CLUSTER: 'true',
    REDIS_AUTH: 'entra',
    AZURE_CLIENT_ID: '',
    AGENT_MODE: 'azure-openai',
    MEDIA_MODE: 'off',
    RELAY_ENABLED: 'false',
    ACS_CALLBACK_BASE_URL: options.callbackBaseUrl ?? 'http://localhost:7071',
    ACS_CALLBACK_SIGNING_KEY: options.secrets?.callbackSigningKey ?? random(),
  });
  if (options.secrets?.userIdSalt) values.USER_ID_SALT = options.secrets.userIdSalt;
  return { IsEncrypted: false, Values: values, Host: { CORS: '*' } };
}
