import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash, signatureFor, verifyHmac, type SignedRequest } from '../../emulators/acs/hmac.js';
import { startAcsEmulator } from '../../emulators/acs/index.js';

/**
 * The refusal paths of the HMAC check. The SDK always signs, so a request with missing headers
 * can only be produced by hand: these tests build requests the way
 * `communicationAccessKeyCredentialPolicy` does and then break one part at a time.
 */

const KEY = Buffer.from('emulator-test-key-0123456789abcdef').toString('base64');

function signed(overrides: Partial<SignedRequest> & { date?: string; key?: string } = {}): SignedRequest {
  const body = overrides.body ?? Buffer.from('{"a":1}');
  const date = overrides.date ?? new Date().toUTCString();
  const url = overrides.url ?? '/calling/callConnections/abc:play?api-version=2026-03-12';
  const host = '127.0.0.1:4321';
  const hash = contentHash(body);
  const signature = signatureFor(overrides.key ?? KEY, `POST\n${url}\n${date};${host};${hash}`);
  return {
    method: 'POST',
    url,
    body,
    headers: {
      host,
      'x-ms-date': date,
      'x-ms-content-sha256': hash,
      authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
      ...overrides.headers,
    },
  };
}

describe('ACS emulator: HMAC verification', () => {
  it('accepts a request signed the way the SDK signs it', () => {
    expect(verifyHmac(signed(), KEY)).toEqual({ ok: true });
  });

  it('uses the SHA-256 of an empty body the SDK sends for GET and DELETE', () => {
    expect(contentHash(Buffer.alloc(0))).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(contentHash(Buffer.alloc(0))).toBe(createHash('sha256').digest('base64'));
  });

  it.each([
    ['authorization', /Authorization header is missing/],
    ['x-ms-date', /x-ms-date header is missing/],
    ['x-ms-content-sha256', /x-ms-content-sha256 header is missing/],
  ])('refuses a request without %s', (name, reason) => {
    const request = signed();
    const headers = { ...request.headers };
    delete headers[name];
    expect(verifyHmac({ ...request, headers }, KEY)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it('refuses a signature made with another key, a changed body, another path and a stale date', () => {
    const other = Buffer.from('another-key').toString('base64');
    expect(verifyHmac(signed({ key: other }), KEY)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    expect(verifyHmac({ ...signed(), body: Buffer.from('{"a":2}') }, KEY)).toMatchObject({ ok: false, reason: expect.stringMatching(/content hash/) });
    expect(verifyHmac({ ...signed(), url: '/calling/callConnections/xyz:play?api-version=2026-03-12' }, KEY)).toMatchObject({ ok: false });
    expect(verifyHmac(signed({ date: new Date(Date.now() - 3_600_000).toUTCString() }), KEY)).toMatchObject({ ok: false, reason: expect.stringMatching(/x-ms-date/) });
  });

  it('answers an unsigned HTTP request with 401 and an ACS error body', async () => {
    // Prepare: no SDK sends an unsigned request, so this one is made by hand.
    const acs = await startAcsEmulator();
    try {
      // Act
      const response = await fetch(`${acs.endpoint}calling/callConnections/abc?api-version=2026-03-12`, { headers: { connection: 'close' } });

      // Assess
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'Unauthorized', message: 'The Authorization header is missing.' } });
    } finally {
      await acs.close();
    }
  });
});
