/**
 * The client endpoint `/client/hubs/{hub}`: authenticates the upgrade (access token, or the
 * reconnection token of a reliable connection), asks the blocking `connect` handler, picks the
 * subprotocol, and wires the accepted socket to its logical connection.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { claimList, extractToken, newReconnectionToken, sameSecret } from './auth.js';
import { ClientMessageHandler, isValidGroupName } from './client-messages.js';
import { ClientConnection } from './connection.js';
import type { EmulatorCore } from './core.js';
import { BadRequestError, PermissionDeniedError, UpstreamError, WebPubSubEmulatorError } from './errors.js';
import { Payload } from './payload.js';
import { SUPPORTED_SUBPROTOCOLS, writeConnected } from './protocol.js';

const CLIENT_PATH = /^\/client\/hubs\/([^/?]+)\/?$/i;

interface Admission {
  hub: string;
  userId: string | undefined;
  roles: string[];
  groups: string[];
  subprotocol: string | undefined;
  rawSendToGroup: string | undefined;
  connectionId: string;
  connectionState: string | undefined;
  originHost: string | undefined;
}

export class ClientEndpoint {
  private readonly messages: ClientMessageHandler;
  /** The subprotocol decided for each upgrade, read back by the WebSocketServer's handleProtocols. */
  private readonly chosenSubprotocol = new WeakMap<IncomingMessage, string | false>();

  constructor(
    private readonly core: EmulatorCore,
    private readonly wss: WebSocketServer,
  ) {
    this.messages = new ClientMessageHandler(core);
  }

  static matches(pathname: string): boolean {
    return CLIENT_PATH.test(pathname);
  }

  handleProtocols = (_offered: Set<string>, request: IncomingMessage): string | false => this.chosenSubprotocol.get(request) ?? false;

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    try {
      const url = new URL(request.url ?? '/', 'http://emulator');
      const hubName = decodeURIComponent(CLIENT_PATH.exec(url.pathname)?.[1] ?? '').toLowerCase();
      const recoverId = url.searchParams.get('awps_connection_id');
      if (recoverId) return this.recover(request, socket, head, hubName, recoverId, url.searchParams.get('awps_reconnection_token') ?? '');
      const admission = await this.admit(request, url, hubName);
      this.chosenSubprotocol.set(request, admission.subprotocol ?? false);
      this.wss.handleUpgrade(request, socket, head, (ws) => this.open(ws, admission));
    } catch (error) {
      const status = error instanceof WebPubSubEmulatorError ? error.statusCode : 500;
      if (status >= 500) this.core.logger.error('Web PubSub emulator: client upgrade failed', { error: error instanceof Error ? error : String(error) });
      rejectUpgrade(socket, status, error instanceof Error ? error.message : 'Internal error');
    }
  }

  private async admit(request: IncomingMessage, url: URL, hub: string): Promise<Admission> {
    const token = extractToken(url.searchParams, request.headers.authorization, this.core.options.tokenPrecedence);
    if (!token) throw new WebPubSubEmulatorError('An access token is required.', 401);
    const clientPath = `/client/hubs/${hub}`;
    const claims = await this.core.verifier.verify(token, [`${this.core.endpoint}${clientPath}`, `http://${request.headers.host}${clientPath}`]);
    const groups = claimList(claims, 'webpubsub.group');
    if (groups.some((g) => !isValidGroupName(g))) throw new BadRequestError('The token contains an invalid group name.');
    const requested = (request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const admission: Admission = {
      hub,
      userId: typeof claims.sub === 'string' && claims.sub.length > 0 ? claims.sub : undefined,
      roles: claimList(claims, 'role'),
      groups,
      subprotocol: requested.find((p) => SUPPORTED_SUBPROTOCOLS.includes(p)),
      rawSendToGroup: undefined,
      connectionId: randomUUID().replace(/-/g, ''),
      connectionState: undefined,
      originHost: hostnameOf(request.headers.host),
    };
    await this.askConnectHandler(admission, claims, url, request, requested);
    if (admission.subprotocol === undefined) admission.rawSendToGroup = rawSendToGroupTarget(url, admission.roles);
    return admission;
  }

  /** The blocking `connect` event: the handler may set userId, roles, groups and subprotocol, or refuse. */
  private async askConnectHandler(admission: Admission, claims: Record<string, unknown>, url: URL, request: IncomingMessage, requested: string[]): Promise<void> {
    if (!this.core.upstream.handlerFor(admission.hub, 'system', 'connect')) return;
    const query: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) if (key !== 'access_token') (query[key] ??= []).push(value);
    const headers: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(request.headers)) if (key !== 'authorization' && value !== undefined) headers[key] = Array.isArray(value) ? value : [value];
    const claimMap: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(claims)) claimMap[key] = (Array.isArray(value) ? value : [value]).map(String);
    const body = { claims: claimMap, query, headers, subprotocols: requested, clientCertificates: [] };
    let response;
    try {
      response = await this.core.upstream.send({
        hub: admission.hub,
        kind: 'system',
        eventName: 'connect',
        connectionId: admission.connectionId,
        userId: admission.userId,
        subprotocol: undefined,
        connectionState: undefined,
        payload: Payload.fromBody(Buffer.from(JSON.stringify(body)), 'json'),
        originHost: admission.originHost,
      });
    } catch (error) {
      const status = error instanceof UpstreamError && error.upstreamStatus !== undefined && error.upstreamStatus < 500 ? error.upstreamStatus : 500;
      this.core.logger.warn('Web PubSub emulator: connect event refused or failed', { hub: admission.hub, connectionId: admission.connectionId, status, error: error instanceof Error ? error : String(error) });
      throw new WebPubSubEmulatorError('The connect event handler refused the connection.', status, { cause: error });
    }
    admission.connectionState = response?.headers.get('ce-connectionState') ?? undefined;
    if (!response?.payload || response.payload.dataType !== 'json') return;
    let decided: { userId?: unknown; roles?: unknown; groups?: unknown; subprotocol?: unknown };
    try {
      decided = JSON.parse(response.payload.bytes.toString('utf8')) as typeof decided;
    } catch (cause) {
      throw new WebPubSubEmulatorError('The connect event handler returned invalid JSON.', 500, { cause });
    }
    if (typeof decided.userId === 'string' && decided.userId) admission.userId = decided.userId;
    if (Array.isArray(decided.roles)) admission.roles.push(...decided.roles.filter((r): r is string => typeof r === 'string'));
    if (Array.isArray(decided.groups)) admission.groups.push(...decided.groups.filter((g): g is string => typeof g === 'string' && isValidGroupName(g)));
    if (typeof decided.subprotocol === 'string' && requested.includes(decided.subprotocol)) admission.subprotocol = SUPPORTED_SUBPROTOCOLS.includes(decided.subprotocol) ? decided.subprotocol : undefined;
  }

  private open(ws: WebSocket, admission: Admission): void {
    const hub = this.core.hub(admission.hub);
    const connection = new ClientConnection({
      id: admission.connectionId,
      hub: hub.name,
      userId: admission.userId,
      roles: admission.roles,
      subprotocol: admission.subprotocol,
      rawSendToGroup: admission.rawSendToGroup,
      connectionState: admission.connectionState,
      originHost: admission.originHost,
      reconnectionToken: admission.subprotocol === undefined ? undefined : newReconnectionToken(),
      limits: this.core.options.limits,
      onOverflow: (c, reason) => this.core.close(c, reason, 1008),
    });
    if (this.core.closing) {
      ws.terminate();
      return;
    }
    hub.add(connection);
    for (const group of admission.groups) hub.join(connection, group);
    this.attach(connection, ws);
    if (connection.kind !== 'raw') connection.sendControl(writeConnected(connection.id, connection.userId, connection.kind === 'reliable' ? connection.reconnectionToken : undefined));
    this.core.upstream.notify(this.core.systemEvent(connection, 'connected', {}));
  }

  private attach(connection: ClientConnection, ws: WebSocket): void {
    connection.socket = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (connection.socket !== ws) return;
      try {
        this.messages.onFrame(connection, data, isBinary);
      } catch (error) {
        this.core.logger.error('Web PubSub emulator: failed to process a client frame', { connectionId: connection.id, error: error instanceof Error ? error : String(error) });
      }
    });
    ws.on('close', (code: number) => this.core.onSocketClosed(connection, ws, code));
    ws.on('error', (error: Error) => this.core.logger.debug('Web PubSub emulator: client socket error', { connectionId: connection.id, error }));
  }

  /** A reliable client coming back after its socket dropped. Anything else is told, with 1008, not to retry. */
  private recover(request: IncomingMessage, socket: Duplex, head: Buffer, hubName: string, connectionId: string, token: string): void {
    const connection = this.core.hub(hubName).connections.get(connectionId);
    const valid = connection !== undefined && connection.kind === 'reliable' && connection.status !== 'closed' && connection.reconnectionToken !== undefined && sameSecret(connection.reconnectionToken, token);
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    this.chosenSubprotocol.set(request, valid ? (connection.subprotocol ?? false) : (offered.find((p) => SUPPORTED_SUBPROTOCOLS.includes(p)) ?? false));
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      if (!valid || this.core.closing) {
        ws.close(1008, 'The connection could not be recovered.');
        return;
      }
      const previous = connection.socket;
      connection.socket = undefined;
      previous?.terminate();
      this.attach(connection, ws);
      connection.resume(ws);
    });
  }
}

/** `localhost:8080` → `localhost`, `[::1]:8080` → `::1`. */
function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

/** `webpubsub_mode=sendToGroup&group=<g>` on a raw client, role-checked at the handshake. */
function rawSendToGroupTarget(url: URL, roles: string[]): string | undefined {
  const mode = url.searchParams.get('webpubsub_mode');
  if (mode === null) return undefined;
  if (mode.toLowerCase() !== 'sendtogroup') throw new BadRequestError(`Unsupported webpubsub_mode '${mode}'.`);
  const group = url.searchParams.get('group') ?? '';
  if (!isValidGroupName(group)) throw new BadRequestError('webpubsub_mode=sendToGroup needs a valid group.');
  if (!roles.includes('webpubsub.sendToGroup') && !roles.includes(`webpubsub.sendToGroup.${group}`)) {
    throw new PermissionDeniedError(`The client does not have permission to send to group '${group}'.`);
  }
  return group;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' };

/** Refuses a WebSocket upgrade with a plain HTTP response, as the service does. */
export function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
