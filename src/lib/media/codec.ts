/**
 * The ACS media streaming frame codec: the JSON text frames ACS sends over the media WebSocket
 * (AudioMetadata, AudioData, DtmfData, TranscriptionMetadata, TranscriptionData) and the two the app
 * sends back (AudioData, StopAudio).
 *
 * ACS matches keys case-insensitively (`kind`, `Kind`, `audioData`, `AudioData`…), so the generic parser
 * does too. AudioData arrives every 20 ms per call, so it has a fast path: the camelCase shape ACS and
 * the JS SDK emit is scanned instead of a full `JSON.parse`, and the base64 payload is sliced out
 * untouched so it can be passed on without decoding.
 *
 * The two paths agree by construction: the fast path accepts only one closed grammar, the whole text
 * (`{"kind":"AudioData","audioData":{…}}` whose members are each known key at most once, with plain
 * string or boolean values), and for that grammar its reading is exactly `JSON.parse`'s; anything else
 * (escapes, other members, other casing, trailing text) goes to the generic parser. Both then pass
 * through the same validation of the audio payload (base64, whole 16-bit samples).
 */

import { AppError } from '../errors.js';

export type AudioMetadataFrame = {
  readonly kind: 'AudioMetadata';
  readonly subscriptionId: string;
  readonly encoding: string;
  readonly sampleRateHz: number;
  readonly channels: number;
  /** Bytes of PCM per AudioData frame (640 at 16 kHz, 960 at 24 kHz for 20 ms). */
  readonly frameLengthBytes: number;
};

export type AudioDataFrame = {
  readonly kind: 'AudioData';
  /** ISO timestamp of the frame; absent on frames the app sends to ACS. */
  readonly timestamp: string | undefined;
  /** Raw id of the speaking participant (unmixed audio); absent for mixed audio and outbound frames. */
  readonly participantRawId: string | undefined;
  /** Base64 PCM16 LE, exactly as received. */
  readonly data: string;
  readonly silent: boolean;
};

export type DtmfDataFrame = { readonly kind: 'DtmfData'; readonly data: string };

export type StopAudioFrame = { readonly kind: 'StopAudio' };

export type TranscriptionMetadataFrame = {
  readonly kind: 'TranscriptionMetadata';
  readonly subscriptionId: string | undefined;
  readonly locale: string | undefined;
  readonly callConnectionId: string | undefined;
  readonly correlationId: string | undefined;
};

export type TranscriptionWord = { readonly text: string; readonly offsetTicks: number; readonly durationTicks: number };

export type TranscriptionDataFrame = {
  readonly kind: 'TranscriptionData';
  readonly text: string;
  readonly format: string | undefined;
  readonly confidence: number | undefined;
  /** ACS reports offsets and durations in 100 ns ticks. */
  readonly offsetTicks: number | undefined;
  readonly durationTicks: number | undefined;
  readonly words: readonly TranscriptionWord[];
  readonly participantRawId: string | undefined;
  /** `Intermediate` or `Final`. */
  readonly resultStatus: string | undefined;
};

export type MediaFrame =
  | AudioMetadataFrame
  | AudioDataFrame
  | DtmfDataFrame
  | StopAudioFrame
  | TranscriptionMetadataFrame
  | TranscriptionDataFrame;

export type MediaFrameErrorReason =
  | 'not-json'
  | 'not-an-object'
  | 'missing-kind'
  | 'unknown-kind'
  | 'missing-payload'
  | 'invalid-field'
  /** AudioData whose `data` is not canonical base64. */
  | 'invalid-base64'
  /** AudioData whose PCM16 payload has an odd number of bytes (half a sample). */
  | 'odd-length';

