/**
 * One logical client connection. It outlives its WebSocket when the client speaks the reliable
 * subprotocol: a dropped socket leaves it "recovering" for the recovery window, messages keep
 * being sequenced into its unacked buffer, and a reconnect with the reconnection token replays
 * them in order.
 */
import type { WebSocket } from 'ws';
import { RELIABLE_JSON_SUBPROTOCOL, withSequence } from './protocol.js';
import type { Payload } from './payload.js';

export type ProtocolKind = 'raw' | 'json' | 'reliable';
export type ConnectionStatus = 'open' | 'recovering' | 'closed';

/** A message on its way to many recipients; each wire shape is built at most once. */
export class OutboundMessage {
  private plainFrame: Buffer | undefined;
  private tailBytes: Buffer | undefined;

  constructor(
    readonly payload: Payload,
    private readonly buildTail: () => Buffer,
  ) {}

  /** The subprotocol message without its opening brace (for reliable recipients). */
  get tail(): Buffer {
    if (this.tailBytes === undefined) this.tailBytes = this.buildTail();
    return this.tailBytes;
  }

  /** The whole subprotocol message for non-reliable recipients. */
  get plain(): Buffer {
    if (this.plainFrame === undefined) this.plainFrame = Buffer.concat([OPEN_BRACE, this.tail]);
    return this.plainFrame;
  }
}

const OPEN_BRACE = Buffer.from('{');
const TEXT_FRAME = { binary: false } as const;
const BINARY_FRAME = { binary: true } as const;

export interface ConnectionLimits {
  /** Most unacknowledged messages a reliable connection may hold before it is closed. */
  reliableBufferMessages: number;
  /** Most unacknowledged bytes a reliable connection may hold before it is closed. */
  reliableBufferBytes: number;
  /** A socket whose send buffer grows past this is a consumer that cannot keep up; it is dropped. */
  maxSocketBufferedBytes: number;
}

export interface ConnectionInit {
  id: string;
  hub: string;
  userId: string | undefined;
  roles: Iterable<string>;
  subprotocol: string | undefined;
  rawSendToGroup: string | undefined;
  connectionState: string | undefined;
  reconnectionToken: string | undefined;
  /** Host name (no port) the client addressed, from its Host header. */
  originHost: string | undefined;
  limits: ConnectionLimits;
  /** Called when the connection exceeds a limit and must be closed. */
  onOverflow: (connection: ClientConnection, reason: string) => void;
}

export class ClientConnection {
  readonly id: string;
  readonly hub: string;
  readonly userId: string | undefined;
  readonly roles: Set<string>;
  readonly groups = new Set<string>();
  readonly kind: ProtocolKind;
  readonly subprotocol: string | undefined;
  /** The group every frame of a raw `webpubsub_mode=sendToGroup` client is published to. */
  readonly rawSendToGroup: string | undefined;
  readonly reconnectionToken: string | undefined;
  readonly originHost: string | undefined;
  /** The `ce-connectionState` value last set by an event handler. */
  connectionState: string | undefined;
  status: ConnectionStatus = 'open';
  socket: WebSocket | undefined;
  recoveryTimer: NodeJS.Timeout | undefined;
  /** Upstream user events of one connection are delivered in order. */
  upstreamQueue: Promise<void> = Promise.resolve();

  private nextSequenceId = 0;
  private readonly unacked = new Map<number, Buffer>();
  private unackedBytes = 0;
  private readonly processedAckIds = new Set<number>();
  private readonly limits: ConnectionLimits;
  private readonly onOverflow: ConnectionInit['onOverflow'];

  constructor(init: ConnectionInit) {
    this.id = init.id;
    this.hub = init.hub;
    this.userId = init.userId;
    this.roles = new Set(init.roles);
    this.subprotocol = init.subprotocol;
    this.kind = init.subprotocol === undefined ? 'raw' : init.subprotocol === RELIABLE_JSON_SUBPROTOCOL ? 'reliable' : 'json';
    this.rawSendToGroup = init.rawSendToGroup;
    this.connectionState = init.connectionState;
    this.reconnectionToken = init.reconnectionToken;
    this.originHost = init.originHost;
    this.limits = init.limits;
    this.onOverflow = init.onOverflow;
  }

  canJoinOrLeave(group: string): boolean {
    return this.roles.has('webpubsub.joinLeaveGroup') || this.roles.has(`webpubsub.joinLeaveGroup.${group}`);
  }

  canSendToGroup(group: string): boolean {
    return this.roles.has('webpubsub.sendToGroup') || this.roles.has(`webpubsub.sendToGroup.${group}`);
  }

  /** True when a message with this ackId was already processed (answered with a "Duplicate" ack). */
  isDuplicateAck(ackId: number): boolean {
    return this.processedAckIds.has(ackId);
  }

  rememberAck(ackId: number): void {
    this.processedAckIds.add(ackId);
  }

  /** Acks, pongs, system messages: never sequenced, lost if the socket is down. */
  sendControl(text: string): void {
    const socket = this.socket;
    if (socket && socket.readyState === 1) socket.send(text);
  }

  /** A data message (group or server). Raw clients get the payload bytes as they are. */
  deliver(message: OutboundMessage): void {
    if (this.status === 'closed') return;
    if (this.kind === 'raw') {
      const payload = message.payload;
      this.write(payload.bytes, payload.isBinary ? BINARY_FRAME : TEXT_FRAME);
    } else if (this.kind === 'json') {
      this.write(message.plain, TEXT_FRAME);
    } else {
      this.deliverReliable(message.tail);
    }
  }

  private deliverReliable(tail: Buffer): void {
    if (this.unacked.size >= this.limits.reliableBufferMessages || this.unackedBytes + tail.length > this.limits.reliableBufferBytes) {
      this.onOverflow(this, 'The reliable message buffer is full.');
      return;
    }
    const sequenceId = ++this.nextSequenceId;
    const frame = withSequence(sequenceId, tail);
    this.unacked.set(sequenceId, frame);
    this.unackedBytes += frame.length;
    this.write(frame, TEXT_FRAME);
  }

  private write(frame: Buffer, options: typeof TEXT_FRAME | typeof BINARY_FRAME): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return;
    if (socket.bufferedAmount > this.limits.maxSocketBufferedBytes) {
      this.onOverflow(this, 'The outbound message queue is full.');
      return;
    }
    socket.send(frame, options);
  }

  /** `sequenceAck`: everything up to and including `sequenceId` was received. */
  acknowledge(sequenceId: number): void {
    for (const [id, frame] of this.unacked) {
      if (id > sequenceId) break;
      this.unacked.delete(id);
      this.unackedBytes -= frame.length;
    }
  }

  /** Puts a recovered socket in place and replays what the client has not acknowledged. */
  resume(socket: WebSocket): void {
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
    this.socket = socket;
    this.status = 'open';
    for (const frame of this.unacked.values()) socket.send(frame, TEXT_FRAME);
  }

  get unackedCount(): number {
    return this.unacked.size;
  }
}
