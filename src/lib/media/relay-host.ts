import { runtime, type Runtime } from '../runtime.js';
import type { SessionStore } from '../state/session-store.js';
import { startRelay, type Relay } from './relay.js';
import { archiveProfileLookup } from '../agent/profile-lookup.js';
import { acsHangUp, acsTransfer } from './call-actions.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../agent/tts.js';

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
    const transfer = acsTransfer(rt.config, store, () => rt.acs(), rt.logger);
    const prompts = await fixedPrompts(rt, store);
    relay = await startRelay({
      config: rt.config,
      store,
      logger: rt.logger,
      hangUp: acsHangUp(store, () => rt.acs(), rt.logger),
      ...(transfer ? { transfer } : {}),
      lookupProfile: archiveProfileLookup(() => rt.archive()),
      agents: () => rt.agentTools(),
      ...(prompts ? { prompts } : {}),
    });
  } catch (error) {
    rt.logger.error('media relay did not start', { error: error as Error });
  }
  return relay;
}

/** Fixed prompts need Azure OpenAI text-to-speech; without it (or a bad setting) the relay runs without them. */
async function fixedPrompts(rt: Runtime, store: SessionStore): Promise<FixedPrompts | undefined> {
  if (!rt.config.agent.endpoint) return undefined;
  try {
    return new FixedPrompts(store, await speechSynthesizerFromConfig(rt.config), { logger: rt.logger });
  } catch (error) {
    rt.logger.warn('fixed prompts unavailable; the relay runs without them', { error: error as Error });
    return undefined;
  }
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
