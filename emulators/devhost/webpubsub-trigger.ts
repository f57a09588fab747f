/**
 * `webPubSubTrigger` functions, served the way the Functions Web PubSub extension serves them: one
 * webhook at `/runtime/webhooks/webpubsub` receives the service's CloudEvents (HTTP binary mode),
 * answers the abuse-protection `OPTIONS`, checks `ce-signature` against the configured access keys, and
 * invokes the function registered for the event's hub, type and name with the request object the
 * extension builds (`{ connectionContext, reason? , data? }`) and `context.triggerMetadata.connectionContext`.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FunctionRegistration } from '../functions-host/registry.js';
import type { DevHostContext, TriggerDispatcher, WebhookReply, WebhookRequest } from './dispatchers.js';
import { invocationContextFor } from './invocation.js';

export const WEBPUBSUB_WEBHOOK_PATH = '/runtime/webhooks/webpubsub';

export interface WebPubSubDispatcherOptions {
  /**
   * Access keys `ce-signature` must match (any of them). With none, signatures are not checked and any
   * origin passes the abuse-protection preflight, as the extension does without a connection setting.
   * @default the AccessKey of `WebPubSubConnectionString` / `WEBPUBSUB_CONNECTION_STRING` in the environment
   */
  readonly accessKeys?: () => readonly string[];
}

type Mounted = { readonly registration: FunctionRegistration; readonly hub: string; readonly eventType: string; readonly eventName: string };

export function webPubSubDispatcher(options: WebPubSubDispatcherOptions = {}): TriggerDispatcher {
  const perHost = new WeakMap<DevHostContext, Mounted[]>();
  const keys = options.accessKeys ?? keysFromEnvironment;
  return {
    triggerType: 'webPubSubTrigger',
    mount(registration, trigger, host) {
      let mounted = perHost.get(host);
      if (!mounted) {
        const list: Mounted[] = [];
        mounted = list;
        perHost.set(host, list);
        host.addWebhook(WEBPUBSUB_WEBHOOK_PATH, (request) => handle(request, list, keys(), host));
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

async function handle(request: WebhookRequest, mounted: readonly Mounted[], accessKeys: readonly string[], host: DevHostContext): Promise<WebhookReply> {
  const header = (name: string): string | undefined => {
    const value = request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  if (request.method === 'OPTIONS') {
    const origin = header('WebHook-Request-Origin');
    if (!origin) return { status: 400, body: 'WebHook-Request-Origin is required' };
    return { status: 200, headers: { 'WebHook-Allowed-Origin': origin } };
  }
  if (request.method !== 'POST') return { status: 405 };
  const type = header('ce-type') ?? '';
  const match = /^azure\.webpubsub\.(sys|user)\.(.+)$/i.exec(type);
  const connectionId = header('ce-connectionId');
  const hub = header('ce-hub');
  if (!match || !connectionId || !hub) return { status: 400, body: 'not a Web PubSub CloudEvent' };
  if (accessKeys.length > 0 && !signatureMatches(header('ce-signature'), connectionId, accessKeys)) {
    host.logger.warn('web pubsub upstream request with a bad signature refused', { hub, connectionId });
    return { status: 401, body: 'Signature validation failed' };
  }
  const eventType = match[1]?.toLowerCase() === 'sys' ? 'system' : 'user';
  const eventName = (match[2] ?? '').toLowerCase();
  const target = mounted.find((m) => m.hub === hub.toLowerCase() && m.eventType === eventType && m.eventName === eventName);
  if (!target) return { status: 404, body: `no function for ${eventType} event ${eventName} of hub ${hub}` };

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

function signatureMatches(presented: string | undefined, connectionId: string, keys: readonly string[]): boolean {
  if (!presented) return false;
  const offered = presented.split(',').map((s) => s.trim());
  return keys.some((key) => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', Buffer.from(key, 'utf8')).update(connectionId, 'utf8').digest('hex')}`);
    return offered.some((o) => {
      const candidate = Buffer.from(o);
      return candidate.length === expected.length && timingSafeEqual(candidate, expected);
    });
  });
}

function keysFromEnvironment(): string[] {
  return [process.env.WebPubSubConnectionString, process.env.WEBPUBSUB_CONNECTION_STRING]
    .map((cs) => /(?:^|;)\s*AccessKey=([^;]+)/i.exec(cs ?? '')?.[1])
    .filter((k): k is string => k !== undefined);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
