import { runtime, type Runtime } from '../runtime.js';
import type { SessionStore } from '../state/session-store.js';
import { startRelay, type Relay } from './relay.js';
import { archiveProfileLookup } from '../agent/profile-lookup.js';
import { acsHangUp, acsTransfer } from './call-actions.js';
import { FixedPrompts, speechSynthesizerFromConfig } from '../agent/tts.js';
import { consoleServices } from '../console/index.js';
import { instrumentStore } from '../telemetry/call-instrumentation.js';
import { startTelemetry } from '../telemetry/otel.js';

/**
 * The relay of this Functions instance. Only the relay role runs one (`RELAY_ENABLED=true`, set on the
 * relay Function App alone, whose instances are all always-ready: see README "Media hosting"); the
 * app that serves ACS, Event Grid and Web PubSub triggers scales on demand and never starts a relay, so
 * no call is ever owned by an instance that scales from zero.
 *
 * `app.hook.appStart` starts it in the background: the instance is ready at once (Flex Consumption
 * gives app initialisation 30 s, and a hook that waited for Web PubSub and Redis would spend them), and
 * the relay joins once it is connected, retrying with backoff until it is. `appTerminate` stops it
 * gracefully, handing its calls to the other relays at once.
 */
let relay: Relay | undefined;
let starting: Promise<Relay | undefined> | undefined;
let stopping = false;
let wakeUp: (() => void) | undefined;

export type HostedRelayOptions = {
  /** First wait after a failed start; doubled per attempt. @default 1000 */
  readonly retryDelayMs?: number;
  /** @default 30_000 */
  readonly maxRetryDelayMs?: number;
};

/**
 * Starts the relay in the background (idempotent). Resolves with the relay once it is connected, or
 * undefined when the configuration has no relay or the host stopped first; never rejects.
 */
export function startHostedRelay(options: HostedRelayOptions = {}): Promise<Relay | undefined> {
  if (relay) return Promise.resolve(relay);
  stopping = false;
  starting ??= keepTrying(options).finally(() => {
    starting = undefined;
  });
  return starting;
}

async function keepTrying(options: HostedRelayOptions): Promise<Relay | undefined> {
  let rt;
  try {
    rt = runtime();
  } catch {
    return undefined; // configuration errors surface on the first invocation, with every variable named
  }
  if (!rt.config.webPubSub.relayEnabled) return undefined;
  let delayMs = options.retryDelayMs ?? 1_000;
  for (let attempt = 1; !stopping; attempt++) {
    try {
      const started = await launch(rt);
      if (stopping) {
        await started.close();
        return undefined;
      }
      relay = started;
      if (attempt > 1) rt.logger.info('media relay started after retries', { attempts: attempt });
      return started;
    } catch (error) {
      rt.logger.error('media relay did not start; retrying', { attempt, retryInMs: delayMs, error: error as Error });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wakeUp = undefined;
    delayMs = Math.min(options.maxRetryDelayMs ?? 30_000, delayMs * 2);
  }
  return undefined;
}

async function launch(rt: Runtime): Promise<Relay> {
  const store = await rt.store();
  const transfer = acsTransfer(rt.config, store, () => rt.acs(), rt.logger);
  const prompts = await fixedPrompts(rt, store);
  // The relay may start before the app's own start hook: both ask, the first start wins.
  await startTelemetry().catch((error: unknown) => rt.logger.error('telemetry did not start', { error: error as Error }));
  return startRelay({
    config: rt.config,
    store: instrumentStore(store, consoleServices(rt).observer),
    logger: rt.logger,
    hangUp: acsHangUp(store, () => rt.acs(), rt.logger),
    ...(transfer ? { transfer } : {}),
    lookupProfile: archiveProfileLookup(() => rt.archive()),
    agents: () => rt.agentTools(),
    ...(prompts ? { prompts } : {}),
  });
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

/** Stops the relay gracefully (its calls go to the other relays at once), or the attempts to start one. */
export async function stopHostedRelay(): Promise<void> {
  stopping = true;
  wakeUp?.();
  await starting;
  const running = relay;
  relay = undefined;
  await running?.close();
}

/** The relay this host started, once it is connected. */
export function hostedRelay(): Relay | undefined {
  return relay;
}
