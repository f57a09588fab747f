/**
 * Web PubSub names of the media path. Each call has two groups: ACS publishes the caller's frames to
 * `call.<id>.in` (its token may send only there) and receives the agent's frames from `call.<id>.out`
 * (joined through its token's groups claim). Relays join the control group to hear about calls.
 */

import { assertValidIdentifier } from '../state/index.js';

export const RELAY_CONTROL_GROUP = 'relays.control';

/** userId of the ACS media connection of a call: the webPubSubTrigger reads the call id back from it. */
const ACS_USER_PREFIX = 'acs-call.';
/** userId of a relay's own connection. */
const RELAY_USER_PREFIX = 'relay.';

export function inboundGroup(callId: string): string {
  return `call.${callId}.in`;
}

export function outboundGroup(callId: string): string {
  return `call.${callId}.out`;
}

/** The call id of an inbound group name, or undefined for any other group. */
export function callIdOfInboundGroup(group: string): string | undefined {
  return group.startsWith('call.') && group.endsWith('.in') ? group.slice(5, -3) : undefined;
}

export function acsUserId(callId: string): string {
  return `${ACS_USER_PREFIX}${callId}`;
}

export function relayUserId(workerId: string): string {
  return `${RELAY_USER_PREFIX}${workerId}`;
}

/** Who a Web PubSub connection belongs to, from the userId the app put in its token. */
export type MediaPeer =
  | { readonly kind: 'acs'; readonly callId: string }
  | { readonly kind: 'relay'; readonly workerId: string }
  | { readonly kind: 'unknown'; readonly reason?: string };

/**
 * A userId naming a call id that cannot be one of ours (it could never have been in a token we
 * minted) is an unknown peer, with the identifier error as the reason: it must not reach the media
 * registry, where every later use of it would fail.
 */
export function peerOf(userId: string | undefined): MediaPeer {
  if (userId?.startsWith(ACS_USER_PREFIX) && userId.length > ACS_USER_PREFIX.length) {
    const callId = userId.slice(ACS_USER_PREFIX.length);
    try {
      assertValidIdentifier(callId);
    } catch (error) {
      return { kind: 'unknown', reason: (error as Error).message };
    }
    return { kind: 'acs', callId };
  }
  if (userId?.startsWith(RELAY_USER_PREFIX) && userId.length > RELAY_USER_PREFIX.length) return { kind: 'relay', workerId: userId.slice(RELAY_USER_PREFIX.length) };
  return { kind: 'unknown' };
}
