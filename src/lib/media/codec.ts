/**
 * The ACS media streaming frame codec: the JSON text frames ACS sends over the media WebSocket
 * (AudioMetadata, AudioData, DtmfData, TranscriptionMetadata, TranscriptionData) and the two the app
 * sends back (AudioData, StopAudio).
 *
 * ACS matches keys case-insensitively (`kind`, `Kind`, `audioData`, `AudioData`…), so the generic parser
 * does too. AudioData arrives every 20 ms per call, so it has a fast path: the camelCase shape ACS and
 * the JS SDK emit is read with `indexOf` scans instead of a full `JSON.parse`, and the base64 payload is
 * sliced out untouched so it can be passed on without decoding. Anything the fast path is not sure of
 * (escapes, missing fields, other casing) falls back to the generic parser.
 */

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
  | 'invalid-field';

/** A media frame that cannot be understood; `reason` says why, `kind` names the frame kind when known. */
export class MediaFrameError extends Error {
  override name = 'MediaFrameError';
  constructor(
    readonly reason: MediaFrameErrorReason,
    message: string,
    readonly kind?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
  return parseAudioDataFast(text) ?? parseMediaFrameGeneric(text);
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
// audioData does not matter. A literal `"data":"` can only be a key here: inside a JSON string its
// quotes would be escaped.
const FAST_PREFIX = '{"kind":"AudioData","audioData":{';

function parseAudioDataFast(text: string): AudioDataFrame | undefined {
  if (!text.startsWith(FAST_PREFIX)) return undefined;
  const from = FAST_PREFIX.length;
  const data = stringValueAfter(text, '"data":"', from);
  if (data === undefined) return undefined;
  const timestamp = stringValueAfter(text, '"timestamp":"', from);
  const participantRawId = stringValueAfter(text, '"participantRawID":"', from);
  let silent = false;
  const silentAt = text.indexOf('"silent":', from);
  if (silentAt !== -1) {
    const valueAt = silentAt + 9;
    if (text.startsWith('true', valueAt)) silent = true;
    else if (!text.startsWith('false', valueAt)) return undefined;
  }
  // Only trust a frame that is closed the way the template closes it; anything else → generic parser.
  if (!text.endsWith('}}')) return undefined;
  return { kind: 'AudioData', timestamp, participantRawId, data, silent };
}

/** The string value after `key` (which ends with the opening quote), or undefined if absent or escaped. */
function stringValueAfter(text: string, key: string, from: number): string | undefined {
  const at = text.indexOf(key, from);
  if (at === -1) return undefined;
  const start = at + key.length;
  const end = text.indexOf('"', start);
  if (end === -1) return undefined;
  const value = text.slice(start, end);
  // An escape (System.Text.Json writes "+" as \u002B) means the raw slice is not the value.
  if (value.includes('\\')) return undefined;
  return value;
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
