import { z } from 'zod';

/**
 * Zod models of the `data` of ACS Call Automation callback events, checked against
 * @azure/communication-call-automation 1.6.0 (`models/events.d.ts`, `generated/src/models/index.d.ts`) and
 * docs/wire-protocols.md. Objects are loose: ACS adds fields over time and an unknown field must not
 * turn a valid callback into a 400.
 */

/** `resultInformation` of every event; `subCode` is the interesting part (see result-codes.ts). */
export const ResultInformation = z.looseObject({
  code: z.number().int(),
  subCode: z.number().int().optional(),
  message: z.string().optional(),
});

/** CommunicationIdentifierModel: `rawId` plus the one member matching `kind`. */
export const CommunicationIdentifier = z.looseObject({
  kind: z.string().optional(),
  rawId: z.string().optional(),
  phoneNumber: z.looseObject({ value: z.string(), isAnonymous: z.boolean().optional() }).optional(),
  communicationUser: z.looseObject({ id: z.string() }).optional(),
  microsoftTeamsUser: z.looseObject({ userId: z.string() }).optional(),
  microsoftTeamsApp: z.looseObject({ appId: z.string() }).optional(),
});

const nonEmpty = z.string().min(1);

/** Fields every mid-call event carries. `serverCallId` is absent on ConnectFailed, so it is optional. */
const base = {
  callConnectionId: nonEmpty,
  serverCallId: z.string().optional(),
  correlationId: nonEmpty,
  operationContext: z.string().optional(),
  resultInformation: ResultInformation.optional(),
};

export const BaseEventData = z.looseObject(base);

const withParticipant = z.looseObject({ ...base, participant: CommunicationIdentifier.optional(), invitationId: z.string().optional() });
const withFailedPlaySource = z.looseObject({ ...base, failedPlaySourceIndex: z.number().int().optional() });
const withMediaStreamingUpdate = z.looseObject({
  ...base,
  mediaStreamingUpdate: z
    .looseObject({
      contentType: z.string().optional(),
      mediaStreamingStatus: z.string().optional(),
      mediaStreamingStatusDetails: z.string().optional(),
    })
    .optional(),
});

export const RECOGNITION_TYPES = ['speech', 'dtmf', 'choices'] as const;

export const RecognizeCompletedData = z
  .looseObject({
    ...base,
    recognitionType: z.enum(RECOGNITION_TYPES),
    speechResult: z.looseObject({ speech: z.string(), confidence: z.number().optional() }).optional(),
    dtmfResult: z.looseObject({ tones: z.array(z.string()) }).optional(),
    choiceResult: z
      .looseObject({ label: z.string(), recognizedPhrase: z.string().optional(), confidence: z.number().optional() })
      .optional(),
  })
  .superRefine((data, ctx) => {
    // The result member must match the recognition type, or the handler would have nothing to read.
    const member = { speech: 'speechResult', dtmf: 'dtmfResult', choices: 'choiceResult' } as const;
    const field = member[data.recognitionType];
    if (data[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `required when recognitionType is ${data.recognitionType}` });
  });

export const ParticipantsUpdatedData = z.looseObject({
  ...base,
  sequenceNumber: z.number().int().optional(),
  participants: z.array(
    z.looseObject({ identifier: CommunicationIdentifier, isMuted: z.boolean().optional(), isOnHold: z.boolean().optional() }),
  ),
});

export const CallTransferAcceptedData = z.looseObject({
  ...base,
  transferee: CommunicationIdentifier.optional(),
  transferTarget: CommunicationIdentifier.optional(),
});

export const CancelAddParticipantData = z.looseObject({ ...base, invitationId: nonEmpty });

export const ContinuousDtmfToneReceivedData = z.looseObject({
  ...base,
  tone: z.string(),
  sequenceId: z.number().int(),
});

/**
 * Every event type the app understands, by the name after `Microsoft.Communication.`.
 * Types not listed here parse as `{ kind: 'unknown' }`.
 */
export const EVENT_DATA = {
  CallConnected: BaseEventData,
  CallDisconnected: BaseEventData,
  ConnectFailed: BaseEventData,
  AnswerFailed: BaseEventData,
  CreateCallFailed: BaseEventData,
  ParticipantsUpdated: ParticipantsUpdatedData,
  CallTransferAccepted: CallTransferAcceptedData,
  CallTransferFailed: BaseEventData,
  AddParticipantSucceeded: withParticipant,
  AddParticipantFailed: withParticipant,
  RemoveParticipantSucceeded: withParticipant,
  RemoveParticipantFailed: withParticipant,
  CancelAddParticipantSucceeded: CancelAddParticipantData,
  CancelAddParticipantFailed: CancelAddParticipantData,
  PlayStarted: BaseEventData,
  PlayCompleted: BaseEventData,
  PlayFailed: withFailedPlaySource,
  PlayCanceled: BaseEventData,
  RecognizeCompleted: RecognizeCompletedData,
  RecognizeFailed: withFailedPlaySource,
  RecognizeCanceled: BaseEventData,
  ContinuousDtmfRecognitionToneReceived: ContinuousDtmfToneReceivedData,
  ContinuousDtmfRecognitionToneFailed: BaseEventData,
  ContinuousDtmfRecognitionStopped: BaseEventData,
  SendDtmfTonesCompleted: BaseEventData,
  SendDtmfTonesFailed: BaseEventData,
  HoldFailed: BaseEventData,
  MediaStreamingStarted: withMediaStreamingUpdate,
  MediaStreamingStopped: withMediaStreamingUpdate,
  MediaStreamingFailed: withMediaStreamingUpdate,
} as const;

export type CallAutomationEventKind = keyof typeof EVENT_DATA;
export type EventData<K extends CallAutomationEventKind> = z.infer<(typeof EVENT_DATA)[K]>;
export type RecognizeCompletedEventData = z.infer<typeof RecognizeCompletedData>;
export type CommunicationIdentifierModel = z.infer<typeof CommunicationIdentifier>;
export type ResultInformationModel = z.infer<typeof ResultInformation>;
