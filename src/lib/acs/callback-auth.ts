import { AppError } from '../errors.js';
import type { AppConfig } from '../config/index.js';
import { createJwtVerifier, type JwtFailureReason, type JwtVerifier, type JwtVerifierOptions } from './callback-jwt.js';
import { verifyCallbackSignature, type SignatureFailureReason } from './callback-signature.js';

export { callbackUrlFor, verifyCallbackSignature, CALLBACK_PATH, DEFAULT_CALLBACK_URL_TTL_SECONDS } from './callback-signature.js';
export type { CallbackUrlOptions, SignatureCheck } from './callback-signature.js';
export { createJwtVerifier } from './callback-jwt.js';
export type { JwtVerifier, JwtVerifierOptions, JwtCheck } from './callback-jwt.js';
export { checkEventsBelongToCall } from './call-binding.js';
export type { KnownCallIdentifiers, CallBindingCheck } from './call-binding.js';

/**
 * Authentication of ACS Call Automation callbacks (`POST /api/callEvents`), by the mode in
 * `ACS_CALLBACK_AUTH`: `jwt`, `signature`, or `jwt+signature` (both must pass). There is no mode
 * without authentication.
 */

export type CallbackAuthMode = AppConfig['acs']['callbackAuth'];
export type CallbackAuthFailureReason = JwtFailureReason | SignatureFailureReason;

export type CallbackAuthResult =
  | {
      readonly ok: true;
      /** The call id from the signed URL (signature modes only). */
      readonly callId?: string;
      /** The JWT's `sub` (JWT modes only). */
      readonly subject?: string;
    }
  | {
      readonly ok: false;
      readonly reason: CallbackAuthFailureReason;
      /** Safe to log and to put in the audit entry; carries no token or key material. */
      readonly detail: string;
      /** 503 when our side could not check (JWKS unreachable: ACS retries), else 401. */
      readonly status: 401 | 503;
    };

export interface CallbackRequest {
  /** The request URL as received (absolute, or path with query). */
  readonly url: string;
  readonly authorization: string | null | undefined;
}

export interface CallbackAuthenticator {
  readonly mode: CallbackAuthMode;
  /** Never throws for bad input. */
  authenticate(request: CallbackRequest): Promise<CallbackAuthResult>;
}

/** A configuration that cannot authenticate anything; raised at start-up, never per request. */
export class CallbackAuthError extends AppError {
  override readonly name = 'CallbackAuthError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'callback_auth_config', cause: options.cause });
  }
}

const MODES: readonly CallbackAuthMode[] = ['jwt', 'signature', 'jwt+signature'];
const MIN_SIGNING_KEY_LENGTH = 32;

export interface CallbackAuthOptions extends JwtVerifierOptions {
  /** Clock for signature expiry. @default Date.now */
  readonly now?: () => number;
}

/**
 * @example
 * const auth = createCallbackAuthenticator(config.acs);
 * const result = await auth.authenticate({ url: request.url, authorization: request.headers.get('authorization') });
 * if (!result.ok) return { status: result.status, jsonBody: { error: result.reason } };
 */
export function createCallbackAuthenticator(
  acs: Pick<AppConfig['acs'], 'callbackAuth' | 'callbackSigningKey' | 'jwtIssuer' | 'jwtAudience' | 'jwksUrl'> & { readonly jwtMaxLifetimeSeconds?: number },
  options: CallbackAuthOptions = {},
): CallbackAuthenticator {
  const mode = acs.callbackAuth;
  if (!MODES.includes(mode)) throw new CallbackAuthError(`Unknown callback auth mode "${String(mode)}"`);
  const useJwt = mode !== 'signature';
  const useSignature = mode !== 'jwt';

  let signingKey: string | undefined;
  if (useSignature) {
    if (!acs.callbackSigningKey || acs.callbackSigningKey.length < MIN_SIGNING_KEY_LENGTH) {
      throw new CallbackAuthError(`ACS_CALLBACK_SIGNING_KEY must have at least ${MIN_SIGNING_KEY_LENGTH} characters when ACS_CALLBACK_AUTH=${mode}`);
    }
    signingKey = acs.callbackSigningKey;
  }
  let jwt: JwtVerifier | undefined;
  if (useJwt) {
    if (!acs.jwtAudience) throw new CallbackAuthError(`ACS_JWT_AUDIENCE is required when ACS_CALLBACK_AUTH=${mode}`);
    try {
      jwt = createJwtVerifier(
        { jwksUrl: acs.jwksUrl, issuer: acs.jwtIssuer, audience: acs.jwtAudience },
        { ...(acs.jwtMaxLifetimeSeconds === undefined ? {} : { maxLifetimeSec: acs.jwtMaxLifetimeSeconds }), ...options },
      );
    } catch (cause) {
      throw new CallbackAuthError('Invalid JWKS settings', { cause });
    }
  }
  const now = options.now ?? Date.now;

  return {
    mode,
    async authenticate(request) {
      let callId: string | undefined;
      let subject: string | undefined;
      // The signature is checked first: it is local and cheap, and a forged URL never costs a JWKS fetch.
      if (signingKey !== undefined) {
        const check = verifyCallbackSignature(request.url, signingKey, now());
        if (!check.ok) return { ok: false, reason: check.reason, detail: check.detail, status: 401 };
        callId = check.callId;
      }
      if (jwt) {
        const check = await jwt.verify(request.authorization);
        if (!check.ok) {
          return { ok: false, reason: check.reason, detail: check.detail, status: check.reason === 'jwks_unavailable' ? 503 : 401 };
        }
        subject = check.subject;
      }
      return { ok: true, ...(callId === undefined ? {} : { callId }), ...(subject === undefined ? {} : { subject }) };
    },
  };
}
