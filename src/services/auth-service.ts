// Authentication: turns a presented credential into the principal it belongs to and the kind of
// credential it was. A bearer token is a JWT when it has a JWT's shape and names, unverified, an
// issuer we know: this server's (an access token, whose principal is then loaded by `sub`) or a
// configured OpenID Connect issuer (whose verified claims make the principal); any other bearer
// token is an API key. API keys are stored as SHA-256 hashes of high-entropy secrets: the token is
// hashed and looked up, and the stored hash is compared in constant time. Without an Authorization
// header, a verified client certificate names a principal when auth.clientCertificates says how.
// A revocation, deletion or role change in this process takes effect at once: the recently-verified
// caches are dropped.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { OidcIdentity, OidcVerifier } from '../adapters/identity/oidc-verifier.js';
import type { ClientCertificatesConfig } from '../config.js';
import { certificateIdentity, type ClientCertificate } from '../domain/client-certificate.js';
import { KmsError } from '../domain/errors.js';
import { SYSTEM_KEYS_TENANT, toPrincipal, type PrincipalRecord } from '../domain/identity.js';
import { DEFAULT_TENANT, type CredentialKind, type Principal } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore } from '../ports/identity-store.js';
import type { VerifiedAccessToken } from './access-tokens.js';
import type { AnnounceChange } from './cache-invalidation.js';

export type { Principal } from '../domain/request-context.js';

export const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** A new API key secret: the prefix says what it is (secret scanners look for such prefixes). */
export const newApiKeySecret = () => `khk_${randomBytes(32).toString('base64url')}`;

/** Who the caller is and how it proved it (the request context's principal and credential). */
export interface Authenticated {
  readonly principal: Principal;
  readonly credential: CredentialKind;
}

/** What a request presented: its Authorization header, and the client certificate TLS verified. */
export interface PresentedCredentials {
  authorization?: string;
  clientCertificate?: ClientCertificate;
}

/** Verifies this server's own access tokens (AccessTokenService). */
export interface AccessTokenVerifier {
  readonly issuer: string;
  verify(token: string): Promise<VerifiedAccessToken>;
}

export interface AuthServiceOptions {
  /** This server's access tokens; without it, no JWT of its issuer is accepted. */
  accessTokens?: AccessTokenVerifier;
  /** External OpenID Connect issuers (auth.oidc.issuers). */
  oidc?: Pick<OidcVerifier, 'canVerify' | 'verify'>;
  /** Mutual TLS as a credential (auth.clientCertificates); without it a certificate names nobody. */
  clientCertificates?: ClientCertificatesConfig;
  /** How long a verified credential is recognised without checking it again. */
  cacheTtlMs?: number;
  /** Tells the other processes sharing the database to forget their credentials too. */
  announce?: AnnounceChange;
}

// The scheme is case-insensitive (RFC 9110 11.1); the token is not. JWTs may be longer than API keys.
const BEARER = /^bearer ([\x21-\x7e]{16,16384})$/i;
const MAX_API_KEY_LENGTH = 4096;
/** Three base64url segments: the compact JWS shape. API keys (khk_...) hold no dot. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Recently verified credentials kept at most; past it the cache starts again empty. */
const MAX_CACHED = 1000;

const unauthenticated = (reason = 'a valid bearer token is required') =>
  new KmsError('Unauthenticated', reason);

/** The `iss` a token claims, before anything is verified; undefined unless it has a JWT's shape. */
function unverifiedIssuer(token: string): string | undefined {
  if (!JWT_SHAPE.test(token)) return undefined;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' && iss !== '' ? iss : undefined;
  } catch {
    return undefined;
  }
}

interface Verified {
  authenticated: Authenticated;
  /** When the credential itself stops being valid (ms since the epoch); Infinity if never. */
  expiresAt: number;
}

interface CacheEntry {
  authenticated: Authenticated;
  until: number;
}

export class AuthService {
  /** By the raw Authorization header: API keys, access tokens and OpenID Connect tokens. */
  private readonly recent = new Map<string, CacheEntry>();
  /** By certificate fingerprint: kept apart, so that no header can ever name a certificate's entry. */
  private readonly recentCertificates = new Map<string, CacheEntry>();
  private readonly cacheTtlMs: number;
  /** Counts forgetCredentials() calls: a verification that began before one is not cached. */
  private generation = 0;
  private readonly forgetters: (() => void)[] = [];

