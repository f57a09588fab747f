import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CallbackAuthError,
  callbackUrlFor,
  checkEventsBelongToCall,
  createCallbackAuthenticator,
  verifyCallbackSignature,
} from '../../src/lib/acs/callback-auth.js';
import { lifetimeProblemOf } from '../../src/lib/acs/callback-jwt.js';
import { JwksServer, signToken, signingKey, type SigningKey } from './jwks-server.js';

const ISSUER = 'https://acscallautomation.communication.azure.com';
const AUDIENCE = '11111111-2222-3333-4444-555555555555';
const SIGNING_KEY = 's'.repeat(40);
const BASE = 'https://rtvoice.example.net';

let jwks: JwksServer;
let keyA: SigningKey;
let keyB: SigningKey;

beforeAll(async () => {
  jwks = await JwksServer.start();
  [keyA, keyB] = await Promise.all([signingKey('key-a'), signingKey('key-b')]);
});
afterAll(async () => {
  await jwks.close();
});

function acs(mode: 'jwt' | 'signature' | 'jwt+signature', overrides: Record<string, string | undefined> = {}) {
  return {
    callbackAuth: mode,
    callbackSigningKey: SIGNING_KEY,
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
    jwksUrl: jwks.url,
    ...overrides,
  };
}

const bearer = (token: string) => `Bearer ${token}`;

