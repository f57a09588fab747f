/**
 * Token checks the service performs: HS256 JWTs signed with the AccessKey string as UTF-8 bytes
 * (not base64-decoded), an audience naming this endpoint, and an expiry. Client tokens carry
 * roles and initial groups; reconnection tokens are opaque random strings bound to a connection.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { TokenRejectedError } from './errors.js';

const CLOCK_TOLERANCE_S = 5;

export class TokenVerifier {
  private readonly secret: Uint8Array;

  constructor(accessKey: string) {
    this.secret = new TextEncoder().encode(accessKey);
  }

  /**
   * Verifies signature and expiry, then the audience against the URLs this request may have
   * been addressed to. Audiences match case-insensitively, with or without their query string
   * and with ws/wss treated as http/https.
   */
  async verify(token: string, acceptedAudiences: readonly string[]): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S }));
    } catch (cause) {
      const reason = (cause as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'The token has expired.' : 'The token signature is invalid or the token is malformed.';
      throw new TokenRejectedError(reason, { cause });
    }
    const audiences = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    const accepted = new Set(acceptedAudiences.map(normaliseAudience));
    if (!audiences.some((aud) => accepted.has(normaliseAudience(aud)))) {
      throw new TokenRejectedError('The token audience does not match this endpoint.');
    }
    return payload;
  }

  /** Signs a client token the way `getClientAccessToken` does (used by REST `:generateToken`). */
  async signClientToken(audience: string, claims: { userId?: string; roles?: string[]; groups?: string[]; expiresInMinutes: number }): Promise<string> {
    const body: Record<string, unknown> = {};
    if (claims.roles && claims.roles.length > 0) body.role = claims.roles;
    if (claims.groups && claims.groups.length > 0) body['webpubsub.group'] = claims.groups;
    const jwt = new SignJWT(body).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setAudience(audience).setExpirationTime(`${claims.expiresInMinutes}m`);
    if (claims.userId) jwt.setSubject(claims.userId);
    return jwt.sign(this.secret);
  }
}

function normaliseAudience(url: string): string {
  const noQuery = url.split('?')[0] ?? '';
  return noQuery
    .toLowerCase()
    .replace(/^ws(s?):\/\//, 'http$1://')
    .replace(/\/+$/, '');
}

/** Reads a string-or-array claim (`role`, `webpubsub.group`) as a list. */
export function claimList(payload: JWTPayload, name: string): string[] {
  const value = payload[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * Which token the service validates when a client presents both `?access_token=` and
 * `Authorization: Bearer`. Learn ("WebSocket client protocols for Azure Web PubSub", Authorization)
 * says the token can be in either, and not which wins when both are there — as with ACS media
 * streaming, which connects with its own JWT in `Authorization` to a URL carrying our token. So it is
 * an emulator option, and `npm run verify:azure` reports what the live service does.
 */
export type TokenPrecedence = 'query' | 'header';

/** The token from `?access_token=` or `Authorization: Bearer`, the `precedence` one first. */
export function extractToken(query: URLSearchParams, authorization: string | undefined, precedence: TokenPrecedence = 'query'): string | undefined {
  const fromQuery = query.get('access_token') || undefined;
  const fromHeader = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() || undefined;
  return precedence === 'query' ? (fromQuery ?? fromHeader) : (fromHeader ?? fromQuery);
}

export function newReconnectionToken(): string {
  return randomBytes(24).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
