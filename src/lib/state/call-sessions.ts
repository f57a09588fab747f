import { z } from 'zod';
import type { Fields, JsonValue } from './codec.js';
import { StateError } from './errors.js';
import type { SessionStore } from './session-store.js';
import type { WriteOutcome } from './tiered-store.js';

/** Every state a call session goes through, in the order a call usually does. */
export const CALL_STATES = ['answering', 'placing', 'answer_failed', 'answered', 'connected', 'transferring', 'ending', 'disconnected'] as const;
export type CallState = (typeof CALL_STATES)[number];

/** How a call ended, as the session records it (finalize derives `timed_out` / `abandoned` / `completed` when none is). */
export const CALL_OUTCOMES = ['completed', 'caller_silent', 'transferred', 'speech_failure', 'media_failed', 'answer_failed', 'state_lost'] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

export const MEDIA_STATES = ['connected', 'disconnected'] as const;
export type MediaState = (typeof MEDIA_STATES)[number];

const text = z.string();

/**
 * The call session hash (`call:{callId}:session`), one JSON value per field. The call id is ours,
 * known before ACS assigns a call connection id.
 */
const CallSessionSchema = z.object({
  state: z.enum(CALL_STATES),
  direction: z.enum(['inbound', 'outbound']),
  startedAt: text,
  callerUserId: text.optional(),
  /** Masked for display (`+1•••••0100`); raw numbers are never stored. */
  callerMasked: text.optional(),
  /** The caller's display name from the network, when it is a name and not a number. */
  callerName: text.optional(),
  serverCallId: text.optional(),
  correlationId: text.optional(),
  callConnectionId: text.optional(),
  /** The number to re-target recognize at; kept only while the call lives (the session has a TTL). */
  participantRawId: text.optional(),
  purpose: text.optional(),
  /** The agent scenario answering the call, routed by the called number at answer time. */
  scenario: text.optional(),
  outcome: z.enum(CALL_OUTCOMES).optional(),
  connectedAt: text.optional(),
  endedAt: text.optional(),
  /** When the media stream failed (MediaStreamingFailed): the call continues on recognize/play. */
  mediaFailed: text.optional(),
  /** The Web PubSub shard whose relays bridge the call's media. */
  mediaShard: z.number().int().nonnegative().optional(),
  /** Whether ACS's media connection is up, and which connection it is (a reconnect gets a new one). */
  mediaState: z.enum(MEDIA_STATES).optional(),
  mediaConnectionId: text.optional(),
});

export type CallSession = Readonly<z.infer<typeof CallSessionSchema>>;

/** A state change a turn decides and records with its follow-up (so a redelivery redoes the same one). */
export const SessionStepSchema = z.object({ state: z.enum(CALL_STATES), outcome: z.enum(CALL_OUTCOMES).optional() });
export type SessionStep = Readonly<z.infer<typeof SessionStepSchema>>;

/** A stored call session that does not match its schema: written by something that does not know it. */
export class InvalidCallSessionError extends StateError {
  override name = 'InvalidCallSessionError';
  constructor(
    readonly callId: string,
    readonly fields: readonly string[],
  ) {
    // The field names, never their values: a value may be a caller's identifier.
    super(`Call session ${callId} does not match its schema (fields: ${fields.join(', ')})`, { code: 'invalid_call_session', context: { callId, fields: fields.join(',') } });
  }
}

/** The store operations the repository writes through (the store itself, or its traced wrapper). */
export type CallSessionRecords = Pick<SessionStore, 'createCallSession' | 'getCallSession' | 'updateCallSession'>;

/** What {@link CallSessions.mediaView} reads: the session, and the media connection even of a fragment. */
export interface CallMediaView {
  readonly session: CallSession | undefined;
  readonly mediaConnectionId: string | undefined;
}

/**
 * The call sessions: the only writer of `call:{id}:session`. Reads are parsed against the schema, and
 * every write is a named transition, so what a session can hold is written down in one place. The
 * key, its sliding TTL and the journal path while Redis is away are the store's
 * (`createCallSession` / `updateCallSession`), whose method names the traces and the operations
 * console observe.
 *
 * @example
 * const sessions = new CallSessions(store);
 * await sessions.create(callId, { state: 'answering', direction: 'inbound', startedAt });
 * await sessions.answered(callId, { callConnectionId });
 */
export class CallSessions {
  constructor(private readonly records: CallSessionRecords) {}

