/**
 * The state of one hub: its connections, groups and users, and the fan-out of messages to them.
 * Fan-out builds one OutboundMessage per publish and hands the same object to every member, so
 * the per-recipient cost is one socket write (plus the sequence-id prefix for reliable clients).
 */
import type { ClientConnection } from './connection.js';
import { OutboundMessage } from './connection.js';
import type { Payload } from './payload.js';
import { groupMessageTail, serverMessageTail } from './protocol.js';
import type { BudgetGate } from './budget.js';

export interface PublishOptions {
  fromUserId?: string | undefined;
  sender?: ClientConnection | undefined;
  noEcho?: boolean;
  excluded?: ReadonlySet<string> | undefined;
}

export class HubState {
  readonly connections = new Map<string, ClientConnection>();
  private readonly groups = new Map<string, Set<ClientConnection>>();
  private readonly users = new Map<string, Set<ClientConnection>>();

  /** `gate`: the resource's message budget and meter, shared by every hub. */
  constructor(
    readonly name: string,
    private readonly gate?: BudgetGate,
  ) {}

  add(connection: ClientConnection): void {
    this.connections.set(connection.id, connection);
    if (connection.userId !== undefined) addTo(this.users, connection.userId, connection);
  }

  /** Forgets the connection and all its memberships. */
  remove(connection: ClientConnection): boolean {
    if (this.connections.get(connection.id) !== connection) return false;
    this.connections.delete(connection.id);
    this.leaveAll(connection);
    if (connection.userId !== undefined) removeFrom(this.users, connection.userId, connection);
    return true;
  }

  join(connection: ClientConnection, group: string): void {
    connection.groups.add(group);
    addTo(this.groups, group, connection);
  }

  leave(connection: ClientConnection, group: string): void {
    connection.groups.delete(group);
    removeFrom(this.groups, group, connection);
  }

  leaveAll(connection: ClientConnection): void {
    for (const group of connection.groups) removeFrom(this.groups, group, connection);
    connection.groups.clear();
  }

  groupMembers(group: string): ReadonlySet<ClientConnection> {
    return this.groups.get(group) ?? EMPTY;
  }

  userConnections(userId: string): ReadonlySet<ClientConnection> {
    return this.users.get(userId) ?? EMPTY;
  }

  hasGroup(group: string): boolean {
    return (this.groups.get(group)?.size ?? 0) > 0;
  }

  /**
   * Publishes to a group through the resource's budget; returns how many connections it was handed to
   * now (0 when the budget holds it back or drops it).
   */
  publishToGroup(group: string, payload: Payload, options: PublishOptions = {}): number {
    if (this.gate) return this.gate.publish(group, payload.bytes.length, () => this.fanOut(group, payload, options));
    return this.fanOut(group, payload, options);
  }

  private fanOut(group: string, payload: Payload, options: PublishOptions): number {
    const members = this.groups.get(group);
    if (!members || members.size === 0) return 0;
    const message = new OutboundMessage(payload, () => groupMessageTail(group, options.fromUserId, payload));
    let delivered = 0;
    for (const member of members) {
      if (options.noEcho && member === options.sender) continue;
      if (options.excluded?.has(member.id)) continue;
      member.deliver(message);
      delivered++;
    }
    return delivered;
  }

  /** Sends a server message to the given connections (all, one user's, or one). */
  sendFromServer(targets: Iterable<ClientConnection>, payload: Payload, excluded?: ReadonlySet<string>): void {
    const message = new OutboundMessage(payload, () => serverMessageTail(payload));
    for (const target of targets) {
      if (excluded?.has(target.id)) continue;
      target.deliver(message);
    }
  }
}

const EMPTY: ReadonlySet<ClientConnection> = new Set();

function addTo(index: Map<string, Set<ClientConnection>>, key: string, connection: ClientConnection): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(connection);
}

function removeFrom(index: Map<string, Set<ClientConnection>>, key: string, connection: ClientConnection): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(connection);
  if (set.size === 0) index.delete(key);
}
