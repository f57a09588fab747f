import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The insurance scenario's claims system, offline: `GET /claims/{claimNumber}` answers JSON for the
 * claims it knows, 404 for others, and 503 for claim 999999 (the system being down), so the demo and
 * the scripted conversations exercise the HTTP tool's success and failure paths over a real socket.
 */

const CLAIMS: Readonly<Record<string, { status: string; detail: string }>> = {
  '100234': { status: 'approved', detail: 'The payment of 1,250 dollars goes out within three working days.' },
  '100777': { status: 'under review', detail: 'An adjuster will call you by Friday.' },
};

export interface ClaimsApi {
  readonly url: string;
  /** Requests received, as `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startClaimsApi(): Promise<ClaimsApi> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const match = /^\/claims\/([A-Za-z0-9-]+)$/.exec(req.url ?? '');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || !match) return send(404, { error: 'not_found' });
    const claimNumber = match[1]!;
    if (claimNumber === '999999') return send(503, { error: 'unavailable' });
    const claim = CLAIMS[claimNumber];
    if (!claim) return send(200, { claimNumber, status: 'not on file', detail: 'Please check the number on your claim letter.' });
    return send(200, { claimNumber, ...claim });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
