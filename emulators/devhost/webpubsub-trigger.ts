/**
 * `webPubSubTrigger` functions, served the way the Functions Web PubSub extension serves them
 * (azure-sdk-for-net sdk/webpubsub/Microsoft.Azure.WebJobs.Extensions.WebPubSub: Trigger/WebPubSubTriggerDispatcher.cs,
 * Config/RequestValidator.cs): one webhook at `/runtime/webhooks/webpubsub` — behind the host's
 * `webpubsub_extension` system key, which the dev host checks before this code runs — receives the
 * service's CloudEvents (HTTP binary mode) and invokes the function registered for the event's hub, type
 * and name with the request object the extension builds (`{ connectionContext, reason?, data? }`) and
 * `context.triggerMetadata.connectionContext`.
 *
 * The extension's validation depends on the Web PubSub services it is configured with:
 * - none (no connection setting, e.g. identity-based access configured only for the app's own client):
 *   no restriction at all — any abuse-protection origin is allowed and no `ce-signature` is checked;
 *   the system key is then the webhook's only protection;
 * - some: the abuse-protection `OPTIONS` passes only when `WebHook-Request-Origin` names one of their
 *   hosts (answered with `WebHook-Allowed-Origin: *`, else 400), and an event is accepted only from such
 *   an origin, with a `ce-signature` made with that service's access key when it has one (else 401).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FunctionRegistration } from '../functions-host/registry.js';
import type { DevHostContext, TriggerDispatcher, WebhookReply, WebhookRequest } from './dispatchers.js';
import { invocationContextFor } from './invocation.js';

export const WEBPUBSUB_WEBHOOK_PATH = '/runtime/webhooks/webpubsub';

/** One Web PubSub service the extension is configured with. */
export interface WebPubSubServiceAccess {
  /** e.g. `https://<name>.webpubsub.azure.com`; its host is the allowed `WebHook-Request-Origin`. */
  readonly endpoint: string;
  /** With a key, every event must carry a `ce-signature` made with it; identity-based access has none. */
  readonly accessKey?: string;
}

export interface WebPubSubDispatcherOptions {
  /** @default the Endpoint and AccessKey of `WebPubSubConnectionString` / `WEBPUBSUB_CONNECTION_STRING` in the environment */
  readonly services?: () => readonly WebPubSubServiceAccess[];
}

type Mounted = { readonly registration: FunctionRegistration; readonly hub: string; readonly eventType: string; readonly eventName: string };

export function webPubSubDispatcher(options: WebPubSubDispatcherOptions = {}): TriggerDispatcher {
  const perHost = new WeakMap<DevHostContext, Mounted[]>();
  const services = options.services ?? servicesFromEnvironment;
  return {
    triggerType: 'webPubSubTrigger',
    mount(registration, trigger, host) {
      let mounted = perHost.get(host);
      if (!mounted) {
        const list: Mounted[] = [];
        mounted = list;
        perHost.set(host, list);
        host.addWebhook(WEBPUBSUB_WEBHOOK_PATH, (request) => handle(request, list, allowedHosts(services()), host));
      }
      mounted.push({
        registration,
        hub: String(trigger.hub ?? '').toLowerCase(),
        eventType: String(trigger.eventType ?? 'user').toLowerCase(),
        eventName: String(trigger.eventName ?? '').toLowerCase(),
      });
    },
  };
}

/**
 * Allowed origin host → the access keys of the services there (undefined for identity-based access).
 * In Azure every resource has a host of its own; local emulators of several shards share 127.0.0.1, so a
 * host can stand for more than one service, and a signature made with any of their keys is accepted.
 */
type AllowedHosts = ReadonlyMap<string, ReadonlyArray<string | undefined>>;

function allowedHosts(services: readonly WebPubSubServiceAccess[]): AllowedHosts {
  const hosts = new Map<string, Array<string | undefined>>();
  for (const s of services) {
    const host = new URL(s.endpoint).hostname.toLowerCase();
    hosts.set(host, [...(hosts.get(host) ?? []), s.accessKey]);
  }
  return hosts;
}

function headerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

