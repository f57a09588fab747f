import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { postJson } from './http-post.js';
import { rawIdOf, toIdentifier, type IdentifierInput, type IdentifierModel } from './identifiers.js';
import { newServerCallId } from './call.js';

/**
 * The Event Grid side of ACS: the subscription validation handshake and IncomingCall events in the
 * Event Grid schema (`aeg-event-type: Notification`), each POSTed as a one-element JSON array.
 */

export interface IncomingCallInput {
  readonly from: IdentifierInput;
  readonly to: IdentifierInput;
  readonly callerDisplayName?: string;
  readonly customContext?: { sipHeaders?: Record<string, string>; voipHeaders?: Record<string, string> };
}

export interface PendingIncomingCall {
  readonly eventId: string;
  readonly incomingCallContext: string;
  readonly serverCallId: string;
  readonly correlationId: string;
  readonly from: IdentifierModel;
  readonly to: IdentifierModel;
  readonly event: Record<string, unknown>;
  /** Set once the app answered this call. */
  callConnectionId?: string;
}

export interface EventGridDelivery {
  readonly status: number;
  readonly body: string;
}

export class EventGridSender {
  private readonly byContext = new Map<string, PendingIncomingCall>();
  private readonly byEventId = new Map<string, PendingIncomingCall>();

  constructor(
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  /** The incoming call an `answerCall` refers to, by its opaque context token. */
  pending(incomingCallContext: string): PendingIncomingCall | undefined {
    return this.byContext.get(incomingCallContext);
  }

  /** SubscriptionValidation handshake; `validated` is true when the endpoint echoed the code. */
  async validate(endpointUrl: string): Promise<EventGridDelivery & { validated: boolean }> {
    const validationCode = randomUUID().toUpperCase();
    const event = {
      id: randomUUID(),
      topic: this.topic,
      subject: '',
      data: { validationCode, validationUrl: `https://rp-eastus.eventgrid.azure.net/validate?id=${randomUUID()}&t=${new Date().toISOString()}` },
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date().toISOString(),
      metadataVersion: '1',
      dataVersion: '2',
    };
    const result = await this.post(endpointUrl, event, 'SubscriptionValidation');
    let validated = false;
    try {
      validated = result.status === 200 && JSON.parse(result.body).validationResponse === validationCode;
    } catch {
      validated = false;
    }
    return { ...result, validated };
  }

  /** Announces a new call; the app answers it with the returned `incomingCallContext`. */
  async sendIncomingCall(endpointUrl: string, input: IncomingCallInput, options: { expired?: boolean } = {}): Promise<EventGridDelivery & PendingIncomingCall> {
    const pending = this.createIncomingCall(input);
    // Delivered after the call stopped ringing (a late delivery or a retry hours later): ACS no longer knows the context.
    if (options.expired) this.byContext.delete(pending.incomingCallContext);
    const result = await this.post(endpointUrl, pending.event, 'Notification');
    return { ...pending, ...result };
  }

  /** POSTs an IncomingCall event again with the same id (Event Grid is at-least-once). */
  async redeliver(endpointUrl: string, eventId: string): Promise<EventGridDelivery> {
    const pending = this.byEventId.get(eventId);
    if (!pending) throw new Error(`No IncomingCall event ${eventId} was sent by this emulator`);
    return this.post(endpointUrl, pending.event, 'Notification');
  }

  createIncomingCall(input: IncomingCallInput): PendingIncomingCall {
    const from = toIdentifier(input.from);
    const to = toIdentifier(input.to);
    const eventId = randomUUID();
    const serverCallId = newServerCallId();
    const correlationId = randomUUID();
    // Opaque to the app, as in ACS (there it is a signed token); the emulator only looks it up.
    const incomingCallContext = `emulator.${randomBytes(24).toString('base64url')}`;
    const event = {
      id: eventId,
      topic: this.topic,
      subject: `/caller/${rawIdOf(from)}/recipient/${rawIdOf(to)}`,
      data: {
        to,
        from,
        serverCallId,
        callerDisplayName: input.callerDisplayName ?? '',
        customContext: { sipHeaders: input.customContext?.sipHeaders ?? {}, voipHeaders: input.customContext?.voipHeaders ?? {} },
        incomingCallContext,
        correlationId,
      },
      eventType: 'Microsoft.Communication.IncomingCall',
      dataVersion: '1.0',
      metadataVersion: '1',
      eventTime: new Date().toISOString(),
    };
    const pending: PendingIncomingCall = { eventId, incomingCallContext, serverCallId, correlationId, from, to, event };
    this.byContext.set(incomingCallContext, pending);
    this.byEventId.set(eventId, pending);
    return pending;
  }

  private async post(url: string, event: Record<string, unknown>, eventType: 'SubscriptionValidation' | 'Notification'): Promise<EventGridDelivery> {
    const headers = {
      'aeg-event-type': eventType,
      'aeg-subscription-name': 'RTVOICE-INCOMING-CALL',
      'aeg-delivery-count': '0',
      'aeg-data-version': String(event.dataVersion ?? ''),
      'aeg-metadata-version': '1',
    };
    const result = await postJson(url, JSON.stringify([event]), headers);
    if (result.status < 200 || result.status >= 300) {
      this.logger.warn('ACS emulator: Event Grid delivery not accepted', { eventType, status: result.status });
    }
    return { status: result.status, body: result.body };
  }
}
