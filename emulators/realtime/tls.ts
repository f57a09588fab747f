/**
 * A throwaway self-signed certificate for 127.0.0.1/localhost. The `openai` client always opens
 * `wss://` for Azure, so the emulator must speak TLS; clients trust it by passing `ca: emulator.ca`.
 */

import { generate } from 'selfsigned';

export type TlsMaterial = { readonly key: string; readonly cert: string };

export async function selfSignedCertificate(): Promise<TlsMaterial> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * A `fetch` that trusts the emulator's certificate, for HTTP clients of the emulator (the `openai`
 * client's text-to-speech). undici's own fetch and Agent, so the dispatcher and fetch always match.
 */
export async function fetchTrusting(ca: string): Promise<typeof fetch> {
  const { Agent, fetch: undiciFetch } = await import('undici');
  const dispatcher = new Agent({ connect: { ca } });
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof fetch;
}
