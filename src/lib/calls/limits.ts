import type { AppConfig } from '../config/index.js';
import type { EventData } from '../acs/event-models.js';
import type { JsonValue } from '../state/index.js';

/** Text cut to a limit, and how long it was when it had to be cut. */
export interface BoundedText {
  readonly text: string;
  readonly truncatedFrom?: number;
}

/** Cuts `text` to at most `maxChars` UTF-16 units, never through a surrogate pair. */
export function limitText(text: string, maxChars: number): BoundedText {
  if (text.length <= maxChars) return { text };
  let end = maxChars;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return { text: text.slice(0, end), truncatedFrom: text.length };
}

/** The recognized text of a RecognizeCompleted event, bounded: speech and phrases by characters, DTMF by tones. */
export function boundedRecognition(data: EventData<'RecognizeCompleted'>, limits: AppConfig['limits']): BoundedText {
  if (data.recognitionType === 'dtmf') {
    const tones = data.dtmfResult?.tones ?? [];
    const kept = tones.slice(0, limits.dtmfTones).join(' ');
    return tones.length > limits.dtmfTones ? { text: kept, truncatedFrom: tones.length } : { text: kept };
  }
  const text = data.recognitionType === 'speech' ? (data.speechResult?.speech.trim() ?? '') : (data.choiceResult?.recognizedPhrase ?? data.choiceResult?.label ?? '');
  return limitText(text, limits.recognizedTextChars);
}

/** Context fields with every string value bounded; the names of the fields that were cut come back too. */
export function boundedContext(fields: Readonly<Record<string, JsonValue | undefined>>, maxChars: number): { fields: Record<string, JsonValue | undefined>; truncated: string[] } {
  const out: Record<string, JsonValue | undefined> = {};
  const truncated: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string' && value.length > maxChars) {
      out[name] = limitText(value, maxChars).text;
      truncated.push(name);
    } else {
      out[name] = value;
    }
  }
  return { fields: out, truncated };
}

/** Turn metadata recording a cut: `truncatedFrom` is the original length. */
export function truncationMeta(bounded: BoundedText): Record<string, JsonValue> {
  return bounded.truncatedFrom === undefined ? {} : { truncatedFrom: bounded.truncatedFrom };
}