  constructor(
    private readonly identity: IdentityStore,
    private readonly clock: Clock,
    private readonly options: AuthServiceOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
  }

  /**
   * Creates the bootstrap admin (a principal of the default tenant with the admin role, which makes
   * it an administrator of every tenant) and its API key on first start; returns the secret only
   * when newly generated.
   */
  async bootstrapAdmin(
    presetSecret: string | undefined,
  ): Promise<{ created: boolean; principalId?: string; secret?: string }> {
    if ((await this.identity.countPrincipals()) > 0) return { created: false };
    const now = this.clock.now();
    const admin: PrincipalRecord = {
      principalId: randomUUID(),
      name: 'admin',
      type: 'user',
      tenantId: DEFAULT_TENANT,
      roles: ['admin'],
      attributes: {},
      policyIds: [],
      createdAt: now,
      updatedAt: now,
    };
    await this.identity.createPrincipal(admin);
    const secret = presetSecret ?? newApiKeySecret();
    await this.identity.createApiKey({
      apiKeyId: randomUUID(),
      principalId: admin.principalId,
      secretHash: hashSecret(secret),
      createdAt: now,
      expiresAt: null,
      revokedAt: null,
    });
    return {
      created: true,
      principalId: admin.principalId,
      ...(presetSecret ? {} : { secret }),
    };
  }

  /**
   * A header verified in the last few seconds is recognised without hashing or verifying (a
   * measurable share of a cached encrypt): the raw header stays in this process's memory for at most
   * cacheTtlMs, which the request objects holding it already do. Only verified headers are cached,
   * never beyond the credential's own expiry (an API key's expiresAt, a JWT's exp).
   */
  authenticateCached(authorization: string | undefined): Authenticated | undefined {
    if (authorization === undefined) return undefined;
    const cached = this.recent.get(authorization);
    return cached && cached.until > this.clock.now().getTime() ? cached.authenticated : undefined;
  }

  /**
   * The caller, from its Authorization header when it sent one (then a certificate changes nothing:
   * the header is what the caller chose to act as), else from its verified client certificate.
   */
  async authenticate(presented: PresentedCredentials): Promise<Authenticated> {
    const { authorization, clientCertificate } = presented;
    if (authorization === undefined) {
      if (clientCertificate && this.options.clientCertificates)
        return this.authenticateCertificate(clientCertificate, this.options.clientCertificates);
      throw unauthenticated();
    }
    const cached = this.authenticateCached(authorization);
    if (cached) return cached;
    const match = BEARER.exec(authorization);
    if (!match) throw unauthenticated();
    const token = match[1]!;
    const generation = this.generation;
    const issuer = unverifiedIssuer(token);
    const { accessTokens, oidc } = this.options;
    let verified: Verified;
    if (issuer !== undefined && accessTokens && issuer === accessTokens.issuer) {
      verified = await this.authenticateAccessToken(token, accessTokens);
    } else if (issuer !== undefined && oidc?.canVerify(token)) {
      verified = await this.authenticateOidcToken(token, oidc);
    } else {
      verified = await this.authenticateApiKey(token);
    }
    // A principal deleted while this verification ran must not be remembered as existing.
    if (generation === this.generation) this.remember(this.recent, authorization, verified);
    return verified.authenticated;
  }

  private async authenticateApiKey(secret: string): Promise<Verified> {
    if (secret.length > MAX_API_KEY_LENGTH) throw unauthenticated();
    const hash = hashSecret(secret);
    const apiKey = await this.identity.findApiKeyByHash(hash);
    if (!apiKey || !timingSafeEqual(apiKey.secretHash, hash)) throw unauthenticated();
    const now = this.clock.now();
    if (apiKey.revokedAt !== null || (apiKey.expiresAt !== null && apiKey.expiresAt <= now)) {
      throw unauthenticated();
    }
    const record = await this.identity.getPrincipal(apiKey.principalId);
    if (!record) throw unauthenticated();
    return {
      authenticated: { principal: toPrincipal(record), credential: 'api-key' },
      expiresAt: apiKey.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY,
    };
  }