describe('per-call signature', () => {
  it('accepts the URL it minted and returns the call id', () => {
    // Prepare
    const url = callbackUrlFor(BASE, 'call-1', SIGNING_KEY);
    // Act
    const check = verifyCallbackSignature(url, SIGNING_KEY);
    // Assess
    expect(new URL(url).pathname).toBe('/api/callEvents');
    expect(check).toMatchObject({ ok: true, callId: 'call-1' });
  });

  it('rejects a URL whose callId was swapped for another call (cross-call replay)', () => {
    // Prepare: the attacker holds call-1's URL and wants to post events for call-2
    const url = new URL(callbackUrlFor(BASE, 'call-1', SIGNING_KEY));
    url.searchParams.set('callId', 'call-2');
    // Act
    const check = verifyCallbackSignature(url.toString(), SIGNING_KEY);
    // Assess
    expect(check).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('rejects a tampered signature, even one differing only in the spare bits of the last character', () => {
    // Prepare
    const url = new URL(callbackUrlFor(BASE, 'call-1', SIGNING_KEY));
    const sig = url.searchParams.get('sig')!;
    const last = sig.at(-1)!;
    // 32 bytes take 43 base64url characters; the last one carries 2 spare bits. Flipping its lowest
    // bit leaves the decoded bytes unchanged, so only a comparison of the canonical text rejects it.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(sig.slice(3, -1) + sibling, 'base64url')).toEqual(Buffer.from(sig.slice(3), 'base64url'));
    const spareBits = new URL(url);
    spareBits.searchParams.set('sig', sig.slice(0, -1) + sibling);
    const flipped = new URL(url);
    flipped.searchParams.set('sig', sig.slice(0, 5) + (sig[5] === 'x' ? 'y' : 'x') + sig.slice(6));
    // Act
    const checks = [spareBits, flipped].map((u) => verifyCallbackSignature(u.toString(), SIGNING_KEY));
    // Assess
    expect(checks.map((c) => c.ok)).toEqual([false, false]);
  });

  it('rejects a moved expiry, an expired URL, a wrong key and a missing signature', () => {
    // Prepare
    const nowMs = Date.parse('2026-01-01T00:00:00Z');
    const url = callbackUrlFor(BASE, 'call-1', SIGNING_KEY, { nowMs, ttlSeconds: 60 });
    const extended = new URL(url);
    extended.searchParams.set('exp', String(Number(extended.searchParams.get('exp')) + 3600));
    const unsigned = new URL(url);
    unsigned.searchParams.delete('sig');
    // Act
    const moved = verifyCallbackSignature(extended.toString(), SIGNING_KEY, nowMs);
    const expired = verifyCallbackSignature(url, SIGNING_KEY, nowMs + 61_000);
    const stillValid = verifyCallbackSignature(url, SIGNING_KEY, nowMs + 59_000);
    const wrongKey = verifyCallbackSignature(url, 'k'.repeat(40), nowMs);
    const missing = verifyCallbackSignature(unsigned.toString(), SIGNING_KEY, nowMs);
    // Assess
    expect(moved).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(expired).toMatchObject({ ok: false, reason: 'signature_expired' });
    expect(stillValid.ok).toBe(true);
    expect(wrongKey).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(missing).toMatchObject({ ok: false, reason: 'missing_signature' });
  });

  it('rejects a valid URL with a second callId appended', () => {
    // Prepare
    const url = `${callbackUrlFor(BASE, 'call-1', SIGNING_KEY)}&callId=call-2`;
    // Act
    const check = verifyCallbackSignature(url, SIGNING_KEY);
    // Assess
    expect(check).toMatchObject({ ok: false, reason: 'bad_signature', detail: 'repeated signature parameter' });
  });

  it('never throws on garbage', () => {
    // Prepare
    const inputs = ['', '::::', '/api/callEvents?callId=%ZZ&sig=v1.abc', '/api/callEvents?callId=a%0Ab&exp=1&sig=v1.x', '/x?callId=c&exp=9&sig=v2.abc'];
    // Act
    const results = inputs.map((u) => verifyCallbackSignature(u, SIGNING_KEY));
    // Assess
    expect(results.every((r) => !r.ok)).toBe(true);
  });

  it('refuses to mint a URL for an id that could smuggle characters', () => {
    // Act + Assess
    expect(() => callbackUrlFor(BASE, 'a\nb', SIGNING_KEY)).toThrow(TypeError);
    expect(() => callbackUrlFor(BASE, 'a&sig=x', SIGNING_KEY)).toThrow(TypeError);
  });
});

describe('ACS-signed JWT against a real JWKS endpoint', () => {
  it('accepts a token signed by a published key and reports its subject', async () => {
    // Prepare
    jwks.serve(keyA);
    const auth = createCallbackAuthenticator(acs('jwt'));
    const token = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE, subject: 'acs-sub' });
    // Act
    const result = await auth.authenticate({ url: '/api/callEvents', authorization: bearer(token) });
    // Assess
    expect(result).toEqual({ ok: true, subject: 'acs-sub' });
  });

  it('names the reason for a missing, malformed, expired, wrong-audience and wrong-issuer token', async () => {
    // Prepare
    jwks.serve(keyA);
    const auth = createCallbackAuthenticator(acs('jwt'));
    const nowSec = Math.floor(Date.now() / 1000);
    const expired = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE, issuedAtSec: nowSec - 900, expiresAtSec: nowSec - 600 });
    const otherAudience = await signToken(keyA, { issuer: ISSUER, audience: 'another-resource' });
    const otherIssuer = await signToken(keyA, { issuer: 'https://evil.example', audience: AUDIENCE });
    const request = (authorization: string | null) => auth.authenticate({ url: '/api/callEvents', authorization });
    // Act
    const results = await Promise.all([
      request(null),
      request('Basic dXNlcjpwYXNz'),
      request(bearer('not.a.jwt')),
      request(bearer(expired)),
      request(bearer(otherAudience)),
      request(bearer(otherIssuer)),
    ]);
    // Assess
    expect(results.map((r) => (r.ok ? 'ok' : `${r.reason}/${r.status}`))).toEqual([
      'missing_token/401',
      'invalid_token/401',
      'invalid_token/401',
      'expired/401',
      'wrong_audience/401',
      'wrong_issuer/401',
    ]);
  });

  it('refuses a token that claims a century of life or was issued in the future, and accepts ACS lifetimes with a small skew', async () => {
    // Prepare: ACS's callback tokens live 5 minutes; a signed token valid for 100 years is refused all the same.
    jwks.serve(keyA);
    const auth = createCallbackAuthenticator(acs('jwt'));
    const nowSec = Math.floor(Date.now() / 1000);
    const claims = { issuer: ISSUER, audience: AUDIENCE };
    const century = await signToken(keyA, { ...claims, issuedAtSec: nowSec, expiresAtSec: nowSec + 100 * 365 * 86_400 });
    const future = await signToken(keyA, { ...claims, issuedAtSec: nowSec + 600, expiresAtSec: nowSec + 900 });
    const acsLike = await signToken(keyA, { ...claims, issuedAtSec: nowSec - 20, expiresAtSec: nowSec + 280 });
    const skewed = await signToken(keyA, { ...claims, issuedAtSec: nowSec + 10, expiresAtSec: nowSec + 310 });
    const request = (token: string) => auth.authenticate({ url: '/api/callEvents?callId=in-abc', authorization: bearer(token) });

    // Act
    const results = await Promise.all([century, future, acsLike, skewed].map(request));

    // Assess
    expect(results.map((r) => (r.ok ? 'ok' : `${r.reason}/${r.status}`))).toEqual(['invalid_token/401', 'invalid_token/401', 'ok', 'ok']);
    expect(results[0]).toMatchObject({ detail: expect.stringMatching(/lifetime .* exceeds the 900 s allowed/) });
    expect(results[1]).toMatchObject({ detail: 'token issued in the future' });
  });

  it('bounds the lifetime by nbf, or by now when a token carries neither iat nor nbf', () => {
    const nowSec = 1_800_000_000;
    expect(lifetimeProblemOf({ exp: nowSec + 300, nbf: nowSec - 10 }, nowSec, 30, 900)).toBeUndefined();
    expect(lifetimeProblemOf({ exp: nowSec + 3_600, nbf: nowSec }, nowSec, 30, 900)).toMatch(/exceeds/);
    expect(lifetimeProblemOf({ exp: nowSec + 3_600 }, nowSec, 30, 900)).toMatch(/exceeds/);
    expect(lifetimeProblemOf({ exp: nowSec + 3_600 }, nowSec, 30, 7_200)).toBeUndefined();
  });

  it('rejects a token whose signature does not match the key it names', async () => {
    // Prepare: signed with B's private key but claiming A's kid
    jwks.serve(keyA);
    const auth = createCallbackAuthenticator(acs('jwt'));
    const forged = await signToken({ ...keyB, kid: 'key-a' }, { issuer: ISSUER, audience: AUDIENCE });
    // Act
    const result = await auth.authenticate({ url: '/api/callEvents', authorization: bearer(forged) });
    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'invalid_token', status: 401 });
  });

  it('picks up a rotated key: an unknown kid refetches the key set', async () => {
    // Prepare
    jwks.serve(keyA);
    jwks.fetchCount = 0;
    const auth = createCallbackAuthenticator(acs('jwt'), { jwksCooldownMs: 0 });
    const tokenA = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE });
    const tokenB = await signToken(keyB, { issuer: ISSUER, audience: AUDIENCE });
    const first = await auth.authenticate({ url: '/', authorization: bearer(tokenA) });
    jwks.serve(keyB); // ACS rotates: A retired, B published
    // Act
    const afterRotation = await auth.authenticate({ url: '/', authorization: bearer(tokenB) });
    // Assess
    expect(first.ok).toBe(true);
    expect(afterRotation.ok).toBe(true);
    expect(jwks.fetchCount).toBe(2);
  });

  it('caches the key set and rate-limits refetches for unknown kids by the cooldown', async () => {
    // Prepare
    jwks.serve(keyA);
    jwks.fetchCount = 0;
    const auth = createCallbackAuthenticator(acs('jwt'), { jwksCooldownMs: 60_000 });
    const tokenA = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE });
    const unknown = await signToken({ ...keyB, kid: 'never-published' }, { issuer: ISSUER, audience: AUDIENCE });
    // Act
    const ok1 = await auth.authenticate({ url: '/', authorization: bearer(tokenA) });
    const ok2 = await auth.authenticate({ url: '/', authorization: bearer(tokenA) });
    const rejected = await Promise.all(
      Array.from({ length: 5 }, () => auth.authenticate({ url: '/', authorization: bearer(unknown) })),
    );
    // Assess
    expect([ok1.ok, ok2.ok]).toEqual([true, true]);
    expect(rejected.every((r) => !r.ok && r.reason === 'unknown_key')).toBe(true);
    expect(jwks.fetchCount).toBe(1);
  });

  it('answers 503 (retryable) when the key set cannot be fetched', async () => {
    // Prepare: a JWKS URL on a port nothing listens on
    const closed = await JwksServer.start();
    const url = closed.url;
    await closed.close();
    const auth = createCallbackAuthenticator(acs('jwt', { jwksUrl: url }));
    const token = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE });
    // Act
    const result = await auth.authenticate({ url: '/', authorization: bearer(token) });
    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'jwks_unavailable', status: 503 });
  });
});

