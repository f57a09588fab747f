import type {
  AnswerCallOptions,
  CallMedia,
  CallMediaRecognizeSpeechOptions,
  MediaStreamingOptions,
  PlayToAllOptions,
  TextSource,
} from '@azure/communication-call-automation';
import type { AppConfig } from '../config/index.js';

/** Typed builders for the few Call Automation requests the call-control handlers make. */

export type CommunicationIdentifier = Parameters<CallMedia['startRecognizing']>[0];
export interface PhoneNumberIdentifier {
  readonly phoneNumber: string;
  readonly rawId?: string;
}

const E164 = /^\+[1-9]\d{6,14}$/;

/** `{ phoneNumber: '+1555…' }`; throws a TypeError (without the number) for anything else. */
export function phoneIdentifier(e164: string): PhoneNumberIdentifier {
  if (!E164.test(e164)) throw new TypeError('not an E.164 phone number');
  return { phoneNumber: e164 };
}

export interface MediaStreamingInput {
  /** `wss://…` of the Web PubSub client connection for this call (token included). */
  readonly transportUrl: string;
  /** @default 'pcm24KMono' (the realtime model's rate, so no resampling) */
  readonly audioFormat?: AppConfig['webPubSub']['audioFormat'];
  /** @default 'mixed' */
  readonly audioChannelType?: 'mixed' | 'unmixed';
  /** @default true */
  readonly startMediaStreaming?: boolean;
  /** @default true */
  readonly enableDtmfTones?: boolean;
}

export interface AnswerCallInput {
  readonly incomingCallContext: string;
  /** The signed per-call URL from `callbackUrlFor`. */
  readonly callbackUrl: string;
  readonly operationContext?: string;
  /** The AI services resource ACS uses for recognize/play; required for speech. */
  readonly cognitiveServicesEndpoint?: string | undefined;
  /** Present only in media mode. */
  readonly media?: MediaStreamingInput | undefined;
}

export function mediaStreamingOptions(media: MediaStreamingInput): MediaStreamingOptions {
  if (!/^wss?:\/\//.test(media.transportUrl)) throw new TypeError('media transportUrl must be a ws:// or wss:// URL');
  return {
    transportType: 'websocket',
    transportUrl: media.transportUrl,
    contentType: 'audio',
    audioChannelType: media.audioChannelType ?? 'mixed',
    startMediaStreaming: media.startMediaStreaming ?? true,
    enableBidirectional: true,
    audioFormat: media.audioFormat ?? 'pcm24KMono',
    enableDtmfTones: media.enableDtmfTones ?? true,
  };
}

/**
 * The positional arguments of `CallAutomationClient.answerCall`.
 *
 * @example
 * const answered = await acs.answerCall(...answerCallArgs({ incomingCallContext, callbackUrl, operationContext: callId,
 *   cognitiveServicesEndpoint: config.acs.cognitiveServicesEndpoint }));
 */
export function answerCallArgs(input: AnswerCallInput): [incomingCallContext: string, callbackUrl: string, options: AnswerCallOptions] {
  const options: AnswerCallOptions = {};
  if (input.operationContext !== undefined) options.operationContext = input.operationContext;
  if (input.cognitiveServicesEndpoint) options.callIntelligenceOptions = { cognitiveServicesEndpoint: input.cognitiveServicesEndpoint };
  if (input.media) options.mediaStreamingOptions = mediaStreamingOptions(input.media);
  return [input.incomingCallContext, input.callbackUrl, options];
}

/** Voice and locale for text-to-speech and recognition (`config.acs.voice`, `config.acs.locale`). */
export type SpeechSettings = Pick<AppConfig['acs'], 'voice' | 'locale'>;

export function textSource(text: string, speech: SpeechSettings): TextSource {
  if (text.trim() === '') throw new TypeError('cannot play empty text'); // ACS fails it with 8582
  return { kind: 'textSource', text, voiceName: speech.voice, sourceLocale: speech.locale };
}

export interface PlayTextInput {
  readonly operationContext: string;
  /** Barge into queued or playing media (e.g. an urgent goodbye). @default false */
  readonly interrupt?: boolean;
}

/**
 * Arguments of `callMedia.playToAll`.
 *
 * @example
 * await connection.getCallMedia().playToAll(...playText('Goodbye!', config.acs, { operationContext: 'goodbye' }));
 */
export function playText(text: string, speech: SpeechSettings, input: PlayTextInput): [sources: TextSource[], options: PlayToAllOptions] {
  return [[textSource(text, speech)], { operationContext: input.operationContext, interruptCallMediaOperation: input.interrupt ?? false }];
}

export interface RecognizeSpeechInput {
  readonly operationContext: string;
  /** Silence after speech that ends the utterance. ACS accepts 0..10 s. @default 1 */
  readonly endSilenceTimeoutSec?: number;
  /** How long to wait for the caller to start speaking; ACS allows at most 20 s for speech. @default 8 */
  readonly initialSilenceTimeoutSec?: number;
  /** The caller may talk over the prompt. @default true */
  readonly interruptPrompt?: boolean;
}

/**
 * Options of `callMedia.startRecognizing(target, options)`: play the prompt, then listen.
 *
 * @example
 * await media.startRecognizing(phoneIdentifier(caller), recognizeSpeech(reply, config.acs, { operationContext: `turn:${n}` }));
 */
export function recognizeSpeech(prompt: string, speech: SpeechSettings, input: RecognizeSpeechInput): CallMediaRecognizeSpeechOptions {
  const endSilence = input.endSilenceTimeoutSec ?? 1;
  const initialSilence = input.initialSilenceTimeoutSec ?? 8;
  if (!(endSilence > 0 && endSilence <= 10)) throw new TypeError('endSilenceTimeoutSec must be in (0, 10]');
  if (!(initialSilence > 0 && initialSilence <= 20)) throw new TypeError('initialSilenceTimeoutSec must be in (0, 20]');
  return {
    kind: 'callMediaRecognizeSpeechOptions',
    playPrompt: textSource(prompt, speech),
    speechLanguage: speech.locale,
    endSilenceTimeoutInSeconds: endSilence,
    initialSilenceTimeoutInSeconds: initialSilence,
    interruptPrompt: input.interruptPrompt ?? true,
    operationContext: input.operationContext,
  };
}
