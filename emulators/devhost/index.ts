import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { consoleLogger, type Logger } from '../../src/lib/telemetry/logger.js';
import { installFunctionsCore, registeredFunctions, registeredHooks, triggerOf } from '../functions-host/registry.js';
import { DEFAULT_DISPATCHERS, type DevHostContext, type HttpRoute, type TriggerDispatcher, type WebhookHandler } from './dispatchers.js';
import { DURABLE_WEBHOOK_PATH, durableClientData, type DurableClientData } from './durable/client-data.js';
import { DurableEngine, type WaitOptions } from './durable/engine.js';
import type { HistoryEvent } from './durable/history.js';
import { handleDurableApi } from './durable/http-api.js';
import type { InstanceStatus } from './durable/instance.js';
import { invokeHttpFunction, isAuthorized, lookupRoute, type HttpHostOptions } from './http-host.js';

export type { DevHostContext, HttpRoute, TriggerDispatcher, WebhookHandler, WebhookReply, WebhookRequest } from './dispatchers.js';
export { webPubSubDispatcher, WEBPUBSUB_WEBHOOK_PATH } from './webpubsub-trigger.js';
export type { WebPubSubDispatcherOptions, WebPubSubServiceAccess } from './webpubsub-trigger.js';
export type { InstanceStatus, RuntimeStatus } from './durable/instance.js';
export type { HistoryEvent } from './durable/history.js';
export type { DurableClientData } from './durable/client-data.js';
export { DevHostError, DurableRequestError, UnsupportedActionError } from './errors.js';

export interface DevHostOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly hostname?: string;
  /** Imports every module in it (`*.ts`, or `*.js` for a build) so their `app.*` registrations run. */
  readonly functionsDir?: string | URL;
  /** Keys accepted for `authLevel: 'function'`. @default one random key, see `keys.function` */
  readonly functionKeys?: readonly string[];
  /** Key accepted for every level. @default a random key, see `keys.master` */
  readonly masterKey?: string;
  /**
   * System keys by name. An extension webhook `/runtime/webhooks/<name>` accepts only its
   * `<name>_extension` key or the master key, as `?code=` or `x-functions-key`, like the Functions host
   * (its `SystemKeyAuthLevel` policy on `runtime/webhooks/{extensionName}`). @default a random key per webhook
   */
  readonly systemKeys?: Readonly<Record<string, string>>;
  /** @default 'api' (host.json `extensions.http.routePrefix`) */
  readonly routePrefix?: string;
  /** @default 'rtvoice' */
  readonly taskHubName?: string;
  /** Durable time runs 1/timeScale times faster than the wall clock. @default 1 */
  readonly timeScale?: number;
  /** Extra trigger types to serve; a dispatcher for an already-served type replaces the default one. */
  readonly dispatchers?: readonly TriggerDispatcher[];
  /**
   * Runs every invocation and app hook (and what they start) within it: a host serving one of several
   * apps of a process runs them in its app's scope (`runWithApp`). @default run as is
   */
  readonly scope?: <T>(invoke: () => Promise<T>) => Promise<T>;
  /** Run the app's `app.hook.appStart` / `appTerminate` hooks, as the worker does. @default true */
  readonly runAppHooks?: boolean;
  /**
   * Leave the `appStart` hooks to `startApp()`, for a caller that gives the app its runtime only once the
   * host's URL is known (the hooks validate the configuration the functions will use). @default false
   */
  readonly deferAppStart?: boolean;
  /** How long `close()` waits for invocations in flight to finish, as the host does on shutdown. @default 5000 */
  readonly drainTimeoutMs?: number;
  /** @default consoleLogger('warn') */
  readonly logger?: Logger;
  /** Called once the port is known, before the app's `appStart` hooks run (e.g. to set the callback URL it reads). */
  readonly onListening?: (baseUrl: string) => void;
}

/** In-process access to the durable engine (the same state the HTTP API serves). */
export interface DurableHandle {
  start(orchestrator: string, options?: { instanceId?: string; input?: unknown }): Promise<string>;
  raiseEvent(instanceId: string, eventName: string, payload?: unknown): Promise<void>;
  terminate(instanceId: string, reason: string): Promise<void>;
  purge(instanceId: string): Promise<number>;
  status(instanceId: string, options?: { showHistory?: boolean }): Promise<InstanceStatus | undefined>;
  waitForCompletion(instanceId: string, options?: WaitOptions): Promise<InstanceStatus>;
  history(instanceId: string): readonly HistoryEvent[];
  pendingTimerCount(instanceId: string): number;
  /** The `durableClient` binding value this host gives its functions. */
  readonly clientData: DurableClientData;
}

