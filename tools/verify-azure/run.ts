/**
 * Runs every check of a deployed environment from its `azd env get-values` and reports them.
 * Authentication is the signed-in principal (DefaultAzureCredential: `az login` / `azd auth login`), or
 * with `--credential managed` the user-assigned identity named by AZURE_CLIENT_ID, where that identity is
 * attached to the machine running the check.
 */
import type { TokenCredential } from '@azure/identity';
import { loadConfig } from '../../src/lib/config/index.js';
import { createCosmosClient } from '../../src/lib/archive/client.js';
import { createWebPubSubService } from '../../src/lib/media/webpubsub-service.js';
import { localSettingsFromAzd } from '../local-settings.js';
import { checkCosmos, checkEventGridSubscription, checkFunctionKeys, checkHealth, checkRedis, checkWebPubSub, type Arm, type CheckResult } from './checks.js';

export const REQUIRED_OUTPUTS = [
  'SERVICE_API_URI',
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_RESOURCE_GROUP',
  'AZURE_FUNCTION_APP_NAME',
  'EVENT_GRID_SYSTEM_TOPIC',
  'ACS_ENDPOINT',
  'REDIS_HOST',
  'REDIS_PORT',
  'COSMOS_ENDPOINT',
  'COSMOS_DATABASE',
  'WEBPUBSUB_ENDPOINT',
  'WEBPUBSUB_HUB',
] as const;

export function armClient(credential: TokenCredential, fetchImpl: typeof fetch = fetch): Arm {
  return {
    async request(method, path, apiVersion) {
      const token = await credential.getToken('https://management.azure.com/.default');
      if (!token) throw new Error('no management token for the signed-in principal');
      const res = await fetchImpl(`https://management.azure.com${path}?api-version=${apiVersion}`, {
        method,
        headers: { authorization: `Bearer ${token.token}`, 'content-length': '0' },
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, json };
    },
  };
}

export async function verifyEnvironment(env: Readonly<Record<string, string>>, credential: TokenCredential): Promise<CheckResult[]> {
  const missing = REQUIRED_OUTPUTS.filter((name) => !env[name]);
  if (missing.length > 0) return [{ name: 'environment', ok: false, reason: `azd env get-values lacks ${missing.join(', ')}: provision first` }];
  // The clients the app itself builds, from the deployment's outputs, signed in as `credential`.
  const config = loadConfig({ ...localSettingsFromAzd(env, { randomSecret: () => 'v'.repeat(43) }).Values, MEDIA_MODE: 'off' });
  const ids = {
    subscriptionId: env.AZURE_SUBSCRIPTION_ID!,
    resourceGroup: env.AZURE_RESOURCE_GROUP!,
    functionAppName: env.AZURE_FUNCTION_APP_NAME!,
    systemTopicName: env.EVENT_GRID_SYSTEM_TOPIC!,
    appBaseUrl: env.SERVICE_API_URI!,
  };
  const arm = armClient(credential);
  const results: CheckResult[] = [];
  results.push(await checkHealth(env.SERVICE_API_URI!));
  results.push(await checkRedis(config.redis, { credential }));
  results.push(await createCosmosClient(config.cosmos, { credential }).then((c) => checkCosmos(c, config.cosmos.database)));
  results.push(await createWebPubSubServiceAs(config, credential).then((s) => checkWebPubSub(s)));
  results.push(await checkEventGridSubscription(arm, ids));
  results.push(await checkFunctionKeys(arm, ids));
  return results;
}

async function createWebPubSubServiceAs(config: ReturnType<typeof loadConfig>, credential: TokenCredential) {
  const { WebPubSubServiceClient } = await import('@azure/web-pubsub');
  if (!config.webPubSub.endpoint) return createWebPubSubService(config);
  return new WebPubSubServiceClient(config.webPubSub.endpoint, credential, config.webPubSub.hub);
}

export function report(results: readonly CheckResult[]): string {
  return results
    .map((r) => {
      const facts = r.facts ? Object.entries(r.facts).filter(([k]) => k !== 'detail') : [];
      return `${r.ok ? 'PASS' : 'FAIL'}  ${r.name} — ${r.reason}${facts.length ? ` [${facts.map(([k, v]) => `${k}=${v}`).join(', ')}]` : ''}`;
    })
    .join('\n');
}
