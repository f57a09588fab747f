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
