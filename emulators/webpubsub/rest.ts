/**
 * The REST data plane `/api/hubs/{hub}/…` the server SDK calls, with the service's status codes
 * (generated SDK clients turn any unlisted status into a RestError, so these must be exact).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientConnection } from './connection.js';
import type { EmulatorCore } from './core.js';
import { BadRequestError, TokenRejectedError, WebPubSubEmulatorError } from './errors.js';
import { isValidGroupName } from './client-messages.js';
import { dataTypeOfContentType, Payload } from './payload.js';

const MAX_BODY_BYTES = 1024 * 1024;

interface RestRequest {
  method: string;
  hub: string;
  /** Path below `/api/hubs/{hub}`, split and decoded. */
  segments: string[];
  query: URLSearchParams;
  request: IncomingMessage;
}

type RestResult = { status: number; body?: unknown };

export class RestApi {
  constructor(private readonly core: EmulatorCore) {}

  static matches(pathname: string): boolean {
    return pathname.startsWith('/api/');
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let result: RestResult;
    try {
      const url = new URL(request.url ?? '/', 'http://emulator');
      if (url.pathname === '/api/health') {
        result = { status: 200 };
      } else {
        await this.authorize(request);
        const match = /^\/api\/hubs\/([^/]+)(\/.*)?$/.exec(url.pathname);
        if (!match?.[1]) throw new WebPubSubEmulatorError(`No such operation: ${request.method} ${url.pathname}`, 404);
        const segments = (match[2] ?? '').split('/').filter(Boolean).map(decodeURIComponent);
        result = await this.route({ method: request.method ?? 'GET', hub: decodeURIComponent(match[1]).toLowerCase(), segments, query: url.searchParams, request });
      }
    } catch (error) {
      const status = error instanceof WebPubSubEmulatorError ? error.statusCode : 500;
      if (status >= 500) this.core.logger.error('Web PubSub emulator: REST request failed', { method: request.method, error: error instanceof Error ? error : String(error) });
      result = { status, body: { code: codeOf(status), message: error instanceof Error ? error.message : 'Internal error' } };
    }
    if (!request.complete) request.resume();
    const body = result.body === undefined || request.method === 'HEAD' ? undefined : JSON.stringify(result.body);
    response.writeHead(result.status, body === undefined ? { 'content-length': '0' } : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  /** Bearer JWT whose audience is the request URL (with or without its query). */
  private async authorize(request: IncomingMessage): Promise<void> {
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw new TokenRejectedError('An Authorization: Bearer token is required.');
    const path = request.url ?? '/';
    await this.core.verifier.verify(match[1].trim(), [`${this.core.endpoint}${path}`, `http://${request.headers.host}${path}`]);
  }

  private async route(r: RestRequest): Promise<RestResult> {
    const hub = this.core.hub(r.hub);
    const [, second, , fourth] = r.segments;
    const excluded = new Set(r.query.getAll('excluded'));
    const reason = r.query.get('reason') || 'Closed by the REST API.';
    const key = `${r.method} ${r.segments.map((s, i) => (i % 2 === 1 && !s.startsWith(':') ? '{}' : s)).join('/')}`;
    if (r.query.has('filter')) throw new BadRequestError('OData filters are not supported by the emulator.');
    switch (key) {
      case 'POST :send':
        hub.sendFromServer(hub.connections.values(), await readPayload(r.request), excluded);
        return { status: 202 };
      case 'POST :closeConnections':
        for (const c of [...hub.connections.values()]) if (!excluded.has(c.id)) this.core.close(c, reason);
        return { status: 204 };
      case 'POST :generateToken':
        return { status: 200, body: { token: await this.generateToken(r) } };
      case 'POST :addToGroups':
      case 'POST :removeFromGroups':
        throw new BadRequestError('Filtered group operations are not supported by the emulator.');
      case 'POST connections/{}/:send': {
        const payload = await readPayload(r.request);
        const target = hub.connections.get(second!);
        if (target) hub.sendFromServer([target], payload);
        return { status: 202 };
      }
      case 'HEAD connections/{}':
        return { status: hub.connections.has(second!) ? 200 : 404 };
      case 'DELETE connections/{}': {
        const target = hub.connections.get(second!);
        if (target) this.core.close(target, reason);
        return { status: 204 };
      }
      case 'DELETE connections/{}/groups': {
        const target = hub.connections.get(second!);
        if (target) hub.leaveAll(target);
        return { status: 204 };
      }
      case 'HEAD groups/{}':
        return { status: hub.hasGroup(second!) ? 200 : 404 };
      case 'POST groups/{}/:send':
        hub.publishToGroup(validGroup(second!), await readPayload(r.request), { excluded });
        return { status: 202 };
      case 'POST groups/{}/:closeConnections':
        for (const c of [...hub.groupMembers(second!)]) if (!excluded.has(c.id)) this.core.close(c, reason);
        return { status: 204 };
      case 'GET groups/{}/connections':
        return { status: 200, body: { value: [...hub.groupMembers(second!)].map((c) => ({ connectionId: c.id, userId: c.userId })) } };
      case 'PUT groups/{}/connections/{}': {
        const target = hub.connections.get(fourth!);
        if (!target) throw new WebPubSubEmulatorError(`Connection '${fourth}' does not exist.`, 404);
        hub.join(target, validGroup(second!));
        return { status: 200 };
      }
      case 'DELETE groups/{}/connections/{}': {
        const target = hub.connections.get(fourth!);
        if (target) hub.leave(target, second!);
        return { status: 204 };
      }
      case 'HEAD users/{}':
        return { status: hub.userConnections(second!).size > 0 ? 200 : 404 };
      case 'POST users/{}/:send':
        hub.sendFromServer(hub.userConnections(second!), await readPayload(r.request));
        return { status: 202 };
      case 'POST users/{}/:closeConnections':
        for (const c of [...hub.userConnections(second!)]) if (!excluded.has(c.id)) this.core.close(c, reason);
        return { status: 204 };
      case 'DELETE users/{}/groups':
        for (const c of hub.userConnections(second!)) hub.leaveAll(c);
        return { status: 204 };
      case 'PUT users/{}/groups/{}':
        for (const c of hub.userConnections(second!)) hub.join(c, validGroup(fourth!));
        return { status: 200 };
      case 'DELETE users/{}/groups/{}':
        for (const c of hub.userConnections(second!)) hub.leave(c, fourth!);
        return { status: 204 };
      case 'PUT permissions/{}/connections/{}':
      case 'DELETE permissions/{}/connections/{}':
      case 'HEAD permissions/{}/connections/{}':
        return this.permission(r.method, hub.connections.get(fourth!), second!, r.query.get('targetName'));
      default:
        throw new WebPubSubEmulatorError(`No such operation: ${r.method} /api/hubs/${r.hub}/${r.segments.join('/')}`, 404);
    }
  }

  /** grant/revoke/check `sendToGroup` and `joinLeaveGroup`, optionally for one group. */
  private permission(method: string, target: ClientConnection | undefined, permission: string, targetName: string | null): RestResult {
    const base = { sendtogroup: 'webpubsub.sendToGroup', joinleavegroup: 'webpubsub.joinLeaveGroup' }[permission.toLowerCase()];
    if (!base) throw new BadRequestError(`Unknown permission '${permission}'.`);
    const role = targetName ? `${base}.${targetName}` : base;
    if (method === 'HEAD') return { status: target && (target.roles.has(role) || target.roles.has(base)) ? 200 : 404 };
    if (!target) throw new WebPubSubEmulatorError('The connection does not exist.', 404);
    if (method === 'PUT') target.roles.add(role);
    else target.roles.delete(role);
    return { status: method === 'PUT' ? 200 : 204 };
  }

  private generateToken(r: RestRequest): Promise<string> {
    const minutes = Number(r.query.get('minutesToExpire') ?? '60');
    if (!Number.isFinite(minutes) || minutes < 1) throw new BadRequestError('minutesToExpire must be a positive number.');
    return this.core.verifier.signClientToken(`${this.core.endpoint}/client/hubs/${r.hub}`, {
      userId: r.query.get('userId') ?? undefined,
      roles: r.query.getAll('role'),
      groups: r.query.getAll('group'),
      expiresInMinutes: minutes,
    });
  }
}

function validGroup(group: string): string {
  if (!isValidGroupName(group)) throw new BadRequestError(`Invalid group name '${group}'.`);
  return group;
}

async function readPayload(request: IncomingMessage): Promise<Payload> {
  const dataType = dataTypeOfContentType(request.headers['content-type']);
  if (!dataType) throw new BadRequestError(`Unsupported content type '${request.headers['content-type']}'.`, 415);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError('The message is larger than 1 MB.', 413);
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  if (dataType === 'json') {
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new BadRequestError('The body is not valid JSON.');
    }
  }
  return Payload.fromBody(bytes, dataType);
}

function codeOf(status: number): string {
  return { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 413: 'PayloadTooLarge', 415: 'UnsupportedMediaType' }[status] ?? 'InternalServerError';
}
