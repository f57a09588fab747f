/**
 * The emulator's shared state and the connection lifecycle: hubs, token verification, upstream
 * delivery, and what happens when a connection ends (closed, dropped, recovering, expired).
 */
import type { TokenPrecedence } from './auth.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { TokenVerifier } from './auth.js';
import type { ClientConnection, ConnectionLimits } from './connection.js';
import { HubState } from './hub.js';
import { BudgetGate, type MessageBudgetOptions } from './budget.js';
import { Payload } from './payload.js';
import { writeDisconnected } from './protocol.js';
import { UpstreamDispatcher, type UpstreamEvent } from './upstream.js';

export interface CoreOptions {
  accessKey: string;
  /** `http://host:port` the SDKs are given. */
  endpoint: string;
  logger: Logger;
  limits: ConnectionLimits;
  /** How long a reliable connection whose socket dropped waits for the client to recover it. */
  recoveryWindowMs: number;
  upstreamTimeoutMs: number;
  /** Which of two presented client tokens is validated (undocumented service behaviour). */
  tokenPrecedence: TokenPrecedence;
  /** The resource's message budget; without it messages are only metered. */
  budget?: MessageBudgetOptions | undefined;
  onGroupPublish?: ((group: string, bytes: number, atMs: number) => void) | undefined;
}

export class EmulatorCore {
  readonly verifier: TokenVerifier;
  readonly upstream: UpstreamDispatcher;
  readonly logger: Logger;
  readonly endpoint: string;
  /** One budget and meter for the resource: the limits are per resource, shared by its hubs. */
  readonly gate: BudgetGate;
  private readonly hubs = new Map<string, HubState>();
  closing = false;

  constructor(readonly options: CoreOptions) {
    this.verifier = new TokenVerifier(options.accessKey);
    this.logger = options.logger;
    this.endpoint = options.endpoint;
    this.gate = new BudgetGate(options.budget, options.onGroupPublish);
    this.upstream = new UpstreamDispatcher({ accessKey: options.accessKey, defaultOriginHost: new URL(options.endpoint).hostname, logger: options.logger, timeoutMs: options.upstreamTimeoutMs });
  }

  /** Hub names are case-insensitive in the service; state is kept under the lower-case name. */
  hub(name: string): HubState {
    const key = name.toLowerCase();
    let hub = this.hubs.get(key);
    if (!hub) this.hubs.set(key, (hub = new HubState(key, this.gate)));
    return hub;
  }

  allHubs(): Iterable<HubState> {
    return this.hubs.values();
  }

  systemEvent(connection: ClientConnection, eventName: 'connected' | 'disconnected', body: unknown): UpstreamEvent {
    return {
      hub: connection.hub,
      kind: 'system',
      eventName,
      connectionId: connection.id,
      userId: connection.userId,
      subprotocol: connection.subprotocol,
      connectionState: connection.connectionState,
      payload: Payload.fromBody(Buffer.from(JSON.stringify(body)), 'json'),
      originHost: connection.originHost,
    };
  }

  /** The connection is gone for good: forget it and tell the event handler. */
  remove(connection: ClientConnection, reason: string): void {
    if (connection.status === 'closed') return;
    connection.status = 'closed';
    if (connection.recoveryTimer) clearTimeout(connection.recoveryTimer);
    connection.recoveryTimer = undefined;
    if (this.hub(connection.hub).remove(connection) && !this.closing) this.upstream.notify(this.systemEvent(connection, 'disconnected', { reason }));
  }

  /** Server-initiated close (REST, overflow): subprotocol clients are told why first. */
  close(connection: ClientConnection, reason: string, code = 1000): void {
    const socket = connection.socket;
    if (socket && connection.kind !== 'raw') connection.sendControl(writeDisconnected(reason));
    this.remove(connection, reason);
    connection.socket = undefined;
    if (socket) socket.close(code, truncateReason(reason));
  }

  /** The socket ended. A reliable client that did not say goodbye may come back within the recovery window. */
  onSocketClosed(connection: ClientConnection, socket: unknown, code: number): void {
    if (connection.socket !== socket) return;
    connection.socket = undefined;
    if (connection.status === 'closed') return;
    if (connection.kind === 'reliable' && code === 1006 && !this.closing) {
      connection.status = 'recovering';
      connection.recoveryTimer = setTimeout(() => this.remove(connection, 'Connection recovery timed out.'), this.options.recoveryWindowMs);
      connection.recoveryTimer.unref();
      return;
    }
    this.remove(connection, code === 1006 ? 'The connection was lost.' : 'The client closed the connection.');
  }
}

/** Close reasons must fit in a control frame (123 bytes). */
function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason, 'utf8');
  return bytes.length <= 123 ? reason : bytes.subarray(0, 120).toString('utf8');
}