  /**
   * The token's principal as it is now, not as the token describes it: a deleted principal's token
   * stops working at once, and roles changed since it was issued apply.
   */
  private async authenticateAccessToken(token: string, verifier: AccessTokenVerifier): Promise<Verified> {
    const claims = await verifier.verify(token);
    const record = await this.identity.getPrincipal(claims.subject);
    if (!record || record.tenantId !== claims.tenant)
      throw unauthenticated('the principal of the access token does not exist');
    return {
      authenticated: { principal: toPrincipal(record), credential: 'jwt' },
      expiresAt: claims.expiresAt.getTime(),
    };
  }

  /** A principal made of the issuer's verified claims; it exists only as long as its tokens. */
  private async authenticateOidcToken(
    token: string,
    verifier: Pick<OidcVerifier, 'verify'>,
  ): Promise<Verified> {
    const identity = await verifier.verify(token, this.clock.now());
    if (identity.tenant === SYSTEM_KEYS_TENANT || !(await this.identity.getTenant(identity.tenant)))
      throw unauthenticated('the token names a tenant that does not exist');
    // verify() required and checked exp; the payload decoded here is the one it verified.
    const { exp } = decodeJwt(token);
    return {
      authenticated: { principal: oidcPrincipal(identity), credential: 'oidc' },
      expiresAt: typeof exp === 'number' ? exp * 1000 : this.clock.now().getTime(),
    };
  }

  private async authenticateCertificate(
    certificate: ClientCertificate,
    settings: ClientCertificatesConfig,
  ): Promise<Authenticated> {
    const cached = this.recentCertificates.get(certificate.fingerprint256);
    if (cached && cached.until > this.clock.now().getTime()) return cached.authenticated;
    const generation = this.generation;
    const name = certificateIdentity(certificate, settings.identity);
    if (name === undefined)
      throw unauthenticated(`the client certificate has no single ${settings.identity} to name a principal`);
    const record = await this.identity.findPrincipalByName(settings.tenant, name);
    if (!record) throw unauthenticated('the client certificate names no principal');
    const verified: Verified = {
      authenticated: { principal: toPrincipal(record), credential: 'client-certificate' },
      // TLS checked the validity period at the handshake; an unreadable date is not cached at all.
      expiresAt: Number.isNaN(certificate.validTo.getTime()) ? 0 : certificate.validTo.getTime(),
    };
    if (generation === this.generation)
      this.remember(this.recentCertificates, certificate.fingerprint256, verified);
    return verified.authenticated;
  }

  private remember(cache: Map<string, CacheEntry>, key: string, verified: Verified): void {
    const until = Math.min(this.clock.now().getTime() + this.cacheTtlMs, verified.expiresAt);
    if (cache.size > MAX_CACHED) cache.clear();
    cache.set(key, { authenticated: verified.authenticated, until });
  }

  /**
   * Drops every recently verified credential: after a revocation, a deleted principal or changed
   * roles, the next request of anyone is checked against the store again.
   */
  forgetCredentials(): void {
    this.dropCredentials();
    this.options.announce?.({ kind: 'credentials' });
  }

  /** Another process changed credentials: forgotten here (and in `alsoForget`'s), not announced. */
  dropCredentials(): void {
    this.generation++;
    this.recent.clear();
    this.recentCertificates.clear();
    for (const forget of this.forgetters) forget();
  }

  /** Another cache of verified credentials to drop with these (the SigV4 signing keys). */
  alsoForget(forget: () => void): void {
    this.forgetters.push(forget);
  }
}

/**
 * The principal an OpenID Connect token stands for: named by issuer and subject, so that no two
 * issuers' subjects meet, and `principal:oidc:<issuer>#<subject>` in a policy names it.
 */
function oidcPrincipal(identity: OidcIdentity): Principal {
  return Object.freeze({
    id: `oidc:${identity.issuer}#${identity.subject}`,
    name: identity.principalName,
    tenant: identity.tenant,
    roles: Object.freeze([...identity.roles]),
    attributes: Object.freeze({ ...identity.attributes }),
    policyIds: Object.freeze([]),
  });
}
