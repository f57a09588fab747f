import { app } from '@azure/functions';
import { runtime } from '../runtime.js';
import { acsHangUp, startRelay, type Relay } from './relay.js';

/**
 * Starts the media relay in this Functions instance when `RELAY_ENABLED=true` (an always-ready
 * instance: Flex Consumption always-ready or Premium) and stops it gracefully when the host stops.
 * A relay that cannot start is logged, never fatal for the app's other functions.
 */
let relay: Relay | undefined;
let registered = false;

export function registerRelayHost(): void {
  if (registered) return;
  registered = true;
  app.hook.appStart(async () => {
    let rt;
    try {
      rt = runtime();
    } catch {
      return; // configuration errors surface on the first invocation, with every variable named
    }
    if (!rt.config.webPubSub.relayEnabled) return;
    try {
      const store = await rt.store();
      relay = await startRelay({ config: rt.config, store, logger: rt.logger, hangUp: acsHangUp(store, () => rt.acs()) });
    } catch (error) {
      rt.logger.error('media relay did not start', { error: error as Error });
    }
  });
  app.hook.appTerminate(async () => {
    const running = relay;
    relay = undefined;
    await running?.close();
  });
}

/** The relay this host started, if any. */
export function hostedRelay(): Relay | undefined {
  return relay;
}
