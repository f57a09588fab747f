import type { FunctionRegistration } from '../functions-host/registry.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import type { DurableEngine } from './durable/engine.js';
import { compileRoute, type CompiledRoute } from './routes.js';
import { webPubSubDispatcher } from './webpubsub-trigger.js';

/** An HTTP-triggered function mounted on the host. */
export interface HttpRoute {
  readonly registration: FunctionRegistration;
  readonly route: CompiledRoute;
  readonly methods: ReadonlySet<string>;
  readonly authLevel: 'anonymous' | 'function' | 'admin';
}

/** What a dispatcher can use to mount a registration. */
export interface DevHostContext {
  readonly logger: Logger;
  readonly engine: DurableEngine;
  readonly baseUrl: string;
  addHttpRoute(route: HttpRoute): void;
  /**
   * Serves an exact path outside the route prefix, as the host's extensions do (`/runtime/webhooks/<name>`).
   * A second registration of the same path keeps the first.
   */
  addWebhook(path: string, handler: WebhookHandler): void;
}

export type WebhookRequest = { readonly method: string; readonly url: URL; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: Buffer };
export type WebhookReply = { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string };
export type WebhookHandler = (request: WebhookRequest) => Promise<WebhookReply>;

/**
 * Mounts the functions of one trigger type. The host keeps a map from trigger type to dispatcher;
 * a new trigger (e.g. `webPubSubTrigger`, whose upstream requests arrive over HTTP from the Web PubSub
 * service) is served by adding a dispatcher through `startDevHost({ dispatchers })`.
 */
export interface TriggerDispatcher {
  readonly triggerType: string;
  mount(registration: FunctionRegistration, trigger: Readonly<Record<string, unknown>>, host: DevHostContext): void;
}

export const httpDispatcher: TriggerDispatcher = {
  triggerType: 'httpTrigger',
  mount(registration, trigger, host) {
    const methods = ((trigger.methods as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase());
    const authLevel = String(trigger.authLevel ?? 'anonymous').toLowerCase();
    host.addHttpRoute({
      registration,
      route: compileRoute((trigger.route as string | undefined) ?? registration.metadata.name),
      methods: new Set(methods),
      authLevel: authLevel === 'function' || authLevel === 'admin' ? authLevel : 'anonymous',
    });
  },
};

export const orchestrationDispatcher: TriggerDispatcher = {
  triggerType: 'orchestrationTrigger',
  mount: (registration, _trigger, host) => host.engine.registerOrchestrator(registration),
};

export const activityDispatcher: TriggerDispatcher = {
  triggerType: 'activityTrigger',
  mount: (registration, _trigger, host) => host.engine.registerActivity(registration),
};

export const DEFAULT_DISPATCHERS: readonly TriggerDispatcher[] = [httpDispatcher, orchestrationDispatcher, activityDispatcher, webPubSubDispatcher()];
