import { app, type InvocationContext } from '@azure/functions';
import { MEDIA_HUB, onMediaSystemEvent } from '../lib/media/system-event-function.js';

/**
 * Web PubSub `disconnected` of the media hub: an ACS media connection that ended lets its relay persist
 * and release the call; a relay's own connection that ended lets the other relays take its calls over.
 */
export async function mediaDisconnected(request: unknown, context: InvocationContext): Promise<void> {
  await onMediaSystemEvent('disconnected', request, context);
}

app.webPubSub('mediaDisconnected', { name: 'request', hub: MEDIA_HUB, eventType: 'system', eventName: 'disconnected', handler: mediaDisconnected });