/** A media frame that cannot be understood; `reason` says why, `kind` names the frame kind when known. */
export class MediaFrameError extends AppError {
  override name = 'MediaFrameError';
  constructor(
    readonly reason: MediaFrameErrorReason,
    message: string,
    readonly kind?: string,
    options?: { cause?: unknown },
  ) {
    super(message, { code: 'bad_media_frame', context: { reason, kind: kind ?? null }, cause: options?.cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Outbound frames: string templates. Base64 never contains characters JSON would need to escape.

const AUDIO_DATA_PREFIX = '{"kind":"AudioData","audioData":{"data":"';
const AUDIO_DATA_SUFFIX = '"}}';

/** `{"kind":"AudioData","audioData":{"data":<b64>}}` for ACS to play; `base64Pcm` is passed through as is. */
export function buildAudioDataFrame(base64Pcm: string): string {
  return AUDIO_DATA_PREFIX + base64Pcm + AUDIO_DATA_SUFFIX;
}

/** Tells ACS to drop the agent audio it has buffered (barge-in). */
export const STOP_AUDIO_FRAME = '{"kind":"StopAudio","stopAudio":{}}';

export function buildStopAudioFrame(): string {
  return STOP_AUDIO_FRAME;
}

/** The frames ACS itself sends; used by emulators and scripted callers. */
export function buildInboundAudioDataFrame(frame: {
  data: string;
  timestamp?: string;
  participantRawId?: string;
  silent?: boolean;
}): string {
  const timestamp = JSON.stringify(frame.timestamp ?? new Date().toISOString());
  const participant = frame.participantRawId === undefined ? '' : `"participantRawID":${JSON.stringify(frame.participantRawId)},`;
  return `{"kind":"AudioData","audioData":{"timestamp":${timestamp},${participant}"data":"${frame.data}","silent":${frame.silent === true}}}`;
}

export function buildAudioMetadataFrame(meta: {
  subscriptionId: string;
  sampleRateHz: 16000 | 24000;
  channels?: number;
  frameLengthBytes?: number;
}): string {
  const frameLengthBytes = meta.frameLengthBytes ?? (meta.sampleRateHz / 50) * 2;
  return JSON.stringify({
    kind: 'AudioMetadata',
    audioMetadata: {
      subscriptionId: meta.subscriptionId,
      encoding: 'PCM',
      sampleRate: meta.sampleRateHz,
      channels: meta.channels ?? 1,
      length: frameLengthBytes,
    },
  });
}

export function buildDtmfDataFrame(tone: string): string {
  return JSON.stringify({ kind: 'DtmfData', dtmfData: { data: tone } });
}

// ---------------------------------------------------------------------------------------------
// Inbound parsing.

/**
 * Parses one media frame. AudioData in the usual camelCase shape takes the fast path.
 * @throws MediaFrameError when the frame is not JSON, has no known kind or lacks required fields.
 */
export function parseMediaFrame(text: string): MediaFrame {
  const frame = parseAudioDataFast(text) ?? parseMediaFrameGeneric(text);
  if (frame.kind === 'AudioData') validateAudioPayload(frame.data);
  return frame;
}

/**
 * Refuses an AudioData payload that is not base64 (Node's decoder silently skips characters outside
 * the alphabet, which would hand the model noise) or does not hold whole 16-bit samples. Decoding is
 * the check: a payload is base64 exactly when it decodes to the byte count its length implies.
 * @throws MediaFrameError `invalid-base64` or `odd-length`
 */
export function validateAudioPayload(data: string): void {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  const bytes = (data.length / 4) * 3 - padding;
  if (data.length % 4 !== 0 || Buffer.from(data, 'base64').length !== bytes) {
    throw new MediaFrameError('invalid-base64', 'AudioData frame: data is not base64', 'AudioData');
  }
  if (bytes % 2 !== 0) throw new MediaFrameError('odd-length', `AudioData frame: ${bytes} bytes is not a whole number of 16-bit samples`, 'AudioData');
}

/** The generic, case-insensitive parser (always a full `JSON.parse`). Exposed for benchmarks and tests. */
export function parseMediaFrameGeneric(text: string): MediaFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MediaFrameError('not-json', 'Media frame is not valid JSON', undefined, { cause: error });
  }
  if (!isRecord(value)) throw new MediaFrameError('not-an-object', 'Media frame is not a JSON object');
  const kindValue = field(value, 'kind');
  if (typeof kindValue !== 'string' || kindValue === '') {
    throw new MediaFrameError('missing-kind', 'Media frame has no kind');
  }
  const kind = CANONICAL_KINDS.get(kindValue.toLowerCase());
  if (kind === undefined) throw new MediaFrameError('unknown-kind', `Unknown media frame kind "${clip(kindValue)}"`, kindValue);
  if (kind === 'StopAudio') return { kind };
  const payloadKey = kind.charAt(0).toLowerCase() + kind.slice(1);
  const payload = field(value, payloadKey);
  if (!isRecord(payload)) throw new MediaFrameError('missing-payload', `${kind} frame has no ${payloadKey} object`, kind);
  switch (kind) {
    case 'AudioData':
      return {
        kind,
        timestamp: optionalString(payload, 'timestamp', kind),
        participantRawId: optionalString(payload, 'participantRawID', kind),
        data: requiredString(payload, 'data', kind),
        silent: optionalBoolean(payload, 'silent', kind) ?? false,
      };
    case 'AudioMetadata':
      return {
        kind,
        subscriptionId: optionalString(payload, 'subscriptionId', kind) ?? '',
        encoding: optionalString(payload, 'encoding', kind) ?? 'PCM',
        sampleRateHz: requiredNumber(payload, 'sampleRate', kind),
        channels: optionalNumber(payload, 'channels', kind) ?? 1,
        frameLengthBytes: optionalNumber(payload, 'length', kind) ?? 0,
      };
    case 'DtmfData':
      return { kind, data: requiredString(payload, 'data', kind) };
    case 'TranscriptionMetadata':
      return {
        kind,
        subscriptionId: optionalString(payload, 'subscriptionId', kind),
        locale: optionalString(payload, 'locale', kind),
        callConnectionId: optionalString(payload, 'callConnectionId', kind),
        correlationId: optionalString(payload, 'correlationId', kind),
      };
    case 'TranscriptionData':
      return {
        kind,
        text: requiredString(payload, 'text', kind),
        format: optionalString(payload, 'format', kind),
        confidence: optionalNumber(payload, 'confidence', kind),
        offsetTicks: optionalNumber(payload, 'offset', kind),
        durationTicks: optionalNumber(payload, 'duration', kind),
        words: parseWords(field(payload, 'words'), kind),
        participantRawId: optionalString(payload, 'participantRawID', kind),
        resultStatus: optionalString(payload, 'resultStatus', kind),
      };
  }
}

const CANONICAL_KINDS = new Map<string, Exclude<MediaFrame['kind'], never>>(
  (['AudioMetadata', 'AudioData', 'DtmfData', 'StopAudio', 'TranscriptionMetadata', 'TranscriptionData'] as const).map(
    (k) => [k.toLowerCase(), k],
  ),
);

// The fast path recognises the exact camelCase opening ACS and the JS SDK produce; key order inside
// audioData does not matter, but every member must be one it knows, once.
const FAST_PREFIX = '{"kind":"AudioData","audioData":{';
const FAST_SUFFIX = '}}';

/**
 * The fast reading of an AudioData frame, or undefined when the text is not in the fast grammar:
 * `FAST_PREFIX member ("," member)* FAST_SUFFIX` and nothing else, where a member is `"data":"…"`,
 * `"timestamp":"…"`, `"participantRawID":"…"` (strings without `\`, hence no escapes, and no control
 * characters) or `"silent":true|false`, each at most once, `data` required.
 */
function parseAudioDataFast(text: string): AudioDataFrame | undefined {
  if (!text.startsWith(FAST_PREFIX) || !text.endsWith(FAST_SUFFIX)) return undefined;
  const end = text.length - FAST_SUFFIX.length;
  let at = FAST_PREFIX.length;
  let data: string | undefined;
  let timestamp: string | undefined;
  let participantRawId: string | undefined;
  let silent: boolean | undefined;
  for (;;) {
    if (text.charCodeAt(at) !== QUOTE) return undefined;
    const keyEnd = text.indexOf('":', at + 1);
    if (keyEnd === -1 || keyEnd >= end) return undefined;
    const key = text.slice(at + 1, keyEnd);
    at = keyEnd + 2;
    if (key === 'silent') {
      if (silent !== undefined) return undefined;
      if (text.startsWith('true', at)) {
        silent = true;
        at += 4;
      } else if (text.startsWith('false', at)) {
        silent = false;
        at += 5;
      } else {
        return undefined;
      }
    } else {
      if (text.charCodeAt(at) !== QUOTE) return undefined;
      const valueEnd = text.indexOf('"', at + 1);
      if (valueEnd === -1 || valueEnd >= end) return undefined;
      const value = text.slice(at + 1, valueEnd);
      // The payload is checked by decoding it afterwards (a control character fails that check too);
      // here only an escape matters, since then the raw slice is not the value.
      if (key === 'data' ? value.includes('\\') : !isPlainJsonString(value)) return undefined;
      at = valueEnd + 1;
      if (key === 'data' && data === undefined) data = value;
      else if (key === 'timestamp' && timestamp === undefined) timestamp = value;
      else if (key === 'participantRawID' && participantRawId === undefined) participantRawId = value;
      else return undefined;
    }
    if (at === end) break;
    if (text.charCodeAt(at) !== COMMA) return undefined;
    at += 1;
  }
  if (data === undefined) return undefined;
  return { kind: 'AudioData', timestamp, participantRawId, data, silent: silent ?? false };
}

const QUOTE = 34;
const COMMA = 44;
const BACKSLASH = 92;

/** A JSON string body that means itself: no escapes (an escape means the raw slice is not the value) and no control characters. */
function isPlainJsonString(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code === BACKSLASH || code < 0x20) return false;
  }
  return true;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Case-insensitive property lookup: exact match first (the common case), then a scan. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

function requiredString(obj: Record<string, unknown>, name: string, kind: string): string {
  const value = field(obj, name);
  if (typeof value !== 'string') throw invalid(kind, name, 'a string');
  return value;
}

function optionalString(obj: Record<string, unknown>, name: string, kind: string): string | undefined {
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(kind, name, 'a string');
  return value;
}

function requiredNumber(obj: Record<string, unknown>, name: string, kind: string): number {
  const value = optionalNumber(obj, name, kind);
  if (value === undefined) throw invalid(kind, name, 'a number');
  return value;
}

function optionalNumber(obj: Record<string, unknown>, name: string, kind: string): number | undefined {
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(kind, name, 'a number');
  return value;
}

function optionalBoolean(obj: Record<string, unknown>, name: string, kind: string): boolean | undefined {
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(kind, name, 'a boolean');
  return value;
}

function parseWords(value: unknown, kind: string): TranscriptionWord[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(kind, 'words', 'an array');
  return value.map((word) => {
    if (!isRecord(word)) throw invalid(kind, 'words', 'an array of objects');
    return {
      text: requiredString(word, 'text', kind),
      offsetTicks: optionalNumber(word, 'offset', kind) ?? 0,
      durationTicks: optionalNumber(word, 'duration', kind) ?? 0,
    };
  });
}

function invalid(kind: string, name: string, expected: string): MediaFrameError {
  return new MediaFrameError('invalid-field', `${kind} frame: ${name} must be ${expected}`, kind);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
