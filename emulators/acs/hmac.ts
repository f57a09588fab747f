import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verifies the HMAC-SHA256 scheme `@azure/communication-common` signs with
 * (`communicationAccessKeyCredentialPolicy`): the string to sign is
 * `VERB\npathAndQuery\nx-ms-date;host;x-ms-content-sha256`, keyed with the base64-decoded access key.
 * The path and query are rebuilt the way the SDK builds them (WHATWG `URL`, `searchParams.toString()`).
 */

const ALLOWED_CLOCK_SKEW_MS = 15 * 60_000;
const AUTH = /^HMAC-SHA256\s+SignedHeaders=([^&]+)&Signature=(.+)$/i;

export interface SignedRequest {
  readonly method: string;
  /** `req.url` as received: path and query. */
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export type HmacVerdict = { ok: true } | { ok: false; reason: string };

function header(req: SignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function contentHash(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('base64');
}

export function signatureFor(accessKeyBase64: string, stringToSign: string): string {
  return createHmac('sha256', Buffer.from(accessKeyBase64, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

export function pathAndQueryOf(url: string): string {
  const parsed = new URL(url, 'http://emulator.invalid');
  const query = parsed.searchParams.toString();
  return query ? `${parsed.pathname}?${query}` : parsed.pathname;
}

export function verifyHmac(req: SignedRequest, accessKeyBase64: string, now = Date.now()): HmacVerdict {
  const authorization = header(req, 'authorization');
  const date = header(req, 'x-ms-date') ?? header(req, 'date');
  const claimedHash = header(req, 'x-ms-content-sha256');
  const host = header(req, 'host');
  if (!authorization) return { ok: false, reason: 'The Authorization header is missing.' };
  if (!date) return { ok: false, reason: 'The x-ms-date header is missing.' };
  if (!claimedHash) return { ok: false, reason: 'The x-ms-content-sha256 header is missing.' };
  if (!host) return { ok: false, reason: 'The Host header is missing.' };
  const match = AUTH.exec(authorization);
  if (!match) return { ok: false, reason: 'The Authorization header is not an HMAC-SHA256 signature.' };
  const [, signedHeaders = '', signature = ''] = match;
  if (signedHeaders.toLowerCase() !== 'x-ms-date;host;x-ms-content-sha256') {
    return { ok: false, reason: `Unsupported SignedHeaders "${signedHeaders}".` };
  }
  const dateMs = Date.parse(date);
  if (Number.isNaN(dateMs) || Math.abs(now - dateMs) > ALLOWED_CLOCK_SKEW_MS) {
    return { ok: false, reason: 'The x-ms-date header is missing, malformed or too far from the current time.' };
  }
  if (claimedHash !== contentHash(req.body)) return { ok: false, reason: 'The content hash does not match the body.' };
  const stringToSign = `${req.method.toUpperCase()}\n${pathAndQueryOf(req.url)}\n${date};${host};${claimedHash}`;
  const expected = Buffer.from(signatureFor(accessKeyBase64, stringToSign));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'The request signature does not match; check the access key.' };
  }
  return { ok: true };
}
