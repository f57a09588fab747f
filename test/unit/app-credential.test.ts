import type { AccessToken, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { createCosmosClient } from '../../src/lib/archive/client.js';
import { appCredential } from '../../src/lib/app/credential.js';
import { createApp } from '../../src/lib/app/index.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { createWebPubSubService } from '../../src/lib/media/webpubsub-service.js';
import { baseEnv } from '../support/env.js';

/**
 * One identity per app: the composition root creates one credential and every client that is not given
 * a key gets it; a factory given no credential refuses with an error that says so. The credential is the
 * stand-in here (Entra ID cannot run offline): it records the scopes it is asked for. No client below
 * sends a request, so nothing else is stubbed.
 */
function recordingCredential(): { credential: TokenCredential; scopes: string[] } {
  const scopes: string[] = [];
  const credential: TokenCredential = {
    getToken: async (scope): Promise<AccessToken> => {
      scopes.push(...[scope].flat());
      return { token: 'entra-token', expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return { credential, scopes };
}

const cloudEnv = () =>
  baseEnv({
    ACS_CONNECTION_STRING: undefined,
    ACS_ENDPOINT: 'https://acs.example.communication.azure.com',
    MEDIA_MODE: 'realtime',
    WEBPUBSUB_ENDPOINT: 'https://wps.example.webpubsub.azure.com',
    AZURE_OPENAI_ENDPOINT: 'https://aoai.example.openai.azure.com',
    LOG_LEVEL: 'error',
  });

describe('the app credential', () => {
  it('is created once per app and shared by the ACS and Web PubSub clients and the Azure OpenAI tokens', async () => {
    // Prepare
    const { credential, scopes } = recordingCredential();
    let created = 0;
    const app = createApp(loadConfig(cloudEnv()), {
      credential: async () => {
        created += 1;
        return credential;
      },
    });
    // Act
    await Promise.all([app.acs(), app.acs(), app.webPubSub(), app.webPubSubShards()]);
    const clientsAsked = created;
    const token = await app.cognitiveServicesToken();
    // Assess: each client, built once, asked the app's credential (none made one of its own)
    expect(clientsAsked).toBe(3);
    expect(await app.credential()).toBe(credential);
    expect(token).toBe('entra-token');
    expect(scopes).toEqual(['https://cognitiveservices.azure.com/.default']);
  });

  it("is one DefaultAzureCredential for the app's lifetime, created on first use", async () => {
    // Prepare
    const source = appCredential('00000000-0000-0000-0000-000000000001');
    // Act
    const [a, b] = await Promise.all([source(), source()]);
    // Assess
    expect(a).toBe(b);
    expect(a.constructor.name).toBe('DefaultAzureCredential');
  });

  it('is required by a factory reaching a service by endpoint, and the refusal says so', async () => {
    // Prepare
    const config = loadConfig(cloudEnv());
    const { credential } = recordingCredential();
    // Act
    const cosmosWithout = createCosmosClient({ ...config.cosmos, key: undefined });
    const cosmosWith = createCosmosClient({ ...config.cosmos, key: undefined }, { credential: async () => credential });
    const wpsWithout = createWebPubSubService(config);
    // Assess
    await expect(cosmosWithout).rejects.toThrow(/needs the app credential/);
    expect(typeof (await cosmosWith).database).toBe('function');
    await expect(wpsWithout).rejects.toThrow(/needs the app credential/);
  });
});
