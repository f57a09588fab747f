import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/**
 * The emulator's own RS256 signing key, used the way ACS uses its key: callback requests and media
 * WebSocket connections carry `Authorization: Bearer <JWT>`, verifiable against the JWKS served at
 * `/calling/keys` (OpenID configuration at `/calling/.well-known/acsopenidconfiguration`).
 */

export const CALLBACK_TOKEN_LIFETIME_S = 5 * 60;
export const MEDIA_TOKEN_LIFETIME_S = 24 * 60 * 60;

export interface JwtSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly openIdConfigUrl: string;
}

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export class TokenSigner {
  private constructor(
    private readonly privateKey: PrivateKey,
    readonly publicJwk: JWK,
    readonly settings: JwtSettings,
  ) {}

  static async create(settings: JwtSettings): Promise<TokenSigner> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    return new TokenSigner(privateKey, { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' }, settings);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  openIdConfiguration(): Record<string, unknown> {
    return {
      issuer: this.settings.issuer,
      jwks_uri: this.settings.jwksUrl,
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
    };
  }

  /** A token as ACS puts on callbacks (5 min) or media connections (24 h). */
  sign(lifetimeS: number, claims: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid as string, typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(`${lifetimeS}s`)
      .setJti(randomUUID())
      .sign(this.privateKey);
  }
}
