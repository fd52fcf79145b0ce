// Keyhaven's access tokens as a service (API.md `POST /v1/auth/token`, `GET /.well-known/jwks.json`):
// issued to a caller that authenticated with an API key, signed by the system key for access tokens
// (SystemKeys: in the HSM when there is one), and verified against the public keys of every version
// of that key. The token formats and checks are access-tokens.ts's.
import { createPublicKey, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { KmsError } from '../domain/errors.js';
import type { RequestContext } from '../domain/request-context.js';
import type { AccessTokensConfig } from '../config.js';
import type { Clock } from '../ports/clock.js';
import {
  accessTokenJwks,
  accessTokenTtl,
  issueAccessToken,
  verifyAccessToken,
  type AccessTokenLifetimes,
  type JwksDocument,
  type TokenSigner,
  type VerifiedAccessToken,
} from './access-tokens.js';
import type { AccessControl } from './access-control.js';
import type { SystemKeys, SystemSigningKey } from './system-keys.js';

export interface IssuedAccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds from now. */
  expiresIn: number;
}

/** The kid of a version of the access-token key: the JWKS names each version apart. */
const kidOf = (keyId: string, version: number) => `${keyId}:${version}`;

const jwkOfSpki = (spki: Buffer) =>
  createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK;

function tokenSigner(key: SystemSigningKey): TokenSigner {
  return {
    kid: kidOf(key.keyId, key.version),
    alg: 'ES256',
    publicJwk: jwkOfSpki(key.publicKeySpki),
    // ECDSA_SHA_256 over the signing input, DER: what issueAccessToken expects.
    sign: (signingInput) => key.sign(signingInput),
  };
}

export class AccessTokenService {
  private signer?: Promise<TokenSigner>;
  private published?: Promise<JwksDocument>;
  private readonly lifetimes: AccessTokenLifetimes;

  constructor(
    private readonly systemKeys: SystemKeys,
    private readonly access: AccessControl,
    private readonly settings: AccessTokensConfig,
    private readonly clock: Clock,
  ) {
    this.lifetimes = {
      defaultTtlSeconds: settings.defaultTtlSeconds,
      maxTtlSeconds: settings.maxTtlSeconds,
    };
  }

  /** The `iss` of every token this server issues: how authentication tells its tokens apart. */
  get issuer(): string {
    return this.settings.issuer;
  }

  /**
   * A token for the caller itself, with its tenant and roles at this moment. Only an API key trades
   * for a token: a token minting tokens would outlive every revocation of the key it came from.
   */
  async createAccessToken(ctx: RequestContext, input: { ttlSeconds?: number }): Promise<IssuedAccessToken> {
    if (ctx.credential !== 'api-key')
      throw new KmsError(
        'AccessDenied',
        'access tokens are issued only to callers authenticated by an API key',
      );
    await this.access.authorize(ctx, { actions: ['CreateAccessToken'] });
    const ttlSeconds = accessTokenTtl(input.ttlSeconds, this.lifetimes);
    const accessToken = await issueAccessToken(
      await this.currentSigner(),
      {
        issuer: this.settings.issuer,
        subject: ctx.principal.id,
        tenant: ctx.principal.tenant,
        roles: ctx.principal.roles,
        ttlSeconds,
        now: this.clock.now(),
        jti: randomUUID(),
      },
      this.lifetimes,
    );
    return { accessToken, tokenType: 'Bearer', expiresIn: ttlSeconds };
  }

  /**
   * The JWKS of every version of the access-token key, made once: versions are immutable and the key
   * is not rotated while the server runs. The key is made first if it does not exist yet, so the
   * document always holds the key tokens are signed with.
   */
  jwks(): Promise<JwksDocument> {
    if (!this.published) {
      const loading = this.loadJwks();
      // A failure (the key store away) is not remembered: the next call tries again.
      loading.catch(() => {
        if (this.published === loading) this.published = undefined;
      });
      this.published = loading;
    }
    return this.published;
  }

  /** Another process made an access-token key: the JWKS and the signer are loaded again. */
  drop(): void {
    this.signer = undefined;
    this.published = undefined;
  }

  /** Verifies a token of this server (an Unauthenticated KmsError naming the kind of failure). */
  async verify(token: string): Promise<VerifiedAccessToken> {
    return verifyAccessToken(token, await this.jwks(), {
      issuer: this.settings.issuer,
      now: this.clock.now(),
      clockToleranceSeconds: this.settings.clockToleranceSeconds,
    });
  }

  private currentSigner(): Promise<TokenSigner> {
    if (!this.signer) {
      const loading = this.systemKeys.signingKey('access-token').then(tokenSigner);
      loading.catch(() => {
        if (this.signer === loading) this.signer = undefined;
      });
      this.signer = loading;
    }
    return this.signer;
  }

  private async loadJwks(): Promise<JwksDocument> {
    await this.currentSigner();
    // Only versions the key store proves it holds: a key added to the database signs no token.
    const versions = await this.systemKeys.publicKeys('access-token');
    return accessTokenJwks(
      versions.map((version) => ({
        kid: kidOf(version.keyId, version.version),
        publicJwk: jwkOfSpki(version.spki),
      })),
    );
  }
}
