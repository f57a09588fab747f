import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';

/** A signing key as ACS holds it: private key for tokens, public JWK for the key set. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

export interface TokenClaims {
  readonly issuer: string;
  readonly audience: string;
  readonly subject?: string;
  /** Seconds since the epoch. */
  readonly issuedAtSec?: number;
  readonly expiresAtSec?: number;
}

export function signToken(key: SigningKey, claims: TokenClaims): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer(claims.issuer)
    .setAudience(claims.audience)
    .setSubject(claims.subject ?? 'acs-callback')
    .setIssuedAt(claims.issuedAtSec ?? nowSec)
    .setExpirationTime(claims.expiresAtSec ?? nowSec + 300)
    .sign(key.privateKey);
}

/** A real HTTP server on a free port serving a JWKS that tests can rotate; counts fetches. */
export class JwksServer {
  fetchCount = 0;
  private keys: JWK[] = [];
  private readonly server: Server;
  url = '';

  private constructor() {
    this.server = createServer((req, res) => {
      if (req.url !== '/calling/keys') {
        res.writeHead(404).end();
        return;
      }
      this.fetchCount += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
    });
  }

  static async start(): Promise<JwksServer> {
    const jwks = new JwksServer();
    await new Promise<void>((resolve) => jwks.server.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.server.address() as AddressInfo;
    jwks.url = `http://127.0.0.1:${port}/calling/keys`;
    return jwks;
  }

  serve(...keys: SigningKey[]): void {
    this.keys = keys.map((k) => k.publicJwk);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