describe('modes', () => {
  it('jwt+signature requires both', async () => {
    // Prepare
    jwks.serve(keyA);
    const auth = createCallbackAuthenticator(acs('jwt+signature'));
    const token = await signToken(keyA, { issuer: ISSUER, audience: AUDIENCE });
    const url = callbackUrlFor(BASE, 'call-9', SIGNING_KEY);
    // Act
    const both = await auth.authenticate({ url, authorization: bearer(token) });
    const noToken = await auth.authenticate({ url, authorization: undefined });
    const noSignature = await auth.authenticate({ url: `${BASE}/api/callEvents?callId=call-9`, authorization: bearer(token) });
    // Assess
    expect(both).toEqual({ ok: true, callId: 'call-9', subject: 'acs-callback' });
    expect(noToken).toMatchObject({ ok: false, reason: 'missing_token' });
    expect(noSignature).toMatchObject({ ok: false, reason: 'missing_signature' });
  });

  it('signature mode ignores the Authorization header and never fetches keys', async () => {
    // Prepare
    jwks.fetchCount = 0;
    const auth = createCallbackAuthenticator(acs('signature'));
    // Act
    const result = await auth.authenticate({ url: callbackUrlFor(BASE, 'c', SIGNING_KEY), authorization: 'Bearer x.y.z' });
    // Assess
    expect(result).toEqual({ ok: true, callId: 'c' });
    expect(jwks.fetchCount).toBe(0);
  });

  it('refuses configurations that could not authenticate', () => {
    // Act + Assess
    expect(() => createCallbackAuthenticator(acs('signature', { callbackSigningKey: 'short' }))).toThrow(CallbackAuthError);
    expect(() => createCallbackAuthenticator(acs('jwt', { jwtAudience: undefined }))).toThrow(CallbackAuthError);
    expect(() => createCallbackAuthenticator({ ...acs('jwt'), callbackAuth: 'none' as never })).toThrow(CallbackAuthError);
  });
});

describe('events bound to the authenticated call', () => {
  it('flags the first event that carries another call’s identifiers', () => {
    // Prepare
    const known = { correlationId: 'corr-1', callConnectionId: 'conn-1' };
    const events = [
      { data: { callConnectionId: 'conn-1', correlationId: 'corr-1' } },
      { data: { correlationId: 'corr-1' } },
      { data: { callConnectionId: 'conn-2', correlationId: 'corr-1' } },
    ];
    // Act
    const all = checkEventsBelongToCall(events, known);
    const firstTwo = checkEventsBelongToCall(events.slice(0, 2), known);
    // Assess
    expect(all).toEqual({ ok: false, index: 2, field: 'callConnectionId', detail: 'events[2].data.callConnectionId belongs to another call' });
    expect(firstTwo).toEqual({ ok: true });
  });

  it('requires at least one known identifier', () => {
    expect(() => checkEventsBelongToCall([], {})).toThrow(TypeError);
  });
});
