import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { cloudEvent, type CallbackSender, type SentEvent } from './callbacks.js';
import { AcsRestError } from './errors.js';
import { participantModel, rawIdOf, type IdentifierModel } from './identifiers.js';
import { MEDIA_TOKEN_LIFETIME_S, type TokenSigner } from './jwt.js';
import { MediaOps, type HeardPlay } from './media-ops.js';
import { MediaSession } from './media.js';
import { RESULT, type ResultInformation } from './result-codes.js';

/** One call leg as the emulator sees it: its state, what the app asked, what ACS sent back. */

export type CallState = 'connecting' | 'connected' | 'transferring' | 'transferAccepted' | 'disconnecting' | 'disconnected';

export interface RestRecord {
  readonly atMs: number;
  readonly method: string;
  readonly path: string;
  readonly apiVersion?: string;
  readonly operation: string;
  callConnectionId?: string;
  readonly body: unknown;
  status: number;
  readonly repeatabilityRequestId?: string;
  /** Answered from the repeatability cache: the operation did not run a second time. */
  replayed: boolean;
  error?: string;
}

export interface MediaStreamingConfig {
  transportUrl?: string;
  audioChannelType?: string;
  contentType?: string;
  startMediaStreaming?: boolean;
  enableBidirectional?: boolean;
  audioFormat?: string;
  enableDtmfTones?: boolean;
}

export interface CallServices {
  readonly sender: CallbackSender;
  readonly signer: TokenSigner;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly speechMsPerChar: number;
  readonly filePlayMs: number;
  readonly sendMediaAuthorizationHeader: boolean;
  /** Deliver every callback twice (same event id) to exercise the app's de-duplication. */
  readonly duplicateCallbacks: boolean;
  readonly appIdentity: string;
  /** Media connections still to fail as if the WebSocket could not be opened (fault injection). */
  readonly mediaConnectFailures?: { count: number };
}

export type EndedBy = 'app' | 'caller' | 'transfer';

interface CallEvents {
  request: [record: RestRecord];
  event: [sent: SentEvent];
  connected: [];
  mediaStarted: [];
  mediaStopped: [];
  ended: [];
}

export class EmulatedCall extends EventEmitter<CallEvents> {
  readonly callConnectionId = randomUUID();
  readonly serverCallId: string;
  readonly correlationId: string;
  readonly createdAtMs: number;
  readonly requests: RestRecord[] = [];
  readonly events: SentEvent[] = [];
  readonly mediaSessions: MediaSession[] = [];
  readonly ops: MediaOps;
  readonly incomingCallContext: string | undefined;
  state: CallState = 'connecting';
  callbackUri = '';
  operationContext: string | undefined;
  mediaStreaming: MediaStreamingConfig | undefined;
  media: MediaSession | undefined;
  endedBy: EndedBy | undefined;
  duplicateCallbacks: boolean;
  /** Callbacks are posted as they happen, not one after the other's acknowledgement. */
  overlappingCallbacks = false;
  /** Set by a scripted caller to make the next transfer fail. */
  failTransfers = false;
  private participantsSequence = 0;
  private readonly subscriptionId = randomUUID();
  private readonly mediaAbort = new AbortController();
  private readonly delivered: Promise<unknown>[] = [];

  constructor(
    readonly direction: 'inbound' | 'outbound',
    /** The caller (inbound) or the person called (outbound). */
    readonly remote: IdentifierModel,
    /** The number or identity the call was placed to (inbound) or from (outbound). */
    readonly local: IdentifierModel,
    private readonly services: CallServices,
    ids: { serverCallId?: string; correlationId?: string; incomingCallContext?: string } = {},
  ) {
    super();
    this.serverCallId = ids.serverCallId ?? newServerCallId();
    this.correlationId = ids.correlationId ?? randomUUID();
    this.incomingCallContext = ids.incomingCallContext;
    this.createdAtMs = services.nowMs();
    this.duplicateCallbacks = services.duplicateCallbacks;
    this.ops = new MediaOps({
      nowMs: services.nowMs,
      emitEvent: (type, data, callbackUri) => this.emitEvent(type, data, callbackUri),
      speechMsPerChar: services.speechMsPerChar,
      filePlayMs: services.filePlayMs,
    });
  }

  get isActive(): boolean {
    return this.state !== 'disconnected' && this.state !== 'disconnecting';
  }

  /** Plays and recognize prompts heard so far. */
  get heardPlays(): readonly HeardPlay[] {
    return this.ops.heard;
  }

  /** The agent is audible: a play is running or streamed audio is being played out. */
  get agentSpeaking(): boolean {
    return this.ops.speaking || (this.media?.agentSpeaking ?? false);
  }

  record(record: RestRecord): void {
    this.requests.push(record);
    this.emit('request', record);
  }

