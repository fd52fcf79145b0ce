// Authentication: turns a presented credential into the principal it belongs to. API keys are
// stored as SHA-256 hashes of high-entropy secrets; a presented bearer token is hashed and looked
// up, and the stored hash is compared in constant time. Expired and revoked keys are refused; a
// revocation in this process takes effect at once (the recently-verified cache is dropped).
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { KmsError } from '../domain/errors.js';
import { toPrincipal, type PrincipalRecord } from '../domain/identity.js';
import { DEFAULT_TENANT, type Principal } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore } from '../ports/identity-store.js';

export type { Principal } from '../domain/request-context.js';

export const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** A new API key secret: the prefix says what it is (secret scanners look for such prefixes). */
export const newApiKeySecret = () => `khk_${randomBytes(32).toString('base64url')}`;

const unauthenticated = () => new KmsError('Unauthenticated', 'a valid bearer token is required');

export class AuthService {
  private readonly recent = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly identity: IdentityStore,
    private readonly clock: Clock,
    private readonly cacheTtlMs = 5000,
  ) {}

  /**
   * Creates the bootstrap admin (a principal of the default tenant with the admin role, which makes
   * it an administrator of every tenant) and its API key on first start; returns the secret only
   * when newly generated.
   */
  async bootstrapAdmin(presetSecret: string | undefined): Promise<{ created: boolean; secret?: string }> {
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
    return { created: true, secret: presetSecret ? undefined : secret };
  }

  /**
   * A header verified in the last few seconds is recognised without hashing (a measurable share of
   * a cached encrypt): the raw header stays in this process's memory for at most cacheTtlMs, which
   * the request objects holding it already do. Only verified headers are cached, never beyond the
   * credential's own expiry.
   */
  authenticateCached(authorization: string | undefined): Principal | undefined {
    if (authorization === undefined) return undefined;
    const cached = this.recent.get(authorization);
    return cached && cached.until > this.clock.now().getTime() ? cached.principal : undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const cached = this.authenticateCached(authorization);
    if (cached) return cached;
    // The scheme is case-insensitive (RFC 9110 11.1); the token is not.
    const match = /^bearer ([\x21-\x7e]{16,4096})$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated();
    const hash = hashSecret(match[1]!);
    const apiKey = await this.identity.findApiKeyByHash(hash);
    if (!apiKey || !timingSafeEqual(apiKey.secretHash, hash)) throw unauthenticated();
    const now = this.clock.now();
    if (apiKey.revokedAt !== null || (apiKey.expiresAt !== null && apiKey.expiresAt <= now)) {
      throw unauthenticated();
    }
    const record = await this.identity.getPrincipal(apiKey.principalId);
    if (!record) throw unauthenticated();
    const principal = toPrincipal(record);
    const until = Math.min(
      now.getTime() + this.cacheTtlMs,
      apiKey.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY,
    );
    if (this.recent.size > 1000) this.recent.clear();
    this.recent.set(authorization!, { principal, until });
    return principal;
  }

  /**
   * Drops every recently verified credential: after a revocation, a deleted principal or changed
   * roles, the next request of anyone is checked against the store again.
   */
  forgetCredentials(): void {
    this.recent.clear();
  }
}
