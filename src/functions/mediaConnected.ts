import { app, type InvocationContext } from '@azure/functions';
import { mediaHubSetting } from '../lib/media/groups.js';

/**
 * Web PubSub `connected` of the media hub (`/runtime/webhooks/webpubsub`; the extension checks
 * `ce-signature`): an ACS media connection is recorded on its call and announced to the relays, which
 * claim the call through its Redis affinity key. This module also starts the relay of this instance
 * (`app.hook.appStart`) when `RELAY_ENABLED=true`, and stops it with the host.
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
