/**
 * The Web PubSub service client (REST data plane and token minting) of one process, from config:
 * the connection string's key for local runs, managed identity otherwise. `http://` endpoints (the
 * emulator) need `allowInsecureConnection`.
 */

import { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { AppConfig } from '../config/index.js';

export class MediaConfigError extends Error {
  override name = 'MediaConfigError';
}

export async function createWebPubSubService(config: Pick<AppConfig, 'webPubSub' | 'managedIdentityClientId'>): Promise<WebPubSubServiceClient> {
  const { connectionString, endpoint, hub } = config.webPubSub;
  if (connectionString) {
    const insecure = /endpoint=http:\/\//i.test(connectionString);
    return new WebPubSubServiceClient(connectionString, hub, { allowInsecureConnection: insecure });
  }
  if (!endpoint) throw new MediaConfigError('WEBPUBSUB_ENDPOINT or WEBPUBSUB_CONNECTION_STRING is required for media');
  // Imported lazily: MSAL is heavy and local runs with a key never need it.
  const { DefaultAzureCredential } = await import('@azure/identity');
  const credential = new DefaultAzureCredential(config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {});
  return new WebPubSubServiceClient(endpoint, credential, hub, { allowInsecureConnection: endpoint.startsWith('http://') });
}
