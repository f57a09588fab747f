import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * - `429`: throttled, with `x-ms-retry-after-ms`;
 * - `503`: service unavailable;
 * - `drop`: the connection is closed before the request reaches the server;
 * - `stall`: no answer at all until the client gives up (its request timeout);
 * - `lost-response`: the request reaches the server and is applied, then the connection is closed
 *   before the answer gets back: the case idempotent writes exist for.
 */
export type FaultKind = '429' | '503' | 'drop' | 'stall' | 'lost-response';

/** Which requests a fault rule applies to; all given fields must match. */
export interface RequestMatch {
  readonly method?: string;
  /** Substring of, or pattern over, the decoded path (e.g. `/colls/transcripts/docs`). */
  readonly path?: string | RegExp;
  readonly operation?: CosmosOperation;
}

export interface FaultOptions {
  /** Only requests matching this are faulted (and counted towards `n`). @default every request */
  readonly match?: RequestMatch;
  /** Let this many matching requests through before the faults start. @default 0 */
  readonly skip?: number;
  /** `x-ms-retry-after-ms` sent with a 429. @default 5 */
  readonly retryAfterMs?: number;
}

/** What a request does, read from the method and the headers the SDK sets. */
export type CosmosOperation = 'read' | 'query' | 'upsert' | 'create' | 'replace' | 'delete' | 'batch' | 'patch' | 'other';

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly operation: CosmosOperation;
  /** The fault injected instead of forwarding, if any. */
  readonly fault?: FaultKind;
}

export interface RequestLog {
  /** Every request seen since the last reset, in arrival order. */
  readonly entries: readonly ProxiedRequest[];
  readonly total: number;
  /** Requests matching the filter (faulted ones included). */
  count(match?: RequestMatch): number;
  /** Counts keyed `METHOD path`. */
  byRoute(): Record<string, number>;
  reset(): void;
}

export interface CosmosFaultProxy {
  /** Point `COSMOS_ENDPOINT` here. */
  readonly endpoint: string;
  /** The next `n` matching requests get `kind` instead of reaching the server. Rules queue up in order. */
  failNext(n: number, kind: FaultKind, opts?: FaultOptions): void;
  /** Drops every pending fault rule. */
  clearFaults(): void;
  /** Faults still to be injected. */
  readonly pendingFaults: number;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

interface FaultRule {
  remaining: number;
  skip: number;
  readonly kind: FaultKind;
  readonly match: RequestMatch | undefined;
  readonly retryAfterMs: number;
}

/**
 * A small HTTP proxy in front of a Cosmos DB endpoint (the embedded server) that counts requests and
 * injects faults on demand: 429 with `x-ms-retry-after-ms`, 503, or a connection dropped without an
 * answer. The SDK and our retry paths are exercised over real sockets.
 */
export async function startCosmosFaultProxy(targetEndpoint: string): Promise<CosmosFaultProxy> {
  const target = new URL(targetEndpoint);
  if (target.protocol !== 'http:') throw new Error(`fault proxy forwards to http endpoints only, got ${target.protocol}`);
  const agent = new http.Agent({ keepAlive: true });
  const rules: FaultRule[] = [];
  const entries: ProxiedRequest[] = [];

  const server = http.createServer((req, res) => {
    const request = describe(req);
    const rule = rules.find((r) => r.remaining > 0 && matches(r.match, request));
    if (rule && rule.skip > 0) {
      rule.skip -= 1;
    } else if (rule) {
      rule.remaining -= 1;
      if (rule.remaining === 0) rules.splice(rules.indexOf(rule), 1);
      entries.push({ ...request, fault: rule.kind });
      if (rule.kind === 'lost-response') forward(req, res, target, agent, { loseResponse: true });
      else injectFault(rule, req, res);
      return;
    }
    entries.push(request);
    forward(req, res, target, agent);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;

  const requests: RequestLog = {
    get entries() {
      return entries;
    },
    get total() {
      return entries.length;
    },
    count: (match) => entries.filter((e) => matches(match, e)).length,
    byRoute: () => entries.reduce<Record<string, number>>((acc, e) => ({ ...acc, [`${e.method} ${e.path}`]: (acc[`${e.method} ${e.path}`] ?? 0) + 1 }), {}),
    reset: () => void entries.splice(0, entries.length),
  };
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(n, kind, opts = {}) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError('failNext needs a positive integer count');
      rules.push({ remaining: n, skip: opts.skip ?? 0, kind, match: opts.match, retryAfterMs: opts.retryAfterMs ?? 5 });
    },
    clearFaults: () => void rules.splice(0, rules.length),
    get pendingFaults() {
      return rules.reduce((n, r) => n + r.remaining, 0);
    },
    requests,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}

function describe(req: IncomingMessage): ProxiedRequest {
  const method = req.method ?? 'GET';
  const path = safeDecode((req.url ?? '/').split('?')[0] ?? '/');
  return { method, path, operation: operationOf(method, req.headers) };
}

function operationOf(method: string, headers: IncomingMessage['headers']): CosmosOperation {
  const flag = (name: string) => String(headers[name] ?? '').toLowerCase() === 'true';
  switch (method) {
    case 'GET':
      return 'read';
    case 'PUT':
      return 'replace';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    case 'POST':
      if (flag('x-ms-documentdb-isquery') || String(headers['content-type'] ?? '').includes('query+json')) return 'query';
      if (flag('x-ms-documentdb-is-upsert')) return 'upsert';
      if (flag('x-ms-cosmos-is-batch-request')) return 'batch';
      return 'create';
    default:
      return 'other';
  }
}

function matches(match: RequestMatch | undefined, request: ProxiedRequest): boolean {
  if (!match) return true;
  if (match.method && match.method.toUpperCase() !== request.method) return false;
  if (match.operation && match.operation !== request.operation) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? !request.path.includes(match.path) : !match.path.test(request.path)) return false;
  }
  return true;
}

function injectFault(rule: FaultRule, req: IncomingMessage, res: ServerResponse): void {
  if (rule.kind === 'drop') {
    // No status line at all: the client sees a reset connection, as when a gateway dies mid-request.
    req.socket.destroy();
    return;
  }
  if (rule.kind === 'stall') {
    // Read the request and never answer; the socket goes when the client aborts or the proxy closes.
    req.resume();
    return;
  }
  const throttled = rule.kind === '429';
  const body = JSON.stringify(
    throttled
      ? { code: 'TooManyRequests', message: 'Request rate is large (injected by the fault proxy)' }
      : { code: 'ServiceUnavailable', message: 'Service is currently unavailable (injected by the fault proxy)' },
  );
  // Drain the request so the connection stays usable for the client's retry.
  req.resume();
  req.on('end', () => {
    res.writeHead(throttled ? 429 : 503, {
      'content-type': 'application/json',
      'x-ms-activity-id': randomUUID(),
      'x-ms-request-charge': '0',
      ...(throttled ? { 'x-ms-retry-after-ms': String(rule.retryAfterMs), 'x-ms-substatus': '3200' } : {}),
    });
    res.end(body);
  });
}

function forward(req: IncomingMessage, res: ServerResponse, target: URL, agent: http.Agent, options: { loseResponse?: boolean } = {}): void {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
    (upstreamRes) => {
      if (options.loseResponse) {
        // The server has done the work; the client never hears about it.
        upstreamRes.resume();
        upstreamRes.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'BadGateway', message: 'fault proxy could not reach the server' }));
  });
  req.pipe(upstream);
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
