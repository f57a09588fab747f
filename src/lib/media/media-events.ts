/**
 * What the webPubSubTrigger function does with the media hub's `connected` / `disconnected` system
 * events. ACS connections (userId `acs-call.<id>`) are recorded on the call session and in the registry
 * of live media calls, and announced on the relays' control group; the relay of this process, if any,
 * gets the call directly too. A relay's own connection going away is announced as `relay-lost` so the
 * others take its calls over.
 */

import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { SessionStore } from '../state/session-store.js';
import type { Logger } from '../telemetry/logger.js';
import { peerOf, RELAY_CONTROL_GROUP } from './groups.js';
import type { LocalRelay } from './local-relay.js';
import type { RelayControlMessage } from './relay-control.js';

export type MediaSystemEvent = {
  readonly eventName: 'connected' | 'disconnected';
  readonly hub: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly reason?: string | undefined;
};

export type MediaEventDeps = {
  readonly store: SessionStore;
  readonly service: () => Promise<Pick<WebPubSubServiceClient, 'group'>>;
  readonly localRelay: LocalRelay | undefined;
  readonly logger: Logger;
};

export type MediaEventOutcome = { readonly handled: 'acs' | 'relay' | 'ignored'; readonly announced?: RelayControlMessage };

export async function handleMediaSystemEvent(event: MediaSystemEvent, deps: MediaEventDeps): Promise<MediaEventOutcome> {
  const peer = peerOf(event.userId);
  if (peer.kind === 'relay') {
    if (event.eventName !== 'disconnected') return { handled: 'relay' };
    const announced: RelayControlMessage = { type: 'relay-lost', workerId: peer.workerId };
    await announce(announced, deps);
    deps.logger.warn('media relay connection lost', { workerId: peer.workerId, reason: event.reason });
    return { handled: 'relay', announced };
  }
  if (peer.kind !== 'acs') {
    deps.logger.info('media connection of an unknown peer ignored', { connectionId: event.connectionId, eventName: event.eventName, reason: peer.reason });
    return { handled: 'ignored' };
  }
  const { callId } = peer;
  const connected = event.eventName === 'connected';
  const { connectionId } = event;
  await Promise.all([
    deps.store
      .updateCallSession(callId, connected ? { mediaState: 'connected', mediaConnectionId: connectionId } : { mediaState: 'disconnected' })
      .catch((error: unknown) => deps.logger.warn('media state not recorded', { callId, error: error as Error })),
    // The registry is how a relay started later finds the calls in progress (see relay.ts).
    (connected ? deps.store.registerMediaCall(callId, connectionId) : deps.store.unregisterMediaCall(callId, connectionId)).catch((error: unknown) =>
      deps.logger.warn('media call registry not updated', { callId, error: error as Error }),
    ),
  ]);
  const announced: RelayControlMessage = connected ? { type: 'call-connected', callId, connectionId } : { type: 'call-disconnected', callId, connectionId };
  // The local relay first (no round trip through the service); every relay hears the announcement.
  const local = deps.localRelay;
  if (local) {
    const handOff = connected ? local.handleConnected(callId, connectionId) : local.handleDisconnected(callId, connectionId);
    void Promise.resolve(handOff).catch((error: unknown) => deps.logger.error('local relay failed to take the call', { callId, error: error as Error }));
  }
  await announce(announced, deps);
  deps.logger.info(connected ? 'media connected' : 'media disconnected', { callId, connectionId: event.connectionId });
  return { handled: 'acs', announced };
}

async function announce(message: RelayControlMessage, deps: MediaEventDeps): Promise<void> {
  await (await deps.service()).group(RELAY_CONTROL_GROUP).sendToAll(message);
}
