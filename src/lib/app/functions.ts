import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { handleCallEvents } from '../calls/call-events.js';
import { handleIncomingCall } from '../calls/incoming-call.js';
import { handlePlaceCall } from '../calls/outbound-call.js';
import type { CallControlDeps } from '../calls/ports.js';
import type { WebhookResponse } from '../calls/http.js';
import { callControlDeps } from '../calls/wiring.js';
import { handleConsole } from '../console/http.js';
import { ConfigError } from '../config/index.js';
import { unlessMisconfigured, validateConfigAtStartup } from '../config/startup.js';
import { checkHealth } from '../health/index.js';
import { LIFECYCLE_ACTIVITIES } from '../lifecycle/index.js';
import { handleMediaSystemEvent, type MediaSystemEvent } from '../media/media-events.js';
import { processLatency } from '../telemetry/histograms.js';
import { invocationLogger } from '../telemetry/logger.js';
import type { App } from './index.js';

/**
 * What each function of `src/functions/*` delegates to, given the app of its invocation. A function
 * file only registers itself and imports this module on its first invocation.
 */
export type AppSource = () => Promise<App>;

type CallControlHandler = (request: HttpRequest, deps: CallControlDeps) => Promise<WebhookResponse>;

/** A call-control webhook: the app's dependencies with this invocation's durable client; 503 naming the settings while they are invalid. */
function callControl(handler: CallControlHandler) {
  return (app: AppSource, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> =>
    unlessMisconfigured(async () => callControlDeps(context, await app()), (deps) => handler(request, deps));
}

export const onCallEvents = callControl(handleCallEvents);
export const onIncomingCall = callControl(handleIncomingCall);
export const onPlaceCall = callControl(handlePlaceCall);

export async function onConsole(app: AppSource, request: HttpRequest): Promise<HttpResponseInit> {
  return handleConsole(request.params.view ?? '', new URL(request.url).searchParams, await app());
}

/** Version, dependency reachability and the baselines; 503 when a dependency is down or the settings are invalid. */
export function onHealth(app: AppSource): Promise<HttpResponseInit> {
  return unlessMisconfigured(app, async (current) => {
    // The app's session store (created on first use; a store that cannot be built is left out).
    const store = await current.store().catch(() => undefined);
    const report = await checkHealth(() => current.redis(), undefined, { latency: processLatency, ...(store ? { store } : {}) });
    return { status: report.status === 'ok' ? 200 : 503, jsonBody: report, headers: { 'cache-control': 'no-store' } };
  });
}

/** `app.hook.appStart`: every setting is validated as the app starts, and an invalid configuration is logged once there. */
export async function onAppStart(app: AppSource): Promise<void> {
  await validateConfigAtStartup(async () => (await app()).config);
}

/** One lifecycle activity (Durable Functions) on the app's lifecycle dependencies. */
export async function onLifecycleActivity(app: AppSource, name: keyof typeof LIFECYCLE_ACTIVITIES, input: unknown): Promise<unknown> {
  return LIFECYCLE_ACTIVITIES[name]((await app()).lifecycle(), input);
}

type ConnectionContext = { hub?: string; connectionId?: string; userId?: string };
type SystemEventRequest = { connectionContext?: ConnectionContext; reason?: string };

/**
 * The webPubSubTrigger functions: the extension's request (`{ connectionContext, reason? }`, also in
 * `context.triggerMetadata.connectionContext`) → {@link handleMediaSystemEvent}.
 */
export async function onMediaSystemEvent(app: AppSource, eventName: MediaSystemEvent['eventName'], request: unknown, context: InvocationContext): Promise<void> {
  const current = await app();
  const logger = invocationLogger(context, current.config.logLevel);
  const body = (request ?? {}) as SystemEventRequest;
  const connection = body.connectionContext ?? (context.triggerMetadata?.connectionContext as ConnectionContext | undefined) ?? {};
  if (!connection.connectionId) {
    logger.warn('web pubsub system event without a connection context ignored', { eventName });
    return;
  }
  await handleMediaSystemEvent(
    { eventName, hub: connection.hub ?? current.config.webPubSub.hub, connectionId: connection.connectionId, userId: connection.userId, reason: body.reason },
    { leases: await current.relayLeases(), sessions: await current.callSessions(), service: () => current.webPubSub(), logger },
  );
}

/**
 * `app.hook.appStart` of the relay role (`RELAY_ENABLED`): starts the relay in the background, so the
 * instance is ready at once and the relay joins once it is connected. An invalid configuration is
 * reported by the start-up validation and by every function; no relay runs on it.
 */
export async function startRelayRole(app: AppSource): Promise<void> {
  const current = await configuredApp(app);
  if (current?.config.webPubSub.relayEnabled) void current.relay.start();
}

/** `app.hook.appTerminate`: the relay hands its calls to the other relays at once. */
export async function stopRelayRole(app: AppSource): Promise<void> {
  await (await configuredApp(app))?.relay.stop();
}

/** The app, or undefined while the configuration is invalid (which the start-up validation reports). */
async function configuredApp(app: AppSource): Promise<App | undefined> {
  try {
    return await app();
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}
