import { app, type InvocationContext } from '@azure/functions';
import { currentApp } from '../lib/app/current.js';
import { mediaHubBinding } from '../lib/config/bindings.js';

/**
 * Web PubSub `connected` of the media hub (`/runtime/webhooks/webpubsub`): an ACS media connection is
 * recorded on its call and announced to the relays, which claim the call through its Redis affinity key.
 * This module also starts the relay of this instance in the relay role (`RELAY_ENABLED=true`), in the
 * background from `app.hook.appStart`, and stops it with the host.
 *
 * What protects the webhook in Azure: the Functions host admits it only with the `webpubsub_extension`
 * system key (the hub's handler URL carries it, infra/modules/app-wiring.bicep). The extension would also
 * check the origin and `ce-signature`, but only for Web PubSub services it is configured with, and this
 * app configures none (its own client reaches Web PubSub by managed identity, local auth is off): so the
 * extension checks nothing and the system key is the only guard. Keep that key secret.
 */
export async function mediaConnected(request: unknown, context: InvocationContext): Promise<void> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onMediaSystemEvent } = await import('../lib/app/functions.js');
  await onMediaSystemEvent(currentApp, 'connected', request, context);
}

app.webPubSub('mediaConnected', { name: 'request', hub: mediaHubBinding(), eventType: 'system', eventName: 'connected', handler: mediaConnected });

// Only the relay role runs a relay; the hook does not wait for it (the relay joins once connected).
app.hook.appStart(async () => {
  const { startRelayRole } = await import('../lib/app/functions.js');
  await startRelayRole(currentApp);
});

app.hook.appTerminate(async () => {
  const { stopRelayRole } = await import('../lib/app/functions.js');
  await stopRelayRole(currentApp);
});
