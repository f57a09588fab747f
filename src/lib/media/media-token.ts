/**
 * The media `transportUrl` ACS connects to: the Web PubSub client endpoint with a token that may only
 * publish to the call's `.in` group and joins its `.out` group on connect, in `sendToGroup` mode so
 * every frame ACS sends is published to `.in` without any server hop.
 */

import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import { acsUserId, inboundGroup, outboundGroup } from './groups.js';
import { shardOfCall } from './webpubsub-service.js';

/** Minting tokens is all this module needs from the service client. */
export type TokenMinter = Pick<WebPubSubServiceClient, 'getClientAccessToken'>;

export type MediaTokenOptions = {
  /** The token must outlive the longest call (ACS reconnects with the same URL). */
  readonly maxCallDurationSeconds: number;
  /**
   * Extra lifetime on top of the maximum call duration (clock skew, a call answered late).
   * @default 600
   */
  readonly marginSeconds?: number;
};

/** The roles, groups and lifetime of a call's media token (what the token allows, as data). */
export function mediaTokenClaims(callId: string, options: MediaTokenOptions): { userId: string; roles: string[]; groups: string[]; expirationTimeInMinutes: number } {
  const lifetimeSeconds = options.maxCallDurationSeconds + (options.marginSeconds ?? 600);
  return {
    userId: acsUserId(callId),
    roles: [`webpubsub.sendToGroup.${inboundGroup(callId)}`],
    groups: [outboundGroup(callId)],
    expirationTimeInMinutes: Math.ceil(lifetimeSeconds / 60),
  };
}

/**
 * Mints the token and builds `wss://…/client/hubs/<hub>?access_token=…&webpubsub_mode=sendToGroup&group=call.<id>.in`.
 *
 * @example
 * const url = await mediaTransportUrl(service, callId, { maxCallDurationSeconds: config.lifecycle.maxCallDurationSeconds });
 */
export async function mediaTransportUrl(service: TokenMinter, callId: string, options: MediaTokenOptions): Promise<string> {
  const { token, baseUrl } = await service.getClientAccessToken(mediaTokenClaims(callId, options));
  const url = new URL(baseUrl);
  url.searchParams.set('access_token', token);
  url.searchParams.set('webpubsub_mode', 'sendToGroup');
  url.searchParams.set('group', inboundGroup(callId));
  return url.toString();
}

/**
 * The `mediaTransportUrl` port over several Web PubSub resources: the call's shard is chosen by hash of
 * its id and recorded on its session (`mediaShard`) before the token is minted there, so every relay
 * that takes the call later joins its groups on the right resource.
 */
export function shardedMediaTransportUrlFactory(
  services: () => Promise<readonly TokenMinter[]>,
  recordShard: (callId: string, shard: number) => Promise<unknown>,
  options: MediaTokenOptions,
): (callId: string) => Promise<string> {
  return async (callId) => {
    const all = await services();
    const shard = shardOfCall(callId, all.length);
    await recordShard(callId, shard);
    return mediaTransportUrl(all[shard]!, callId, options);
  };
}