export interface DevHost {
  readonly baseUrl: string;
  readonly port: number;
  readonly keys: { readonly function: string; readonly master: string; readonly system: Readonly<Record<string, string>> };
  /** `<baseUrl>/runtime/webhooks/<extension>?code=<its system key>`: what the Functions host hands the extension. */
  webhookUrl(extension: string): string;
  /** Names of the functions served, by trigger type. */
  readonly served: ReadonlyMap<string, readonly string[]>;
  readonly durable: DurableHandle;
  /** Runs the `appStart` hooks if they have not run yet (see `deferAppStart`). */
  startApp(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Serves the app's registered functions the way the Functions host does: it reads the registrations
 * `@azure/functions` makes through `@azure/functions-core` (never a list of its own), serves HTTP
 * triggers on `/<routePrefix>/<route>` with their methods and auth levels, gives `durableClient` inputs
 * their binding data, serves the Durable Functions HTTP API, and runs orchestrations and activities on an
 * in-memory engine driven through durable-functions' own replay entry point.
 *
 * @example
 * const host = await startDevHost({ functionsDir: new URL('../../src/functions/', import.meta.url) });
 * await fetch(`${host.baseUrl}/api/health`);
 * await host.close();
 */
export async function startDevHost(options: DevHostOptions = {}): Promise<DevHost> {
  installFunctionsCore();
  if (options.functionsDir) await importFunctions(options.functionsDir);
  const logger = options.logger ?? consoleLogger('warn', { component: 'devhost' });
  const systemKeys: Record<string, string> = { ...options.systemKeys };
  const keys = { function: options.functionKeys?.[0] ?? randomKey(), master: options.masterKey ?? randomKey(), system: systemKeys };
  const engine = new DurableEngine({ logger, ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}) });
  const routes: HttpRoute[] = [];
  const routePrefix = (options.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');

  // Requests are refused until every registration is mounted (the port must be known first).
  const ready: { http?: HttpHostOptions; clientData?: DurableClientData } = {};
  // Invocations in flight: closing waits for them, so none runs on after the host (and what it uses) is gone.
  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    if (!ready.http || !ready.clientData) return void res.writeHead(503).end();
    const handling = handle(req, res, ready.http, ready.clientData).catch((error: unknown) => {
      logger.error('request failed', { path: req.url?.split('?')[0], error: error as Error });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    inFlight.add(handling);
    void handling.finally(() => inFlight.delete(handling));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.hostname ?? '127.0.0.1', () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://${options.hostname ?? '127.0.0.1'}:${port}`;
  const clientData = durableClientData(baseUrl, options.taskHubName ?? 'rtvoice');
  options.onListening?.(baseUrl);

  const dispatchers = new Map<string, TriggerDispatcher>();
  for (const d of [...DEFAULT_DISPATCHERS, ...(options.dispatchers ?? [])]) dispatchers.set(d.triggerType.toLowerCase(), d);
  const addHttpRoute = (route: HttpRoute) => {
    routes.push(route);
    routes.sort((a, b) => b.route.precedence - a.route.precedence);
  };
  const webhooks = new Map<string, WebhookHandler>();
  const addWebhook = (path: string, handler: WebhookHandler) => {
    if (!webhooks.has(path.toLowerCase())) webhooks.set(path.toLowerCase(), handler);
    const name = extensionKeyName(path);
    if (name) systemKeys[name] ??= randomKey();
  };
  const context: DevHostContext = { logger, engine, baseUrl, addHttpRoute, addWebhook };
  const served = new Map<string, string[]>();
  const scope = options.scope ?? (<T>(invoke: () => Promise<T>) => invoke());
  for (const registered of registeredFunctions()) {
    const registration = { ...registered, handler: (...args: unknown[]) => scope(async () => registered.handler(...args)) };
    const trigger = triggerOf(registration);
    const dispatcher = dispatchers.get(trigger.type.toLowerCase());
    if (!dispatcher) {
      logger.warn('trigger type not served by the dev host', { functionName: registration.metadata.name, triggerType: trigger.type });
      continue;
    }
    dispatcher.mount(registration, trigger, context);
    served.set(trigger.type, [...(served.get(trigger.type) ?? []), registration.metadata.name]);
  }
  ready.clientData = clientData;
  ready.http = {
    routePrefix,
    functionKeys: options.functionKeys ?? [keys.function],
    masterKey: keys.master,
    logger,
    extraInputValues: new Map<string, unknown>([
      ['durableClient', clientData],
      ['orchestrationClient', clientData],
    ]),
  };

  const appHookData: Record<string, unknown> = {};
  const runHooks = async (hookName: 'appStart' | 'appTerminate') => {
    if (options.runAppHooks === false) return;
    for (const hook of registeredHooks().filter((h) => h.hookName === hookName)) {
      await scope(async () => hook.callback({ hookData: {}, appHookData, functionAppDirectory: process.cwd() }));
    }
  };
  let appStarted: Promise<void> | undefined;
  const startApp = () => (appStarted ??= runHooks('appStart'));
  if (!options.deferAppStart) {
    try {
      await startApp();
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, http: HttpHostOptions, data: DurableClientData): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    if (url.pathname.startsWith(`${DURABLE_WEBHOOK_PATH}/`)) {
      const api = handleDurableApi(engine, data, {
        method,
        path: url.pathname.slice(DURABLE_WEBHOOK_PATH.length),
        query: url.searchParams,
        body: body.toString('utf8'),
      });
      const headers = { 'content-type': 'application/json', ...(api.headers ?? {}) };
      res.writeHead(api.status, headers).end(api.body === undefined ? undefined : JSON.stringify(api.body));
      return;
    }
    const webhook = webhooks.get(url.pathname.toLowerCase());
    if (webhook) {
      // Every method, OPTIONS included: the host authorizes before the extension sees the request.
      const keyName = extensionKeyName(url.pathname);
      const presented = url.searchParams.get('code') ?? firstHeaderValue(req.headers['x-functions-key']);
      const accepted = [keys.master, ...(keyName && systemKeys[keyName] ? [systemKeys[keyName]] : [])];
      if (!presented || !accepted.some((key) => safeEqualText(key, presented))) return void res.writeHead(401).end();
      const reply = await webhook({ method, url, headers: req.headers, body });
      res.writeHead(reply.status, reply.headers ?? {}).end(reply.body);
      return;
    }
    const prefix = routePrefix ? `/${routePrefix}` : '';
    const lower = url.pathname.toLowerCase();
    if (prefix && lower !== prefix && !lower.startsWith(`${prefix}/`)) return void res.writeHead(404).end();
    const found = lookupRoute(routes, method, url.pathname.slice(prefix.length));
    if (found.kind === 'not-found') return void res.writeHead(404).end();
    if (found.kind === 'method-not-allowed') return void res.writeHead(405, { allow: found.allow.join(', ') }).end();
    if (!isAuthorized(found.route, url, req.headers, http)) return void res.writeHead(401).end();
    await invokeHttpFunction(found.route, found.params, req, url, body, res, http);
  }

  const durable: DurableHandle = {
    clientData,
    start: async (name, startOptions = {}) => engine.start(name, startOptions).instanceId,
    raiseEvent: async (instanceId, eventName, payload) => engine.raiseEvent(instanceId, eventName, payload),
    terminate: async (instanceId, reason) => engine.terminate(instanceId, reason),
    purge: async (instanceId) => engine.purge(instanceId),
    status: async (instanceId, statusOptions) => engine.status(instanceId, statusOptions),
    waitForCompletion: (instanceId, waitOptions) => engine.waitForCompletion(instanceId, waitOptions),
    history: (instanceId) => engine.history(instanceId),
    pendingTimerCount: (instanceId) => engine.pendingTimerCount(instanceId),
  };

  let closing: Promise<void> | undefined;
  return {
    baseUrl,
    port,
    keys,
    webhookUrl: (extension: string) => {
      const name = `${extension.toLowerCase()}_extension`;
      const key = systemKeys[name];
      if (!key) throw new Error(`no webhook is served for the ${extension} extension`);
      return `${baseUrl}/runtime/webhooks/${extension.toLowerCase()}?code=${encodeURIComponent(key)}`;
    },
    served,
    durable,
    startApp,
    close: () =>
      (closing ??= (async () => {
        try {
          await runHooks('appTerminate');
        } finally {
          await drain(inFlight, options.drainTimeoutMs ?? 5_000, logger);
          await engine.close();
          await closeServer(server);
        }
      })()),
  };
}

async function importFunctions(dir: string | URL): Promise<void> {
  const path = dir instanceof URL ? dir : pathToFileURL(resolve(dir) + '/');
  const href = path.href.endsWith('/') ? path : new URL(`${path.href}/`);
  const files = readdirSync(href).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts')).sort();
  for (const file of files) await import(new URL(file, href).href);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Waits for the invocations in flight (and any they let in meanwhile), at most `timeoutMs`. */
async function drain(inFlight: ReadonlySet<Promise<void>>, timeoutMs: number, logger: Logger): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (inFlight.size > 0) {
    const left = deadline - performance.now();
    if (left <= 0) {
      logger.warn('dev host closing with invocations still running', { inFlight: inFlight.size, drainTimeoutMs: timeoutMs });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...inFlight]), new Promise<void>((done) => (timer = setTimeout(done, left)))]);
    clearTimeout(timer);
  }
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    server.closeAllConnections();
  });
}

/** `webpubsub_extension` for `/runtime/webhooks/webpubsub` (the host's naming convention for extension keys). */
function extensionKeyName(path: string): string | undefined {
  const m = /^\/runtime\/webhooks\/([^/]+)/i.exec(path);
  return m ? `${m[1]!.toLowerCase()}_extension` : undefined;
}

function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeEqualText(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

function randomKey(): string {
  return randomBytes(24).toString('base64url');
}
