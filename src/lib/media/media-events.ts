/**
 * What the webPubSubTrigger function does with the media hub's `connected` / `disconnected` system
 * events. ACS connections (userId `acs-call.<id>`) are recorded on the call session and in the registry
 * of live media calls, and announced on the relays' control group, where every relay races for the call
 * (the function never hands the call to a relay of its own instance: the instance that runs it is an
 * on-demand one, see relay-host.ts). A relay's own connection going away is announced as `relay-lost` so
 * the others take its calls over.
 *
 * Fencing. Only the call's current media connection can start or end its media: a `disconnected` for an
 * older connection (after ACS reconnected the call's media, or events crossing) changes nothing, so the
 * live call stays in the registry and with its relay. Events for a call that has ended (its session is
 * gone, or says so) are acknowledged and ignored: nothing is written and nothing announced, so no relay
 * claims it and no key is left behind.
 */

import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { CallMediaView, CallSessions, CallState, RelayLeases } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import { peerOf, RELAY_CONTROL_GROUP } from './groups.js';
import type { RelayControlMessage } from './relay-control.js';

export type MediaSystemEvent = {
  readonly eventName: 'connected' | 'disconnected';
  readonly hub: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly reason?: string | undefined;
};

export type MediaEventDeps = {
  /** The live-media registry. */
  readonly leases: Pick<RelayLeases, 'registerMediaCall' | 'unregisterMediaCall'>;
  readonly sessions: CallSessions;
  readonly service: () => Promise<Pick<WebPubSubServiceClient, 'group'>>;
  readonly logger: Logger;
};

/** Why an ACS media event changed nothing. */
export type IgnoredBecause = 'call-ended' | 'stale-connection';

export type MediaEventOutcome = {
  readonly handled: 'acs' | 'relay' | 'ignored';
  readonly announced?: RelayControlMessage;
  readonly ignoredBecause?: IgnoredBecause;
};

/** States after which a call has no media to start: its lifecycle is over or never began. */
const ENDED_STATES: ReadonlySet<CallState> = new Set(['disconnected', 'answer_failed']);

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
  const { connectionId } = event;
  // Unreadable (Redis away): the event is announced unfenced; relays fence by connection and read the
  // session again before they claim.
  let view: CallMediaView | undefined;
  try {
    view = await deps.sessions.mediaView(callId);
  } catch (error) {
    deps.logger.warn('call session unreadable; media event announced unfenced', { callId, error: error as Error });
  }
  const known = view !== undefined;
  const session = view?.session;
  if (event.eventName === 'connected') {
    if (known && (session === undefined || ENDED_STATES.has(session.state))) return ignore('call-ended', event, callId, deps);
    await Promise.all([
      deps.sessions.mediaConnected(callId, connectionId).catch(warn('media state not recorded', callId, deps)),
      // The registry is how a relay started later finds the calls in progress (see relay.ts).
      deps.leases.registerMediaCall(callId, connectionId).catch(warn('media call registry not updated', callId, deps)),
    ]);
    return announceAcs({ type: 'call-connected', callId, connectionId }, deps);
  }
  const current = view?.mediaConnectionId;
  if (current !== undefined && current !== connectionId) return ignore('stale-connection', event, callId, deps);
  // The registry entry goes whether or not the call still exists (compare-and-delete on this connection).
  const writes: Promise<unknown>[] = [deps.leases.unregisterMediaCall(callId, connectionId).catch(warn('media call registry not updated', callId, deps))];
  if (session !== undefined) writes.push(deps.sessions.mediaDisconnected(callId).catch(warn('media state not recorded', callId, deps)));
  await Promise.all(writes);
  return announceAcs({ type: 'call-disconnected', callId, connectionId }, deps);
}

async function announceAcs(announced: RelayControlMessage & { callId: string; connectionId?: string }, deps: MediaEventDeps): Promise<MediaEventOutcome> {
  await announce(announced, deps);
  deps.logger.info(announced.type === 'call-connected' ? 'media connected' : 'media disconnected', { callId: announced.callId, connectionId: announced.connectionId });
  return { handled: 'acs', announced };
}

function ignore(because: IgnoredBecause, event: MediaSystemEvent, callId: string, deps: MediaEventDeps): MediaEventOutcome {
  deps.logger.info('media event ignored', { callId, connectionId: event.connectionId, eventName: event.eventName, because });
  return { handled: 'ignored', ignoredBecause: because };
}

function warn(message: string, callId: string, deps: MediaEventDeps): (error: unknown) => void {
  return (error) => deps.logger.warn(message, { callId, error: error as Error });
}

async function announce(message: RelayControlMessage, deps: MediaEventDeps): Promise<void> {
  await (await deps.service()).group(RELAY_CONTROL_GROUP).sendToAll(message);
}
