/**
 * `resultInformation` values put in callback events. 8508, 8510, 8531, 8545, 8547 and 8582 are from
 * the ACS docs ("Event codes" of the recognize how-to) and the .NET SDK's MediaEventReasonCode;
 * the ones marked "unverified" are plausible placeholders: apps should branch on the event type
 * and the documented codes, never on these.
 */
export interface ResultInformation {
  readonly code: number;
  readonly subCode: number;
  readonly message: string;
}

export const RESULT = {
  /** Call signalling events (CallConnected, ParticipantsUpdated, CallDisconnected…). */
  ok: { code: 200, subCode: 0, message: 'The action completed successfully.' },
  actionCompleted: { code: 200, subCode: 0, message: 'Action completed successfully.' },
  /** Speech recognized (sub-code unverified). */
  recognizeCompleted: { code: 200, subCode: 8533, message: 'Action completed, speech recognized.' },
  maxDigitsReceived: { code: 200, subCode: 8531, message: 'Action completed, max digits received.' },
  canceled: { code: 400, subCode: 8508, message: 'Action failed, the operation was canceled.' },
  initialSilenceTimeout: { code: 400, subCode: 8510, message: 'Action failed, initial silence timeout reached.' },
  playSourceEmpty: { code: 400, subCode: 8582, message: 'Action failed, play source text or ssml empty.' },
  transferAccepted: { code: 202, subCode: 0, message: 'The transfer operation completed successfully.' },
  /** CallDisconnected does not say who hung up; ParticipantsUpdated before it does. */
  callEnded: { code: 200, subCode: 0, message: 'The conversation has ended.' },
  streamingStarted: { code: 200, subCode: 0, message: 'Action completed successfully.' },
  /** Sub-code unverified; `mediaStreamingUpdate.mediaStreamingStatusDetails` carries the SDK's known reason. */
  streamingFailed: { code: 500, subCode: 8581, message: 'Action failed, the media streaming WebSocket could not be connected.' },
  /** AnswerFailed (code and sub-code unverified: the event's documented shape only has resultInformation). */
  answerFailed: { code: 500, subCode: 8500, message: 'The call could not be answered.' },
  /** Sub-code unverified. */
  transferFailed: { code: 500, subCode: 7505, message: 'The transfer target did not answer.' },
} as const satisfies Record<string, ResultInformation>;

/** REST error codes seen in ACS answers (404 "Call not found." is from the SDK's recorded tests). */
export const REST_ERROR = {
  callNotFound: { status: 404, code: '8522', message: 'Call not found.' },
  unauthorized: { status: 401, code: 'Unauthorized', message: 'HMAC authentication failed.' },
  badRequest: { status: 400, code: 'BadRequest', message: 'The request is invalid.' },
  notFound: { status: 404, code: 'NotFound', message: 'The requested operation does not exist.' },
} as const;
