import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { HttpResponse as HttpResponseType, HttpResponseInit } from '@azure/functions';
import { HttpRequest, HttpResponse } from './functions-runtime.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import type { HttpRoute } from './dispatchers.js';
import { invocationContextFor } from './invocation.js';

export interface HttpHostOptions {
  readonly routePrefix: string;
  readonly functionKeys: readonly string[];
  readonly masterKey: string;
  readonly logger: Logger;
  /** Values of extra input bindings by binding type (e.g. `durableClient`). */
  readonly extraInputValues: ReadonlyMap<string, unknown>;
}

export type RouteLookup =
  | { kind: 'found'; route: HttpRoute; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

/** Finds the function for a path below the route prefix; a path served for other methods is a 405. */
export function lookupRoute(routes: readonly HttpRoute[], method: string, path: string): RouteLookup {
  const allow = new Set<string>();
  for (const route of routes) {
    const params = route.route.match(path);
    if (!params) continue;
    if (route.methods.has(method)) return { kind: 'found', route, params };
    for (const m of route.methods) allow.add(m);
  }
  return allow.size > 0 ? { kind: 'method-not-allowed', allow: [...allow].sort() } : { kind: 'not-found' };
}

/** `function` level accepts a function key or the master key (`?code=` or `x-functions-key`); `admin` only the master key. */
export function isAuthorized(route: HttpRoute, url: URL, headers: IncomingMessage['headers'], options: HttpHostOptions): boolean {
  if (route.authLevel === 'anonymous') return true;
  const presented = url.searchParams.get('code') ?? firstHeader(headers['x-functions-key']);
  if (!presented) return false;
  const accepted = route.authLevel === 'admin' ? [options.masterKey] : [...options.functionKeys, options.masterKey];
  return accepted.some((key) => safeEqual(key, presented));
}

/** Runs one HTTP-triggered function the way the worker does: HttpRequest in, HttpResponse(Init) out. */
export async function invokeHttpFunction(
  route: HttpRoute,
  params: Record<string, string>,
  incoming: IncomingMessage,
  url: URL,
  body: Buffer,
  res: ServerResponse,
  options: HttpHostOptions,
): Promise<void> {
  const request = new HttpRequest({
    method: incoming.method ?? 'GET',
    url: url.href,
    headers: flattenHeaders(incoming.headers),
    params,
    body: { bytes: body },
  });
  const context = invocationContextFor(route.registration, options.logger, options.extraInputValues);
  let response: HttpResponseType;
  try {
    const result = (await route.registration.handler(request, context)) as HttpResponseType | HttpResponseInit | undefined;
    response = result instanceof HttpResponse ? result : new HttpResponse(result ?? {});
  } catch (error) {
    options.logger.error('function failed', { functionName: route.registration.metadata.name, invocationId: context.invocationId, error: error as Error });
    res.writeHead(500).end();
    return;
  }
  const payload = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers).end(payload);
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeEqual(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
