/**
 * What the service does with each frame a client sends: raw frames become upstream `message`
 * events or (in `sendToGroup` mode) group messages; subprotocol frames are joinGroup, leaveGroup,
 * sendToGroup, event, invoke, sequenceAck and ping requests, answered with acks.
 */
import type { ClientConnection } from './connection.js';
import type { EmulatorCore } from './core.js';
import { UpstreamError } from './errors.js';
import { Payload } from './payload.js';
import { parseClientMessage, PONG, ProtocolMessageError, writeAck, writeErrorAck, writeInvokeResponse, type AckErrorName, type ClientMessage } from './protocol.js';
import type { UpstreamEvent, UpstreamResponse } from './upstream.js';

const MAX_GROUP_NAME_LENGTH = 1024;

export function isValidGroupName(group: string): boolean {
  return group.length > 0 && group.length <= MAX_GROUP_NAME_LENGTH && !/[\u0000-\u001f]/.test(group);
}

export class ClientMessageHandler {
  constructor(private readonly core: EmulatorCore) {}

  onFrame(connection: ClientConnection, data: Buffer, isBinary: boolean): void {
    if (connection.kind === 'raw') this.onRawFrame(connection, data, isBinary);
    else this.onProtocolFrame(connection, data, isBinary);
  }

  private onRawFrame(connection: ClientConnection, data: Buffer, isBinary: boolean): void {
    const payload = Payload.fromFrame(data, isBinary);
    if (connection.rawSendToGroup !== undefined) {
      // The hot path for ACS media: the frame's own Buffer goes to every raw member.
      this.core.hub(connection.hub).publishToGroup(connection.rawSendToGroup, payload, { fromUserId: connection.userId, sender: connection, noEcho: true });
      return;
    }
    const event = this.userEvent(connection, 'message', payload);
    if (!this.core.upstream.handlerFor(connection.hub, 'user', 'message')) return;
    this.enqueueUpstream(connection, event, (response) => {
      if (response?.payload) this.core.hub(connection.hub).sendFromServer([connection], response.payload);
    });
  }

