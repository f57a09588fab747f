import type { App } from '../app/index.js';
import type { FixedPrompts } from '../agent/tts.js';
import type { Relay } from './relay.js';

/**
 * The relay of one app instance. Only the relay role runs one (`RELAY_ENABLED=true`, set on the
 * relay Function App alone, whose instances are all always-ready: see README "Media hosting"); the
 * app that serves ACS, Event Grid and Web PubSub triggers scales on demand and never starts a relay, so
 * no call is ever owned by an instance that scales from zero.
 *
 * `app.hook.appStart` starts it in the background: the instance is ready at once (Flex Consumption
 * gives app initialisation 30 s, and a hook that waited for Web PubSub and Redis would spend them), and
 * the relay joins once it is connected, retrying with backoff until it is. `appTerminate` stops it
 * gracefully, handing its calls to the other relays at once.
 */
export interface HostedRelay {
  /**
   * Starts the relay in the background (idempotent). Resolves with the relay once it is connected, or
   * undefined when the configuration has no relay or the host stopped first; never rejects.
   */
  start(options?: HostedRelayOptions): Promise<Relay | undefined>;
  /** Stops the relay gracefully (its calls go to the other relays at once), or the attempts to start one. */
  stop(): Promise<void>;
  /** The relay, once it is connected. */
  current(): Relay | undefined;
}

export type HostedRelayOptions = {
  /** First wait after a failed start; doubled per attempt. @default 1000 */
  readonly retryDelayMs?: number;
  /** @default 30_000 */
  readonly maxRetryDelayMs?: number;
};

/** The app's relay host: nothing of the relay is loaded until `start()` finds the relay role configured. */
export function createHostedRelay(app: App): HostedRelay {
  let relay: Relay | undefined;
  let starting: Promise<Relay | undefined> | undefined;
  let stopping = false;
  let wakeUp: (() => void) | undefined;

  async function keepTrying(options: HostedRelayOptions): Promise<Relay | undefined> {
    if (!app.config.webPubSub.relayEnabled) return undefined;
    let delayMs = options.retryDelayMs ?? 1_000;
    for (let attempt = 1; !stopping; attempt++) {
      try {
        const started = await launch(app);
        if (stopping) {
          await started.close();
          return undefined;
        }
        relay = started;
        if (attempt > 1) app.logger.info('media relay started after retries', { attempts: attempt });
        return started;
      } catch (error) {
        app.logger.error('media relay did not start; retrying', { attempt, retryInMs: delayMs, error: error as Error });
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

  return {
    start(options = {}) {
      if (relay) return Promise.resolve(relay);
      stopping = false;
      starting ??= keepTrying(options).finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop() {
      stopping = true;
      wakeUp?.();
      await starting;
      const running = relay;
      relay = undefined;
      await running?.close();
    },
    current: () => relay,
  };
}

async function launch(app: App): Promise<Relay> {
  // Loaded only in the relay role: the realtime stack is heavy and the other instances never need it.
  const [{ startRelay }, { realtimeAgentFactory }, { acsHangUp, acsTransfer }, { archiveProfileLookup }, { instrumentStore }, { startTelemetry }] = await Promise.all([
    import('./relay.js'),
    import('./agent-port.js'),
    import('./call-actions.js'),
    import('../agent/profile-lookup.js'),
    import('../telemetry/call-instrumentation.js'),
    import('../telemetry/otel.js'),
  ]);
  const store = await app.store();
  const sessions = await app.callSessions();
  const transfer = acsTransfer(app.config, sessions, () => app.acs(), app.logger);
  const prompts = await fixedPrompts(app);
  // The relay may start before the app's own start hook: both ask, the first start wins.
  await startTelemetry().catch((error: unknown) => app.logger.error('telemetry did not start', { error: error as Error }));
  return startRelay({
    config: app.config,
    store: instrumentStore(store, app.console().observer),
    leases: instrumentStore(await app.relayLeases(), app.console().observer),
    logger: app.logger,
    services: await app.webPubSubShards(),
    agent: realtimeAgentFactory(app.config, { logger: app.logger, ...(app.config.agent.apiKey ? {} : { tokenProvider: app.cognitiveServicesToken }) }),
    hangUp: acsHangUp(sessions, () => app.acs(), app.logger),
    ...(transfer ? { transfer } : {}),
    lookupProfile: archiveProfileLookup(() => app.archive()),
    agents: () => app.agentTools(),
    ...(prompts ? { prompts } : {}),
  });
}

/** Fixed prompts need Azure OpenAI text-to-speech; without it (or a bad setting) the relay runs without them. */
async function fixedPrompts(app: App): Promise<FixedPrompts | undefined> {
  if (!app.config.agent.endpoint) return undefined;
  try {
    const { FixedPrompts, speechSynthesizerFromConfig } = await import('../agent/tts.js');
    const synthesizer = await speechSynthesizerFromConfig(app.config, app.config.agent.apiKey ? {} : { tokenProvider: app.cognitiveServicesToken });
    return new FixedPrompts(await app.ttsCache(), synthesizer, { logger: app.logger });
  } catch (error) {
    app.logger.warn('fixed prompts unavailable; the relay runs without them', { error: error as Error });
    return undefined;
  }
}
