/**
 * Azure Web PubSub emulator: an in-process server the real SDKs (`@azure/web-pubsub`,
 * `@azure/web-pubsub-client`) and raw WebSocket clients talk to exactly as they talk to Azure.
 *
 * @example
 * const wps = await startWebPubSubEmulator({ hubs: { media: {} } });
 * const service = new WebPubSubServiceClient(wps.connectionString, 'media', { allowInsecureConnection: true });
 * // …
 * await wps.close();
 */
import type { TokenPrecedence } from './auth.js';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { consoleLogger, type Logger } from '../../src/lib/telemetry/logger.js';
import { ClientEndpoint, rejectUpgrade } from './client-endpoint.js';
import { EmulatorCore } from './core.js';
import { RestApi } from './rest.js';
import type { EventHandlerSetting } from './upstream.js';
import type { MessageBudgetOptions, MessageMeter } from './budget.js';

export type { EventHandlerSetting, SystemEventName } from './upstream.js';
export type { MessageBudgetOptions, MessageMeter } from './budget.js';
export { MessageBudget, billedUnits, inboundBudgetPerSecond, messageCost } from './budget.js';
export { WebPubSubEmulatorError, TokenRejectedError, PermissionDeniedError, BadRequestError, UpstreamError } from './errors.js';

export interface HubSettings {
  eventHandlers?: EventHandlerSetting[];
}

export interface WebPubSubEmulatorOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The AccessKey; tokens are HS256 with this string's UTF-8 bytes. @default a random key */
  accessKey?: string;
  hubs?: Record<string, HubSettings>;
  /** @default console logger at `warn` */
  logger?: Logger;
  /** How long a dropped reliable connection may be recovered. @default 30_000 */
  recoveryWindowMs?: number;
  /** Timeout of each upstream request. @default 10_000 */
  upstreamTimeoutMs?: number;
  /** Unacknowledged messages a reliable connection may hold. @default 100_000 */
  reliableBufferMessages?: number;
  /** Unacknowledged bytes a reliable connection may hold. @default 256 MiB */
  reliableBufferBytes?: number;
  /**
   * Which token is validated when a client presents `?access_token=` and `Authorization: Bearer` (ACS
   * media streaming does): undocumented, so switchable; `npm run verify:azure` reports the live answer.
   * @default 'query'
   */
  tokenPrecedence?: TokenPrecedence;
  /** The resource's message budget (see budget.ts). @default none: messages are metered, never held back */
  messageBudget?: MessageBudgetOptions;
  /** Sees every inbound group message (group, bytes, performance.now()) as it arrives, to record traffic. */
  onGroupPublish?: (group: string, bytes: number, atMs: number) => void;
}

/** What `connections()` reports, for assertions in tests. */
export interface ConnectionInfo {
  hub: string;
  connectionId: string;
  userId: string | undefined;
  subprotocol: string | undefined;
  groups: string[];
  roles: string[];
  status: 'open' | 'recovering' | 'closed';
  /** Group every frame of a raw `sendToGroup`-mode client goes to. */
  rawSendToGroup: string | undefined;
  unackedMessages: number;
}

export interface WebPubSubEmulator {
  /** `http://host:port`, what the SDKs are given. */
  readonly endpoint: string;
  readonly port: number;
  readonly accessKey: string;
  /** `Endpoint=http://host;Port=…;AccessKey=…;Version=1.0;` */
  readonly connectionString: string;
  setEventHandlers(hub: string, handlers: EventHandlerSetting[]): void;
  connections(hub?: string): ConnectionInfo[];
  /** Cuts a connection's socket without a close frame, as a network failure would (reliable clients recover). */
  dropConnection(connectionId: string): boolean;
  /** Messages in and out of the resource, billed units, and what the budget held back or dropped. */
  meter(): Readonly<MessageMeter>;
  close(): Promise<void>;
}

export async function startWebPubSubEmulator(options: WebPubSubEmulatorOptions = {}): Promise<WebPubSubEmulator> {
  const host = options.host ?? '127.0.0.1';
  const accessKey = options.accessKey ?? randomBytes(32).toString('base64');
  const logger = options.logger ?? consoleLogger('warn', { component: 'webpubsub-emulator' });
  const server = createServer();
  const port = await listen(server, options.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const endpoint = `http://${urlHost}:${port}`;

  const core = new EmulatorCore({
    accessKey,
    endpoint,
    logger,
    recoveryWindowMs: options.recoveryWindowMs ?? 30_000,
    upstreamTimeoutMs: options.upstreamTimeoutMs ?? 10_000,
    tokenPrecedence: options.tokenPrecedence ?? 'query',
    budget: options.messageBudget,
    onGroupPublish: options.onGroupPublish,
    limits: {
      reliableBufferMessages: options.reliableBufferMessages ?? 100_000,
      reliableBufferBytes: options.reliableBufferBytes ?? 256 * 1024 * 1024,
      maxSocketBufferedBytes: 64 * 1024 * 1024,
    },
  });
  for (const [hub, settings] of Object.entries(options.hubs ?? {})) core.upstream.setHandlers(hub, settings.eventHandlers ?? []);

  const wss: WebSocketServer = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1024 * 1024,
    handleProtocols: (offered: Set<string>, request: IncomingMessage): string | false => clients.handleProtocols(offered, request),
  });
  const clients: ClientEndpoint = new ClientEndpoint(core, wss);
  const rest = new RestApi(core);

  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => socket.destroy());
    const pathname = (request.url ?? '/').split('?')[0] ?? '/';
    if (!ClientEndpoint.matches(pathname)) return rejectUpgrade(socket, 404, 'Not found');
    void clients.handleUpgrade(request, socket, head);
  });
  server.on('request', (request, response) => {
    const pathname = (request.url ?? '/').split('?')[0] ?? '/';
    if (RestApi.matches(pathname)) return void rest.handle(request, response);
    response.writeHead(ClientEndpoint.matches(pathname) ? 400 : 404, { 'content-type': 'text/plain' }).end(ClientEndpoint.matches(pathname) ? 'WebSocket upgrade required\n' : 'Not found\n');
  });

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    port,
    accessKey,
    connectionString: `Endpoint=http://${urlHost};Port=${port};AccessKey=${accessKey};Version=1.0;`,
    setEventHandlers: (hub, handlers) => core.upstream.setHandlers(hub, handlers),
    connections: (hub) => {
      const hubs = hub === undefined ? [...core.allHubs()] : [core.hub(hub)];
      return hubs.flatMap((h) =>
        [...h.connections.values()].map((c) => ({
          hub: h.name,
          connectionId: c.id,
          userId: c.userId,
          subprotocol: c.subprotocol,
          groups: [...c.groups],
          roles: [...c.roles],
          status: c.status,
          rawSendToGroup: c.rawSendToGroup,
          unackedMessages: c.unackedCount,
        })),
      );
    },
    meter: () => ({ ...core.gate.meter }),
    dropConnection: (connectionId) => {
      for (const hub of core.allHubs()) {
        const socket = hub.connections.get(connectionId)?.socket;
        if (socket) {
          socket.terminate();
          return true;
        }
      }
      return false;
    },
    close: () => {
      closed ??= (async () => {
        core.closing = true;
        core.upstream.close();
        for (const hub of core.allHubs()) {
          for (const connection of [...hub.connections.values()]) {
            connection.socket?.terminate();
            core.remove(connection, 'The emulator stopped.');
          }
        }
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
