/**
 * The Web PubSub service clients (REST data plane and token minting) of one process, from config: one
 * per shard, with the connection string's key for local runs, managed identity otherwise. `http://`
 * endpoints (the emulator) need `allowInsecureConnection`.
 */

import { createHash } from 'node:crypto';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { AppError } from '../errors.js';
import type { AppConfig } from '../config/index.js';
import { resolveCredential, type CredentialInput } from '../app/credential.js';

export class MediaConfigError extends AppError {
  override name = 'MediaConfigError';
}

type WebPubSubSettings = Pick<AppConfig, 'webPubSub'>;

export interface WebPubSubClientOptions {
  /** The app's credential, used for a shard given by endpoint (managed identity in the cloud). */
  readonly credential?: CredentialInput | undefined;
}

/** The client of one shard (shard 0 also carries the relays' control group). */
export async function createWebPubSubService(config: WebPubSubSettings, shard = 0, options: WebPubSubClientOptions = {}): Promise<WebPubSubServiceClient> {
  const { hub, shards } = config.webPubSub;
  const settings = shards[shard];
  if (!settings) {
    if (shard === 0) throw new MediaConfigError('WEBPUBSUB_ENDPOINT or WEBPUBSUB_CONNECTION_STRING is required for media');
    throw new MediaConfigError(`Web PubSub shard ${shard} is not configured (${shards.length} configured)`);
  }
  if (settings.connectionString) {
    const insecure = /endpoint=http:\/\//i.test(settings.connectionString);
    return new WebPubSubServiceClient(settings.connectionString, hub, { allowInsecureConnection: insecure });
  }
  const endpoint = settings.endpoint ?? '';
  if (!options.credential) throw new MediaConfigError(`Web PubSub shard ${shard} is given by endpoint and needs the app credential`);
  return new WebPubSubServiceClient(endpoint, await resolveCredential(options.credential), hub, { allowInsecureConnection: endpoint.startsWith('http://') });
}

/** Every shard's client, in shard order. */
export async function createWebPubSubServices(config: WebPubSubSettings, options: WebPubSubClientOptions = {}): Promise<WebPubSubServiceClient[]> {
  const count = Math.max(1, config.webPubSub.shards.length);
  return Promise.all(Array.from({ length: count }, (_, shard) => createWebPubSubService(config, shard, options)));
}

/**
 * The shard a call's media goes through, by hash of its call id: stable across redeliveries of the
 * IncomingCall (a retried answer mints its token on the same resource), spread evenly at scale.
 */
export function shardOfCall(callId: string, shardCount: number): number {
  if (shardCount <= 1) return 0;
  return createHash('sha256').update(callId).digest().readUInt32BE(0) % shardCount;
}