  /**
   * Creates the session unless it exists; fields already present are never overwritten, so a
   * redelivered IncomingCall changes nothing.
   */
  async create(callId: string, session: CallSession): Promise<{ created: boolean; durable: boolean }> {
    return this.records.createCallSession(callId, checked(callId, CallSessionSchema, session) as Fields);
  }

  /**
   * The session, or undefined when there is none. A hash without a state is not a session: it is what
   * a late write leaves after cleanup removed the call (the fields written since). Throws
   * {@link InvalidCallSessionError} for a session that does not match the schema.
   */
  async get(callId: string): Promise<CallSession | undefined> {
    return parsed(callId, await this.records.getCallSession(callId));
  }

  /** The session, and the media connection id recorded on the hash even when it is only a fragment. */
  async mediaView(callId: string): Promise<CallMediaView> {
    const raw = await this.records.getCallSession(callId);
    const mediaConnectionId = typeof raw?.mediaConnectionId === 'string' ? raw.mediaConnectionId : undefined;
    return { session: parsed(callId, raw), mediaConnectionId };
  }

  /** The answer failed in a way a redelivery may retry. */
  answerFailed(callId: string): Promise<WriteOutcome> {
    return this.update(callId, { state: 'answer_failed' });
  }

  /** ACS accepted the answer (or the outbound call) and gave it a call connection id. */
  answered(callId: string, ids: { readonly callConnectionId: string; readonly correlationId?: string | undefined }): Promise<WriteOutcome> {
    return this.update(callId, { state: 'answered', callConnectionId: ids.callConnectionId, ...(ids.correlationId ? { correlationId: ids.correlationId } : {}) });
  }

  connected(callId: string, callConnectionId: string, at: string): Promise<WriteOutcome> {
    return this.update(callId, { state: 'connected', callConnectionId, connectedAt: at });
  }

  /** A transfer was asked for; its outcome comes with ACS's answer ({@link transferAccepted}). */
  transferring(callId: string): Promise<WriteOutcome> {
    return this.update(callId, { state: 'transferring' });
  }

  transferAccepted(callId: string): Promise<WriteOutcome> {
    return this.update(callId, { state: 'transferring', outcome: 'transferred' });
  }

  /** The call is being ended by us (goodbye played, then hang-up), for `outcome`. */
  ending(callId: string, outcome: CallOutcome): Promise<WriteOutcome> {
    return this.update(callId, { state: 'ending', outcome });
  }

  /** Records how the call ends without changing its state (the relay's agent hangs up; callEvents sees the rest). */
  concluding(callId: string, outcome: CallOutcome): Promise<WriteOutcome> {
    return this.update(callId, { outcome });
  }

  /** The call is over (CallDisconnected, or a call that never connected: outcome `answer_failed`). */
  disconnected(callId: string, at: string, outcome?: CallOutcome): Promise<WriteOutcome> {
    return this.update(callId, outcome === undefined ? { state: 'disconnected', endedAt: at } : { state: 'disconnected', outcome, endedAt: at });
  }

  /** A step a turn recorded with its follow-up ({@link SessionStepSchema}). */
  async step(callId: string, step: SessionStep): Promise<WriteOutcome> {
    return this.update(callId, checked(callId, SessionStepSchema, step));
  }

  /** The media stream failed; the call goes on over recognize/play. */
  mediaFailed(callId: string, at: string): Promise<WriteOutcome> {
    return this.update(callId, { mediaFailed: at });
  }

  /** The Web PubSub shard the call's media was sent to (before its token is minted). */
  mediaShardAssigned(callId: string, shard: number): Promise<WriteOutcome> {
    return this.update(callId, { mediaShard: shard });
  }

  mediaConnected(callId: string, connectionId: string): Promise<WriteOutcome> {
    return this.update(callId, { mediaState: 'connected', mediaConnectionId: connectionId });
  }

  mediaDisconnected(callId: string): Promise<WriteOutcome> {
    return this.update(callId, { mediaState: 'disconnected' });
  }

  private update(callId: string, fields: Partial<CallSession>): Promise<WriteOutcome> {
    return this.records.updateCallSession(callId, fields as Fields);
  }
}

function parsed(callId: string, raw: Record<string, JsonValue> | undefined): CallSession | undefined {
  if (raw === undefined || raw.state === undefined) return undefined;
  return checked(callId, CallSessionSchema, raw);
}

function checked<T>(callId: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidCallSessionError(callId, [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(record)'))]);
  return result.data;
}