async function handle(request: WebhookRequest, mounted: readonly Mounted[], allowed: AllowedHosts, host: DevHostContext): Promise<WebhookReply> {
  const header = (name: string): string | undefined => {
    const value = request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const origins = headerList(header('WebHook-Request-Origin')).map((o) => o.toLowerCase());
  if (request.method === 'OPTIONS' && origins.length > 0) {
    if (allowed.size > 0 && !origins.some((o) => allowed.has(o))) {
      host.logger.warn('web pubsub abuse-protection preflight from an origin not configured refused', { origins: origins.join(',') });
      return { status: 400 };
    }
    return { status: 200, headers: { 'WebHook-Allowed-Origin': '*' } };
  }
  const type = header('ce-type') ?? '';
  const match = /^azure\.webpubsub\.(sys|user)\.(.+)$/i.exec(type);
  const connectionId = header('ce-connectionId');
  const hub = header('ce-hub');
  if (!match || !connectionId || !hub) return { status: 400, body: 'not a Web PubSub CloudEvent' };
  const eventType = match[1]?.toLowerCase() === 'sys' ? 'system' : 'user';
  const eventName = (match[2] ?? '').toLowerCase();
  const target = mounted.find((m) => m.hub === hub.toLowerCase() && m.eventType === eventType && m.eventName === eventName);
  if (!target) return { status: 404, body: `no function for ${eventType} event ${eventName} of hub ${hub}` };
  if (!validSignature(allowed, origins, header('ce-signature'), connectionId)) {
    host.logger.warn('web pubsub upstream request refused: unknown origin or bad signature', { hub, connectionId });
    return { status: 401, body: 'Signature validation failed' };
  }
  // Upstream events are POSTs; the extension refuses anything else once the function is found.
  if (request.method !== 'POST') return { status: 400 };

  const connectionContext = {
    hub,
    connectionId,
    userId: header('ce-userId'),
    eventName: match[2],
    eventType: eventType === 'system' ? 'System' : 'User',
    origin: header('WebHook-Request-Origin'),
    signature: header('ce-signature'),
    states: header('ce-connectionState'),
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v : v === undefined ? [] : [v]])),
  };
  const body = request.body.toString('utf8');
  const parsed = parseJson(body);
  const triggerValue: Record<string, unknown> = { connectionContext };
  if (eventName === 'disconnected' && parsed && typeof parsed === 'object') triggerValue.reason = (parsed as { reason?: unknown }).reason;
  if (eventType === 'user') {
    triggerValue.data = parsed ?? body;
    triggerValue.dataType = (header('content-type') ?? '').includes('json') ? 'json' : (header('content-type') ?? '').startsWith('text/') ? 'text' : 'binary';
  }
  const context = invocationContextFor(target.registration, host.logger, new Map(), { connectionContext });
  try {
    const result = await target.registration.handler(triggerValue, context);
    if (result === undefined || result === null) return { status: 204 };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
  } catch (error) {
    host.logger.error('function failed', { functionName: target.registration.metadata.name, invocationId: context.invocationId, error: error as Error });
    return { status: 500 };
  }
}

function validSignature(allowed: AllowedHosts, origins: readonly string[], presented: string | undefined, connectionId: string): boolean {
  if (allowed.size === 0) return true;
  const origin = origins.find((o) => allowed.has(o));
  if (origin === undefined) return false;
  const keys = allowed.get(origin) ?? [];
  if (keys.some((key) => key === undefined)) return true;
  const offered = headerList(presented).map((o) => Buffer.from(o.toLowerCase()));
  return keys.some((key) => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', Buffer.from(key as string, 'utf8')).update(connectionId, 'utf8').digest('hex')}`);
    return offered.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
  });
}

function servicesFromEnvironment(): WebPubSubServiceAccess[] {
  return [process.env.WebPubSubConnectionString, process.env.WEBPUBSUB_CONNECTION_STRING]
    .map((cs) => ({ endpoint: /(?:^|;)\s*Endpoint=([^;]+)/i.exec(cs ?? '')?.[1], accessKey: /(?:^|;)\s*AccessKey=([^;]+)/i.exec(cs ?? '')?.[1] }))
    .filter((s): s is { endpoint: string; accessKey: string | undefined } => s.endpoint !== undefined)
    .map((s) => (s.accessKey ? { endpoint: s.endpoint, accessKey: s.accessKey } : { endpoint: s.endpoint }));
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
