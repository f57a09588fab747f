import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Per-call signatures in the callback URL given to ACS.
 *
 * The signature covers a version tag, the call id and an expiry, so the URL minted for one call cannot
 * authenticate events for another call (the call id is inside the MAC) and a leaked URL stops working
 * once the call cannot possibly still be running. ACS keeps using the URL from `answerCall` for the
 * whole call, so the expiry must outlive the longest call (`MAX_CALL_DURATION_SECONDS`).
 */

export const SIGNATURE_VERSION = 'v1';
/** The route of the callback function; the URL is `<base>/api/callEvents?...`. */
export const CALLBACK_PATH = '/api/callEvents';
/**
 * A day: media tokens live as long, and no call lasts that long (the max call duration is at most 4 h).
 * @default 86400
 */
export const DEFAULT_CALLBACK_URL_TTL_SECONDS = 24 * 60 * 60;

export interface CallbackUrlOptions {
  /** Lifetime of the signature. @default DEFAULT_CALLBACK_URL_TTL_SECONDS */
  readonly ttlSeconds?: number;
  /** Clock, for tests and replays. @default Date.now */
  readonly nowMs?: number;
}

export type SignatureFailureReason = 'missing_signature' | 'bad_signature' | 'signature_expired';

export type SignatureCheck =
  | { readonly ok: true; readonly callId: string; readonly expiresAtSec: number }
  | { readonly ok: false; readonly reason: SignatureFailureReason; readonly detail: string };

function mac(key: string, callId: string, expiresAtSec: number): Buffer {
  // Newline-separated fields: a call id cannot contain a newline (checked below), so no two
  // (callId, expiry) pairs produce the same message.
  return createHmac('sha256', key).update(`${SIGNATURE_VERSION}\n${callId}\n${expiresAtSec}`).digest();
}

const CALL_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The callback URL for one call: `<base>/api/callEvents?callId=<id>&exp=<unix s>&sig=v1.<base64url HMAC>`.
 *
 * @example
 * const url = callbackUrlFor(config.acs.callbackBaseUrl!, callId, config.acs.callbackSigningKey!, {
 *   ttlSeconds: config.lifecycle.maxCallDurationSeconds + 3600,
 * });
 */
export function callbackUrlFor(baseUrl: string, callId: string, signingKey: string, options: CallbackUrlOptions = {}): string {
  if (!CALL_ID.test(callId)) throw new TypeError('callId must be 1..128 characters of [A-Za-z0-9._:-]');
  if (!signingKey) throw new TypeError('signingKey is empty');
  const nowMs = options.nowMs ?? Date.now();
  const expiresAtSec = Math.floor(nowMs / 1000) + (options.ttlSeconds ?? DEFAULT_CALLBACK_URL_TTL_SECONDS);
  const url = new URL(baseUrl.replace(/\/+$/, '') + CALLBACK_PATH);
  url.searchParams.set('callId', callId);
  url.searchParams.set('exp', String(expiresAtSec));
  url.searchParams.set('sig', `${SIGNATURE_VERSION}.${mac(signingKey, callId, expiresAtSec).toString('base64url')}`);
  return url.toString();
}

/**
 * Checks the signature of a callback URL (absolute, or path plus query). Never throws for bad input.
 * The comparison is constant-time.
 */
export function verifyCallbackSignature(url: string, signingKey: string, nowMs: number = Date.now()): SignatureCheck {
  let params: URLSearchParams;
  try {
    params = new URL(url, 'http://callback.invalid').searchParams;
  } catch {
    return { ok: false, reason: 'bad_signature', detail: 'unparsable URL' };
  }
  // One value each: a handler that read the last `callId` while we checked the first would be fooled.
  if (['callId', 'exp', 'sig'].some((name) => params.getAll(name).length > 1)) {
    return { ok: false, reason: 'bad_signature', detail: 'repeated signature parameter' };
  }
  const callId = params.get('callId');
  const exp = params.get('exp');
  const sig = params.get('sig');
  if (!callId || !sig) return { ok: false, reason: 'missing_signature', detail: 'callId or sig missing from the URL' };
  if (!CALL_ID.test(callId)) return { ok: false, reason: 'bad_signature', detail: 'malformed callId' };
  if (!exp || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: 'bad_signature', detail: 'malformed exp' };
  const [version, encoded, ...rest] = sig.split('.');
  if (version !== SIGNATURE_VERSION || !encoded || rest.length > 0) {
    return { ok: false, reason: 'bad_signature', detail: `unsupported signature version` };
  }
  const expiresAtSec = Number(exp);
  // Compare the canonical text, not decoded bytes: base64url decoding ignores stray characters and
  // the last character's spare bits, which would make several spellings of one signature valid.
  const expected = Buffer.from(mac(signingKey, callId, expiresAtSec).toString('base64url'));
  const given = Buffer.from(encoded);
  // Lengths are public (always 43 characters), so checking them first leaks nothing.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature', detail: 'signature does not match the call' };
  }
  // Checked after the MAC so an attacker learns nothing about expiry handling from forged URLs.
  if (expiresAtSec * 1000 <= nowMs) return { ok: false, reason: 'signature_expired', detail: 'callback URL expired' };
  return { ok: true, callId, expiresAtSec };
}