  properties(): Record<string, unknown> {
    const mediaState = !this.mediaStreaming ? 'disabled' : this.media?.isOpen ? 'active' : 'inactive';
    return {
      callConnectionId: this.callConnectionId,
      serverCallId: this.serverCallId,
      targets: [this.direction === 'inbound' ? this.local : this.remote],
      callConnectionState: this.state,
      callbackUri: this.callbackUri,
      source: this.direction === 'inbound' ? this.remote : this.local,
      correlationId: this.correlationId,
      answeredBy: { id: this.services.appIdentity },
      mediaStreamingSubscription: {
        id: this.subscriptionId,
        state: mediaState,
        subscribedContentTypes: mediaState === 'disabled' ? [] : ['audio'],
      },
    };
  }

  participants(): unknown[] {
    const app: IdentifierModel = { kind: 'communicationUser', rawId: this.services.appIdentity, communicationUser: { id: this.services.appIdentity } };
    return [participantModel(this.remote), participantModel(app)];
  }

  /** answer/create accepted: connected, events, and the media socket when asked to start at once. */
  connect(body: Record<string, any>): void {
    this.callbackUri = String(body.callbackUri);
    this.operationContext = body.operationContext;
    this.mediaStreaming = body.mediaStreamingOptions;
    setImmediate(() => {
      if (!this.isActive) return;
      this.state = 'connected';
      this.emitEvent('CallConnected', { operationContext: this.operationContext });
      this.emitParticipants();
      this.emit('connected');
      if (this.mediaStreaming?.startMediaStreaming === true) void this.startMedia(this.operationContext);
    });
  }

  /**
   * answer accepted, but the call never connects: AnswerFailed is the call's only event (no
   * CallDisconnected follows), as when the caller drops while ACS is answering.
   */
  connectFailing(body: Record<string, any>): void {
    this.callbackUri = String(body.callbackUri);
    this.operationContext = body.operationContext;
    setImmediate(() => {
      if (!this.isActive) return;
      this.emitEvent('AnswerFailed', { operationContext: this.operationContext, resultInformation: RESULT.answerFailed });
      this.state = 'disconnected';
      this.emit('ended');
    });
  }

  /** Sends one callback; `callbackUri` overrides the call's (an operation's `operationCallbackUri`). */
  emitEvent(shortType: string, data: Record<string, unknown>, callbackUri?: string): SentEvent | undefined {
    const url = callbackUri || this.callbackUri;
    if (!url || this.state === 'disconnected') return undefined;
    const payload: Record<string, unknown> = {
      callConnectionId: this.callConnectionId,
      serverCallId: this.serverCallId,
      correlationId: this.correlationId,
      resultInformation: RESULT.ok as ResultInformation,
      ...data,
    };
    if (payload.operationContext === undefined) delete payload.operationContext;
    const event = cloudEvent(this.callConnectionId, shortType, payload);
    const { sent, done } = this.services.sender.send(this.callConnectionId, url, event, { duplicate: this.duplicateCallbacks, overlap: this.overlappingCallbacks });
    this.events.push(sent);
    this.delivered.push(done);
    this.emit('event', sent);
    return sent;
  }

  /** Resolves when every callback of this call so far has been delivered or given up. */
  async callbacksSettled(): Promise<void> {
    await Promise.allSettled(this.delivered);
  }

  startMediaStreamingRequest(body: Record<string, any>): void {
    this.requireConnected();
    if (!this.mediaStreaming?.transportUrl) {
      throw new AcsRestError(400, 'BadRequest', 'Media streaming was not configured for this call (mediaStreamingOptions.transportUrl).');
    }
    if (this.media?.isOpen) throw new AcsRestError(400, 'BadRequest', 'Media streaming is already active on this call.');
    void this.startMedia(body.operationContext, body.operationCallbackUri);
  }

  stopMediaStreamingRequest(body: Record<string, any>): void {
    this.requireConnected();
    if (!this.media?.isOpen) throw new AcsRestError(400, 'BadRequest', 'Media streaming is not active on this call.');
    this.stopMedia(body.operationContext, body.operationCallbackUri);
  }

  transfer(body: Record<string, any>): void {
    this.requireConnected();
    this.state = 'transferring';
    const operationContext = body.operationContext;
    const callbackUri = body.operationCallbackUri;
    setTimeout(() => {
      if (this.state !== 'transferring') return;
      if (this.failTransfers) {
        this.state = 'connected';
        this.emitEvent('CallTransferFailed', { operationContext, resultInformation: RESULT.transferFailed }, callbackUri);
        return;
      }
      this.state = 'transferAccepted';
      this.emitEvent('CallTransferAccepted', {
        operationContext,
        resultInformation: RESULT.transferAccepted,
        transferTarget: body.targetParticipant,
        transferee: body.transferee ?? this.remote,
      }, callbackUri);
      this.end('transfer');
    }, 50);
  }

  /** The app hung up (DELETE) or terminated the call for everyone. */
  hangUpByApp(): void {
    if (!this.isActive) return;
    this.end('app');
  }

  /** The caller put the phone down. */
  hangUpByCaller(): void {
    if (!this.isActive) return;
    this.participantsSequence += 1;
    this.emitEvent('ParticipantsUpdated', { sequenceNumber: this.participantsSequence, participants: this.participants().slice(1) });
    this.end('caller');
  }

