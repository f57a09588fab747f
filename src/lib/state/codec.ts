import { StateFormatError } from './errors.js';

/** A JSON value; hash fields and string keys hold one each. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Fields = Record<string, JsonValue | undefined>;

/** Field-level JSON: each field is encoded on its own, so a write touches only the fields it changes. */
export function encodeFields(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in fields) {
    const value = fields[name];
    if (value !== undefined) out[name] = JSON.stringify(value);
  }
  return out;
}

export function decodeFields(key: string, raw: Readonly<Record<string, string>>, skip: (name: string) => boolean = () => false): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const name in raw) {
    if (skip(name)) continue;
    out[name] = decodeJson(key, raw[name] as string);
  }
  return out;
}

export function decodeJson<T = JsonValue>(key: string, raw: string): T {
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new StateFormatError(key, 'value is not JSON', err);
  }
}
