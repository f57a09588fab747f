import { app, type InvocationContext } from '@azure/functions';
import { registerRelayHost } from '../lib/media/relay-host.js';
import { MEDIA_HUB, onMediaSystemEvent } from '../lib/media/system-event-function.js';

/**
 * Web PubSub `connected` of the media hub (`/runtime/webhooks/webpubsub`; the extension checks
 * `ce-signature`): an ACS media connection is recorded on its call and announced to the relays, which
 * claim the call through its Redis affinity key. This module also starts the relay of this instance
 * (`app.hook.appStart`) when `RELAY_ENABLED=true`.
 */
export async function mediaConnected(request: unknown, context: InvocationContext): Promise<void> {
  await onMediaSystemEvent('connected', request, context);
}

app.webPubSub('mediaConnected', { name: 'request', hub: MEDIA_HUB, eventType: 'system', eventName: 'connected', handler: mediaConnected });
registerRelayHost();
