import { runtime } from '../runtime.js';
import { acsHangUp, startRelay, type Relay } from './relay.js';
import { acsTransfer, archiveProfileLookup } from './call-actions.js';

/**
 * The relay of this Functions instance, started by `app.hook.appStart` when `RELAY_ENABLED=true` (an
 * always-ready instance: Flex Consumption always-ready or Premium) and stopped gracefully by
 * `appTerminate`. A relay that cannot start is logged, never fatal for the app's other functions.
 */
let relay: Relay | undefined;

export async function startHostedRelay(): Promise<Relay | undefined> {
  let rt;
  try {
    rt = runtime();
  } catch {
    return undefined; // configuration errors surface on the first invocation, with every variable named
  }
  if (!rt.config.webPubSub.relayEnabled || relay) return relay;
  try {
    const store = await rt.store();
    const transfer = acsTransfer(rt.config, store, () => rt.acs());
    relay = await startRelay({
      config: rt.config,
      store,
      logger: rt.logger,
      hangUp: acsHangUp(store, () => rt.acs()),
      ...(transfer ? { transfer } : {}),
      lookupProfile: archiveProfileLookup(() => rt.archive()),
    });
  } catch (error) {
    rt.logger.error('media relay did not start', { error: error as Error });
  }
  return relay;
}

export async function stopHostedRelay(): Promise<void> {
  const running = relay;
  relay = undefined;
  await running?.close();
}

/** The relay this host started, if any. */
export function hostedRelay(): Relay | undefined {
  return relay;
}
