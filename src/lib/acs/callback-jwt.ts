import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

/**
 * Verification of the RS256 JWT that ACS puts in `Authorization: Bearer …` on every mid-call callback
 * (tokens live 5 minutes; one per event: Learn, "How to secure webhook endpoints", Call Automation).
 * A token that claims to live much longer than that, or was issued in the future, is refused even
 * with a valid signature: a leaked long-lived token must not open the callback for a century. Keys come from the JWKS URL and are cached; a token signed
 * with an unknown `kid` makes jose refetch the set, at most once per cooldown, which is how key
 * rotation is picked up without letting forged `kid`s hammer the key endpoint.
 */

export interface JwtVerifierSettings {
  readonly jwksUrl: string;
  readonly issuer: string;
  readonly audience: string;
}

export interface JwtVerifierOptions {
  /** Accepted clock skew between ACS and us. @default 30 */
  readonly clockToleranceSec?: number;
  /**
   * Longest lifetime a token may claim: `exp` − `iat` (or `nbf`), or `exp` − now without either.
   * ACS's callback tokens live 5 minutes. @default 900
   */
  readonly maxLifetimeSec?: number;
  /** Minimum time between two refetches caused by unknown `kid`s. @default 30000 */
  readonly jwksCooldownMs?: number;
  /** Keys are refetched when older than this even without an unknown `kid`. @default 3600000 */
  readonly jwksCacheMaxAgeMs?: number;
  /** A JWKS request that takes longer fails (the callback gets 503 and ACS retries). @default 3000 */
  readonly jwksTimeoutMs?: number;
}

export type JwtFailureReason =
  | 'missing_token'
  | 'invalid_token'
  | 'expired'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'unknown_key'
  | 'jwks_unavailable';

export type JwtCheck =
  | { readonly ok: true; readonly subject: string | undefined; readonly payload: JWTPayload }
  | { readonly ok: false; readonly reason: JwtFailureReason; readonly detail: string };

export interface JwtVerifier {
  verify(authorizationHeader: string | null | undefined): Promise<JwtCheck>;
}

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i;

export function createJwtVerifier(settings: JwtVerifierSettings, options: JwtVerifierOptions = {}): JwtVerifier {
  const jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 60 * 60_000,
    timeoutDuration: options.jwksTimeoutMs ?? 3_000,
  });
  const clockTolerance = options.clockToleranceSec ?? 30;
  const maxLifetime = options.maxLifetimeSec ?? 900;

  return {
    async verify(header) {
      if (!header) return { ok: false, reason: 'missing_token', detail: 'no Authorization header' };
      const token = BEARER.exec(header)?.[1];
      if (!token) return { ok: false, reason: 'invalid_token', detail: 'Authorization is not a Bearer JWT' };
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: ['RS256'],
          clockTolerance,
          requiredClaims: ['exp'],
        });
        const lifetimeProblem = lifetimeProblemOf(payload, Math.floor(Date.now() / 1000), clockTolerance, maxLifetime);
        if (lifetimeProblem) return { ok: false, reason: 'invalid_token', detail: lifetimeProblem };
        return { ok: true, subject: payload.sub, payload };
      } catch (error) {
        return { ok: false, ...classify(error) };
      }
    },
  };
}

/** jose has checked `exp` and `nbf`; this bounds the lifetime and refuses an `iat` in the future. */
export function lifetimeProblemOf(payload: JWTPayload, nowSec: number, toleranceSec: number, maxLifetimeSec: number): string | undefined {
  const { exp, iat, nbf } = payload;
  if (typeof exp !== 'number') return 'token has no expiry';
  if (iat !== undefined && (typeof iat !== 'number' || iat > nowSec + toleranceSec)) return 'token issued in the future';
  const start = typeof iat === 'number' ? iat : typeof nbf === 'number' ? nbf : nowSec;
  const lifetime = exp - start;
  if (lifetime > maxLifetimeSec + toleranceSec) return `token lifetime ${lifetime} s exceeds the ${maxLifetimeSec} s allowed`;
  return undefined;
}

function classify(error: unknown): { reason: JwtFailureReason; detail: string } {
  if (error instanceof errors.JWTExpired) return { reason: 'expired', detail: 'token expired' };
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return { reason: 'wrong_issuer', detail: 'unexpected issuer' };
    if (error.claim === 'aud') return { reason: 'wrong_audience', detail: 'unexpected audience' };
    return { reason: 'invalid_token', detail: `claim ${error.claim} ${error.reason}` };
  }
  if (error instanceof errors.JWKSNoMatchingKey) return { reason: 'unknown_key', detail: 'no key in the JWKS matches the token' };
  if (error instanceof errors.JWKSTimeout) return { reason: 'jwks_unavailable', detail: 'JWKS request timed out' };
  if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid) {
    return { reason: 'jwks_unavailable', detail: 'JWKS response is not a usable key set' };
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return { reason: 'invalid_token', detail: (error as Error).message };
  }
  // Anything else came from fetching the key set (connection refused, non-200, bad JSON): our problem,
  // not the caller's, so the handler answers 503 and ACS retries.
  const message = error instanceof Error ? error.message : String(error);
  return { reason: 'jwks_unavailable', detail: `JWKS fetch failed: ${message}` };
}
