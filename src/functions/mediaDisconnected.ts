import { app, type InvocationContext } from '@azure/functions';
import { currentApp } from '../lib/app/current.js';
import { mediaHubBinding } from '../lib/config/bindings.js';

/**
 * Web PubSub `disconnected` of the media hub: an ACS media connection that ended lets its relay persist
 * and release the call; a relay's own connection that ended lets the other relays take its calls over.
 */
export async function mediaDisconnected(request: unknown, context: InvocationContext): Promise<void> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onMediaSystemEvent } = await import('../lib/app/functions.js');
  await onMediaSystemEvent(currentApp, 'disconnected', request, context);
}

app.webPubSub('mediaDisconnected', { name: 'request', hub: mediaHubBinding(), eventType: 'system', eventName: 'disconnected', handler: mediaDisconnected });
