/**
 * Upstream delivery: CloudEvents in HTTP binary mode to the hub's event handlers, signed with
 * `ce-signature`, after the abuse-protection preflight has been answered for that URL. Failures
 * are logged and reported to the caller as UpstreamError; they never escape as crashes.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { UpstreamError } from './errors.js';
import { dataTypeOfContentType, Payload } from './payload.js';

export type SystemEventName = 'connect' | 'connected' | 'disconnected';

export interface EventHandlerSetting {
  /** Handler URL; `{hub}` and `{event}` are replaced by the hub and event names. */
  urlTemplate: string;
  /** Which user events go to this handler: `*`, or a comma-separated list of names (`*` wildcards allowed). */
  userEventPattern?: string;
  systemEvents?: SystemEventName[];
}

export interface UpstreamEvent {
  hub: string;
  kind: 'system' | 'user';
  eventName: string;
  connectionId: string;
  userId: string | undefined;
  subprotocol: string | undefined;
  connectionState: string | undefined;
  payload: Payload;
  /**
   * Host name the client connected to, sent as `WebHook-Request-Origin` (as the service does):
   * it is the host of the endpoint the app's connection string names, which is what the
   * handler (e.g. the Functions Web PubSub extension) compares it with.
   */
  originHost: string | undefined;
}

export interface UpstreamResponse {
  status: number;
  payload: Payload | undefined;
  headers: Headers;
}

export interface UpstreamOptions {
  accessKey: string;
  /** `WebHook-Request-Origin` when the event does not say which host the client used. */
  defaultOriginHost: string;
  logger: Logger;
  timeoutMs: number;
}

export class UpstreamDispatcher {
  private readonly handlers = new Map<string, EventHandlerSetting[]>();
  private readonly validated = new Map<string, Promise<boolean>>();
  private readonly shutdown = new AbortController();

  constructor(private readonly options: UpstreamOptions) {}

  setHandlers(hub: string, handlers: readonly EventHandlerSetting[]): void {
    this.handlers.set(hub.toLowerCase(), [...handlers]);
  }

  /** The first handler configured for this event, if any. */
  handlerFor(hub: string, kind: UpstreamEvent['kind'], eventName: string): EventHandlerSetting | undefined {
    return this.handlers.get(hub)?.find((h) => (kind === 'user' ? matchesPattern(h.userEventPattern, eventName) : (h.systemEvents ?? []).some((e) => e.toLowerCase() === eventName.toLowerCase())));
  }

  /** Delivers the event; undefined when no handler wants it. Throws UpstreamError on failure or a non-2xx answer. */
  async send(event: UpstreamEvent): Promise<UpstreamResponse | undefined> {
    const handler = this.handlerFor(event.hub, event.kind, event.eventName);
    if (!handler) return undefined;
    const url = handler.urlTemplate.replace(/\{hub\}/gi, encodeURIComponent(event.hub)).replace(/\{event\}/gi, encodeURIComponent(event.eventName));
    const origin = event.originHost ?? this.options.defaultOriginHost;
    if (!(await this.validate(url, origin))) throw new UpstreamError(`The event handler ${url} did not pass the abuse-protection validation.`);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: this.cloudEventHeaders(event, origin),
        body: event.payload.bytes,
        signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (cause) {
      throw new UpstreamError(`The event handler for '${event.eventName}' could not be reached.`, undefined, { cause });
    }
    const body = Buffer.from(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    if (!response.ok) throw new UpstreamError(`The event handler for '${event.eventName}' answered ${response.status}.`, response.status);
    const dataType = dataTypeOfContentType(response.headers.get('content-type') ?? undefined) ?? 'binary';
    return { status: response.status, payload: body.length > 0 ? Payload.fromBody(body, dataType) : undefined, headers: response.headers };
  }

  /** Fire-and-forget delivery (connected, disconnected, user events without an ack): failures are logged. */
  notify(event: UpstreamEvent): void {
    this.send(event).catch((error: unknown) => this.logFailure(event, error));
  }

  logFailure(event: UpstreamEvent, error: unknown): void {
    if (this.shutdown.signal.aborted) return;
    this.options.logger.warn('Web PubSub emulator: upstream event delivery failed', { hub: event.hub, eventName: event.eventName, connectionId: event.connectionId, error: error instanceof Error ? error : String(error) });
  }

  /** Aborts deliveries in flight; used when the emulator closes. */
  close(): void {
    this.shutdown.abort();
  }

  signature(connectionId: string): string {
    return `sha256=${createHmac('sha256', Buffer.from(this.options.accessKey, 'utf8')).update(connectionId, 'utf8').digest('hex')}`;
  }

  private cloudEventHeaders(event: UpstreamEvent, origin: string): Record<string, string> {
    const type = event.kind === 'system' ? `azure.webpubsub.sys.${event.eventName}` : `azure.webpubsub.user.${event.eventName}`;
    const headers: Record<string, string> = {
      'content-type': event.payload.contentType,
      'ce-specversion': '1.0',
      'ce-type': type,
      'ce-source': `/hubs/${event.hub}/client/${event.connectionId}`,
      'ce-id': randomUUID(),
      'ce-time': new Date().toISOString(),
      'ce-awpsversion': '1.0',
      'ce-hub': event.hub,
      'ce-connectionId': event.connectionId,
      'ce-eventName': event.eventName,
      'ce-signature': this.signature(event.connectionId),
      'WebHook-Request-Origin': origin,
    };
    if (event.userId !== undefined) headers['ce-userId'] = event.userId;
    if (event.subprotocol !== undefined) headers['ce-subprotocol'] = event.subprotocol;
    if (event.connectionState !== undefined) headers['ce-connectionState'] = event.connectionState;
    return headers;
  }

  /** The CloudEvents abuse-protection handshake, once per handler URL and origin until it succeeds. */
  private validate(url: string, origin: string): Promise<boolean> {
    const key = `${origin} ${url}`;
    let pending = this.validated.get(key);
    if (!pending) {
      pending = this.preflight(url, origin);
      this.validated.set(key, pending);
      void pending.then((ok) => {
        if (!ok) this.validated.delete(key);
      });
    }
    return pending;
  }

  private async preflight(url: string, origin: string): Promise<boolean> {
    try {
      const response = await fetch(url, {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': origin, 'ce-awpsversion': '1.0' },
        signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
      await response.arrayBuffer().catch(() => undefined);
      const allowed = (response.headers.get('webhook-allowed-origin') ?? '').split(',').map((o) => o.trim().toLowerCase());
      const ok = response.ok && (allowed.includes('*') || allowed.includes(origin.toLowerCase()));
      if (!ok) this.options.logger.warn('Web PubSub emulator: event handler refused the abuse-protection preflight', { url, status: response.status });
      return ok;
    } catch (error) {
      if (!this.shutdown.signal.aborted) this.options.logger.warn('Web PubSub emulator: abuse-protection preflight failed', { url, error: error instanceof Error ? error : String(error) });
      return false;
    }
  }
}

function matchesPattern(pattern: string | undefined, eventName: string): boolean {
  if (!pattern) return false;
  return pattern
    .split(',')
    .map((p) => p.trim())
    .some((p) => p === '*' || new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(eventName));
}