  private onProtocolFrame(connection: ClientConnection, data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.core.close(connection, 'The JSON subprotocol requires text messages.', 1003);
      return;
    }
    let message: ClientMessage;
    try {
      message = parseClientMessage(data.toString('utf8'));
    } catch (error) {
      if (error instanceof ProtocolMessageError) {
        if (error.ackId !== undefined) connection.sendControl(writeErrorAck(error.ackId, 'BadRequest', error.message));
        else this.core.logger.debug('Web PubSub emulator: ignored an invalid client message', { connectionId: connection.id, error });
        return;
      }
      this.core.close(connection, 'The client message is not a valid JSON protocol message.', 1007);
      return;
    }
    this.dispatch(connection, message);
  }

  private dispatch(connection: ClientConnection, message: ClientMessage): void {
    switch (message.type) {
      case 'ping':
        connection.sendControl(PONG);
        return;
      case 'sequenceAck':
        connection.acknowledge(message.sequenceId);
        return;
      case 'invoke':
        this.invoke(connection, message.invocationId, message.event, message.payload);
        return;
      case 'cancelInvocation':
        return;
    }
    const ackId = message.ackId;
    if (ackId !== undefined && connection.isDuplicateAck(ackId)) {
      connection.sendControl(writeErrorAck(ackId, 'Duplicate', `Message with ack-id: ${ackId} has been processed.`));
      return;
    }
    const hub = this.core.hub(connection.hub);
    switch (message.type) {
      case 'joinGroup':
      case 'leaveGroup': {
        if (!isValidGroupName(message.group)) return this.fail(connection, ackId, 'BadRequest', `Invalid group name '${message.group}'.`);
        if (!connection.canJoinOrLeave(message.group)) return this.fail(connection, ackId, 'Forbidden', `The client does not have permission to ${message.type === 'joinGroup' ? 'join' : 'leave'} group '${message.group}'.`);
        if (message.type === 'joinGroup') hub.join(connection, message.group);
        else hub.leave(connection, message.group);
        return this.succeed(connection, ackId);
      }
      case 'sendToGroup': {
        if (!isValidGroupName(message.group)) return this.fail(connection, ackId, 'BadRequest', `Invalid group name '${message.group}'.`);
        if (!connection.canSendToGroup(message.group)) return this.fail(connection, ackId, 'Forbidden', `The client does not have permission to send to group '${message.group}'.`);
        hub.publishToGroup(message.group, message.payload, { fromUserId: connection.userId, sender: connection, noEcho: message.noEcho });
        return this.succeed(connection, ackId);
      }
      case 'event':
        return this.event(connection, message.event, message.payload, ackId);
    }
  }

  private event(connection: ClientConnection, eventName: string, payload: Payload, ackId: number | undefined): void {
    if (!this.core.upstream.handlerFor(connection.hub, 'user', eventName)) {
      return this.fail(connection, ackId, 'InternalServerError', `No event handler is configured for event '${eventName}'.`);
    }
    this.enqueueUpstream(
      connection,
      this.userEvent(connection, eventName, payload),
      (response) => {
        if (response?.payload) this.core.hub(connection.hub).sendFromServer([connection], response.payload);
        this.succeed(connection, ackId);
      },
      () => this.fail(connection, ackId, 'InternalServerError', `The event handler failed to process event '${eventName}'.`),
    );
  }

  private invoke(connection: ClientConnection, invocationId: string, eventName: string, payload: Payload | undefined): void {
    const body = payload ?? Payload.fromBody(Buffer.alloc(0), 'text');
    if (!this.core.upstream.handlerFor(connection.hub, 'user', eventName)) {
      connection.sendControl(writeInvokeResponse(invocationId, { error: { name: 'InternalServerError', message: `No event handler is configured for event '${eventName}'.` } }));
      return;
    }
    this.enqueueUpstream(
      connection,
      this.userEvent(connection, eventName, body),
      (response) => connection.sendControl(writeInvokeResponse(invocationId, response?.payload ? { payload: response.payload } : {})),
      (error) => connection.sendControl(writeInvokeResponse(invocationId, { error: { name: 'InternalServerError', message: error.message } })),
    );
  }

  /** User events of one connection reach the handler one at a time, in order. */
  private enqueueUpstream(connection: ClientConnection, event: UpstreamEvent, onSuccess: (response: UpstreamResponse | undefined) => void, onFailure?: (error: Error) => void): void {
    connection.upstreamQueue = connection.upstreamQueue.then(async () => {
      try {
        const response = await this.core.upstream.send(event);
        const state = response?.headers.get('ce-connectionState');
        if (state) connection.connectionState = state;
        onSuccess(response);
      } catch (error) {
        this.core.upstream.logFailure(event, error);
        onFailure?.(error instanceof Error ? error : new UpstreamError(String(error)));
      }
    });
  }

  private userEvent(connection: ClientConnection, eventName: string, payload: Payload): UpstreamEvent {
    return { hub: connection.hub, kind: 'user', eventName, connectionId: connection.id, userId: connection.userId, subprotocol: connection.subprotocol, connectionState: connection.connectionState, payload, originHost: connection.originHost };
  }

  private succeed(connection: ClientConnection, ackId: number | undefined): void {
    if (ackId === undefined) return;
    connection.rememberAck(ackId);
    connection.sendControl(writeAck(ackId));
  }

  private fail(connection: ClientConnection, ackId: number | undefined, name: AckErrorName, message: string): void {
    if (ackId !== undefined) connection.sendControl(writeErrorAck(ackId, name, message));
    else this.core.logger.debug('Web PubSub emulator: request refused', { connectionId: connection.id, error: name, reason: message });
  }
}
