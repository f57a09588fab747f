import { app, type InvocationContext } from '@azure/functions';
import { mediaHubSetting } from '../lib/media/groups.js';

/**
 * Web PubSub `connected` of the media hub (`/runtime/webhooks/webpubsub`): an ACS media connection is
 * recorded on its call and announced to the relays, which claim the call through its Redis affinity key.
 * This module also starts the relay of this instance (`app.hook.appStart`) when `RELAY_ENABLED=true`, and
 * stops it with the host.
 *
 * What protects the webhook in Azure: the Functions host admits it only with the `webpubsub_extension`
 * system key (the hub's handler URL carries it, infra/modules/app-wiring.bicep). The extension would also
 * check the origin and `ce-signature`, but only for Web PubSub services it is configured with, and this
 * app configures none (its own client reaches Web PubSub by managed identity, local auth is off): so the
 * extension checks nothing and the system key is the only guard. Keep that key secret.
 */
export async function mediaConnected(request: unknown, context: InvocationContext): Promise<void> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onMediaSystemEvent } = await import('../lib/media/system-event-function.js');
  await onMediaSystemEvent('connected', request, context);
}

app.webPubSub('mediaConnected', { name: 'request', hub: mediaHubSetting(), eventType: 'system', eventName: 'connected', handler: mediaConnected });

app.hook.appStart(async () => {
  // Most instances run no relay: only load the relay (Web PubSub client, realtime client) where one runs.
  if (!/^(true|1|yes)$/i.test(process.env.RELAY_ENABLED?.trim() ?? '')) return;
  const { startHostedRelay } = await import('../lib/media/relay-host.js');
  await startHostedRelay();
});

app.hook.appTerminate(async () => {
  if (!/^(true|1|yes)$/i.test(process.env.RELAY_ENABLED?.trim() ?? '')) return;
  const { stopHostedRelay } = await import('../lib/media/relay-host.js');
  await stopHostedRelay();
});