  /** The emulator is closing: stop timers and sockets without sending events. */
  shutdown(): void {
    this.ops.stop();
    this.mediaAbort.abort();
    this.media?.close(1001, 'emulator closing');
    this.media = undefined;
    if (this.state !== 'disconnected') {
      this.state = 'disconnected';
      this.emit('ended');
    }
  }

  requireConnected(): void {
    if (!this.isActive) throw new AcsRestError(404, '8522', 'Call not found.');
    if (this.state === 'connecting') throw new AcsRestError(400, '8501', 'Action is not valid when the call is not established.');
  }

  private emitParticipants(): void {
    this.participantsSequence += 1;
    this.emitEvent('ParticipantsUpdated', { sequenceNumber: this.participantsSequence, participants: this.participants() });
  }

  private async startMedia(operationContext: string | undefined, callbackUri?: string): Promise<void> {
    const config = this.mediaStreaming;
    if (!config?.transportUrl) {
      this.emitEvent('MediaStreamingFailed', { operationContext, resultInformation: RESULT.streamingFailed, mediaStreamingUpdate: mediaUpdate('mediaStreamingFailed', 'streamUrlMissing') }, callbackUri);
      return;
    }
    const failures = this.services.mediaConnectFailures;
    if (failures && failures.count > 0) {
      failures.count -= 1;
      this.emitEvent('MediaStreamingFailed', {
        operationContext,
        resultInformation: RESULT.streamingFailed,
        mediaStreamingUpdate: mediaUpdate('mediaStreamingFailed', 'initialWebSocketConnectionFailed'),
      }, callbackUri);
      return;
    }
    try {
      const token = await this.services.signer.sign(MEDIA_TOKEN_LIFETIME_S, { callConnectionId: this.callConnectionId });
      const session = await MediaSession.connect(
        {
          transportUrl: config.transportUrl,
          token,
          callConnectionId: this.callConnectionId,
          correlationId: this.correlationId,
          subscriptionId: this.subscriptionId,
          sampleRate: String(config.audioFormat ?? '').toLowerCase() === 'pcm24kmono' ? 24000 : 16000,
          bidirectional: config.enableBidirectional === true,
          enableDtmf: config.enableDtmfTones === true,
          participantRawId: rawIdOf(this.remote),
          sendAuthorizationHeader: this.services.sendMediaAuthorizationHeader,
          logger: this.services.logger,
          nowMs: this.services.nowMs,
        },
        this.mediaAbort.signal,
      );
      if (!this.isActive) {
        session.close(1000, 'call ended');
        return;
      }
      this.media = session;
      this.mediaSessions.push(session);
      session.on('closed', () => {
        if (this.media !== session || !this.isActive) return;
        this.media = undefined;
        this.emitEvent('MediaStreamingFailed', { resultInformation: RESULT.streamingFailed, mediaStreamingUpdate: mediaUpdate('mediaStreamingFailed', 'streamConnectionInterrupted') });
        this.emit('mediaStopped');
      });
      this.emitEvent('MediaStreamingStarted', { operationContext, resultInformation: RESULT.streamingStarted, mediaStreamingUpdate: mediaUpdate('mediaStreamingStarted', 'subscriptionStarted') }, callbackUri);
      this.emit('mediaStarted');
    } catch (error) {
      if (!this.isActive) return;
      this.services.logger.warn('ACS emulator: media transport connection failed', { error });
      this.emitEvent('MediaStreamingFailed', {
        operationContext,
        resultInformation: RESULT.streamingFailed,
        mediaStreamingUpdate: mediaUpdate('mediaStreamingFailed', 'initialWebSocketConnectionFailed'),
      }, callbackUri);
    }
  }

  private stopMedia(operationContext: string | undefined, callbackUri?: string): void {
    const session = this.media;
    if (!session) return;
    this.media = undefined;
    session.close(1000, 'media streaming stopped');
    this.emitEvent('MediaStreamingStopped', { operationContext, mediaStreamingUpdate: mediaUpdate('mediaStreamingStopped', 'subscriptionStopped') }, callbackUri);
    this.emit('mediaStopped');
  }

  private end(by: EndedBy): void {
    this.endedBy = by;
    this.state = 'disconnecting';
    this.ops.stop();
    this.mediaAbort.abort();
    if (this.media) {
      const session = this.media;
      this.media = undefined;
      session.close(1000, 'call ended');
      this.emitEvent('MediaStreamingStopped', { mediaStreamingUpdate: mediaUpdate('mediaStreamingStopped', 'subscriptionStopped') });
    }
    this.emitEvent('CallDisconnected', { resultInformation: RESULT.callEnded });
    this.state = 'disconnected';
    this.emit('ended');
  }
}

/** Server call ids are opaque base64 strings in ACS. */
export function newServerCallId(): string {
  return Buffer.from(`aHR0cHM6Ly9lbXVsYXRvci8=:${randomUUID()}`).toString('base64url');
}

function mediaUpdate(status: string, details: string): Record<string, string> {
  return { contentType: 'Audio', mediaStreamingStatus: status, mediaStreamingStatusDetails: details };
}
