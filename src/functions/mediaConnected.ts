import { app, type InvocationContext } from '@azure/functions';
import { mediaHubSetting } from '../lib/media/groups.js';

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
  const { onMediaSystemEvent } = await import('../lib/media/system-event-function.js');
  await onMediaSystemEvent('connected', request, context);
}

app.webPubSub('mediaConnected', { name: 'request', hub: mediaHubSetting(), eventType: 'system', eventName: 'connected', handler: mediaConnected });

/** The relay module once appStart has begun starting it (so appTerminate stops what was started). */
let relayHost: Promise<typeof import('../lib/media/relay-host.js')> | undefined;

app.hook.appStart(() => {
  // Only the relay role runs a relay (RELAY_ENABLED, read raw so other instances load nothing of it).
  // Not awaited: the instance is ready at once and the relay joins once it is connected.
  if (!/^(true|1|yes)$/i.test(process.env.RELAY_ENABLED?.trim() ?? '')) return;
  relayHost = import('../lib/media/relay-host.js');
  void relayHost.then(({ startHostedRelay }) => startHostedRelay());
});

app.hook.appTerminate(async () => {
  const started = relayHost;
  relayHost = undefined;
  if (started) await (await started).stopHostedRelay();
});
