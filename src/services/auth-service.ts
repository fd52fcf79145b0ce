// Authentication of API keys: only a SHA-256 hash of each secret is stored; a presented bearer token
// is hashed and looked up, and the stored hash is compared in constant time.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { KmsError } from '../domain/errors.js';
import { DEFAULT_TENANT, type Principal } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { MetadataStore } from '../ports/metadata-store.js';

export type { Principal } from '../domain/request-context.js';

const hashSecret = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

const unauthenticated = () => new KmsError('Unauthenticated', 'a valid bearer token is required');

export class AuthService {
  private readonly recent = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: Clock,
    private readonly cacheTtlMs = 5000,
  ) {}

  /** Creates the bootstrap admin key on first start; returns its secret only when newly generated. */
  async bootstrapAdmin(presetSecret: string | undefined): Promise<{ created: boolean; secret?: string }> {
    if ((await this.metadata.countApiKeys()) > 0) return { created: false };
    const secret = presetSecret ?? `khk_${randomBytes(32).toString('base64url')}`;
    await this.metadata.createApiKey({
      id: randomUUID(),
      secretHash: hashSecret(secret),
      principal: 'admin',
      createdAt: this.clock.now(),
    });
    return { created: true, secret: presetSecret ? undefined : secret };
  }

  /**
   * A header verified in the last few seconds is recognised without hashing (a measurable share of
   * a cached encrypt): the raw header stays in this process's memory for at most cacheTtlMs, which
   * the request objects holding it already do. Only verified headers are cached.
   */
  authenticateCached(authorization: string | undefined): Principal | undefined {
    if (authorization === undefined) return undefined;
    const cached = this.recent.get(authorization);
    return cached && cached.until > Date.now() ? cached.principal : undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const cached = this.authenticateCached(authorization);
    if (cached) return cached;
    // The scheme is case-insensitive (RFC 9110 11.1); the token is not.
    const match = /^bearer ([\x21-\x7e]{16,512})$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated();
    const hash = hashSecret(match[1]!);
    const apiKey = await this.metadata.findApiKeyByHash(hash);
    if (!apiKey || !timingSafeEqual(apiKey.secretHash, hash)) throw unauthenticated();
    // Every API key today is the bootstrap admin's (principals and roles come with identity).
    // Frozen: the same object is handed to every request of this credential while it is cached.
    const principal: Principal = Object.freeze({
      id: apiKey.id,
      name: apiKey.principal,
      tenant: DEFAULT_TENANT,
      roles: Object.freeze(['admin']),
      attributes: Object.freeze({}),
    });
    if (this.recent.size > 1000) this.recent.clear();
    this.recent.set(authorization!, { principal, until: Date.now() + this.cacheTtlMs });
    return principal;
  }
}
