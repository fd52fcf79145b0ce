// Principals and their credentials (API.md): users and services of a tenant with roles and
// attributes; API keys (hashed, shown once, expiring, revocable at once) and access-key pairs for
// AWS Signature V4 (the secret wrapped by the root key: the server needs it back to check a
// signature). A principal of another tenant answers as one that does not exist.
import { randomBytes, randomUUID } from 'node:crypto';
import { KmsError, invalidState, notFound, validationError } from '../domain/errors.js';
import {
  canSeeTenant,
  checkAttributes,
  checkName,
  checkRoles,
  accessKeyBinding,
  type AccessKeyRecord,
  type ApiKeyRecord,
  type PrincipalRecord,
  type PrincipalType,
} from '../domain/identity.js';
import type { RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore, Page } from '../ports/identity-store.js';
import type { RootKeyStore } from '../ports/root-key-store.js';
import type { AccessControl } from './access-control.js';
import { hashSecret, newApiKeySecret, type AuthService } from './auth-service.js';
import { parseFutureDate } from './key-records.js';
import { pageLimit, type TenantService } from './tenant-service.js';

export interface CreatePrincipalInput {
  name: string;
  type: PrincipalType;
  tenantId?: string;
  roles?: string[];
  attributes?: Record<string, string>;
}

export interface UpdatePrincipalInput {
  name?: string;
  roles?: string[];
  attributes?: Record<string, string>;
}

const principalNotFound = (principalId: string) => notFound(`principal ${principalId} does not exist`);

/** AWS-shaped access key ids (20 upper-case characters), with Keyhaven's own prefix. */
const newAccessKeyId = () => `KHAK${randomBytes(10).toString('hex').toUpperCase()}`;

export class PrincipalService {
  constructor(
    private readonly identity: IdentityStore,
    private readonly tenants: TenantService,
    private readonly access: AccessControl,
    private readonly auth: AuthService,
    private readonly root: RootKeyStore,
    private readonly clock: Clock,
  ) {}

  async createPrincipal(ctx: RequestContext, input: CreatePrincipalInput): Promise<PrincipalRecord> {
    const tenant = await this.tenants.visibleTenant(ctx, input.tenantId);
    await this.access.authorize(ctx, { actions: ['CreatePrincipal'] });
    assertMayGrant(ctx, input.roles ?? []);
    if (input.type !== 'user' && input.type !== 'service')
      throw validationError('type must be user or service');
    const now = this.clock.now();
    const principal: PrincipalRecord = {
      principalId: randomUUID(),
      name: checkName(input.name, 'principal'),
      type: input.type,
      tenantId: tenant.tenantId,
      roles: checkRoles(input.roles ?? []),
      attributes: checkAttributes(input.attributes ?? {}),
      policyIds: [],
      createdAt: now,
      updatedAt: now,
    };
    await this.identity.createPrincipal(principal);
    return principal;
  }

  async listPrincipals(
    ctx: RequestContext,
    input: { tenantId?: string; limit?: number; cursor?: string },
  ): Promise<Page<PrincipalRecord>> {
    const tenant = await this.tenants.visibleTenant(ctx, input.tenantId);
    await this.access.authorize(ctx, { actions: ['ListPrincipals'] });
    return this.identity.listPrincipals(tenant.tenantId, {
      limit: pageLimit(input.limit),
      cursor: input.cursor,
    });
  }

  async describePrincipal(ctx: RequestContext, principalId: string): Promise<PrincipalRecord> {
    const principal = await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['DescribePrincipal'] });
    return principal;
  }

  async updatePrincipal(
    ctx: RequestContext,
    principalId: string,
    input: UpdatePrincipalInput,
  ): Promise<PrincipalRecord> {
    const principal = await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['UpdatePrincipal'] });
    if (input.roles !== undefined) assertMayGrant(ctx, input.roles);
    const next: PrincipalRecord = {
      ...principal,
      name: input.name === undefined ? principal.name : checkName(input.name, 'principal'),
      roles: input.roles === undefined ? principal.roles : checkRoles(input.roles),
      attributes: input.attributes === undefined ? principal.attributes : checkAttributes(input.attributes),
      updatedAt: this.clock.now(),
    };
    await this.identity.updatePrincipal(next);
    this.auth.forgetCredentials();
    return next;
  }

  async deletePrincipal(ctx: RequestContext, principalId: string): Promise<void> {
    await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['DeletePrincipal'] });
    if (principalId === ctx.principal.id) throw invalidState('a principal cannot delete itself');
    if (!(await this.identity.deletePrincipal(principalId))) throw principalNotFound(principalId);
    this.auth.forgetCredentials();
  }

  /** Replaces the policies attached to the principal. */
  async setPolicies(ctx: RequestContext, principalId: string, policyIds: string[]): Promise<PrincipalRecord> {
    const principal = await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['PutPrincipalPolicies'] });
    if (!isAdmin(ctx))
      throw new KmsError('AccessDenied', "only a tenant's admins attach policies to principals");
    const attached = await this.tenants.checkAttachable(principal.tenantId, policyIds);
    await this.identity.setAttachments({ kind: 'principal', id: principalId }, attached);
    this.auth.forgetCredentials();
    return { ...principal, policyIds: attached };
  }

  async createApiKey(
    ctx: RequestContext,
    principalId: string,
    input: { expiresAt?: string },
  ): Promise<{ apiKey: ApiKeyRecord; secret: string }> {
    const holder = await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['CreateApiKey'] });
    assertMayActAs(ctx, holder);
    const now = this.clock.now();
    const secret = newApiKeySecret();
    const apiKey: ApiKeyRecord = {
      apiKeyId: randomUUID(),
      principalId,
      secretHash: hashSecret(secret),
      createdAt: now,
      expiresAt: parseFutureDate(input.expiresAt, now, 'expiresAt'),
      revokedAt: null,
    };
    await this.identity.createApiKey(apiKey);
    return { apiKey, secret };
  }

  async listApiKeys(ctx: RequestContext, principalId: string): Promise<ApiKeyRecord[]> {
    await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['ListApiKeys'] });
    return this.identity.listApiKeys(principalId);
  }

  /** Revoked at once: the next request with the key is refused, in this process immediately. */
  async revokeApiKey(ctx: RequestContext, principalId: string, apiKeyId: string): Promise<void> {
    await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['RevokeApiKey'] });
    if (!(await this.identity.revokeApiKey(principalId, apiKeyId, this.clock.now()))) {
      throw notFound(`API key ${apiKeyId} does not exist`);
    }
    this.auth.forgetCredentials();
  }

  async createAccessKey(
    ctx: RequestContext,
    principalId: string,
  ): Promise<{ accessKey: AccessKeyRecord; secretAccessKey: string }> {
    const holder = await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['CreateAccessKey'] });
    assertMayActAs(ctx, holder);
    const secretAccessKey = randomBytes(30).toString('base64');
    const accessKey = await this.storeAccessKey(principalId, newAccessKeyId(), secretAccessKey);
    return { accessKey, secretAccessKey };
  }

  /**
   * The bootstrap admin's pair, as configured (KEYHAVEN_ADMIN_ACCESS_KEY_ID and _SECRET_ACCESS_KEY):
   * the server's own work at first start, for no caller.
   */
  async createBootstrapAccessKey(
    principalId: string,
    preset: { accessKeyId: string; secretAccessKey: string },
  ): Promise<AccessKeyRecord> {
    return this.storeAccessKey(principalId, preset.accessKeyId, preset.secretAccessKey);
  }

  private async storeAccessKey(
    principalId: string,
    accessKeyId: string,
    secretAccessKey: string,
  ): Promise<AccessKeyRecord> {
    const secret = Buffer.from(secretAccessKey, 'utf8');
    try {
      const accessKey: AccessKeyRecord = {
        accessKeyId,
        principalId,
        wrappedSecret: await this.root.wrapKeyMaterial(secret, accessKeyBinding(accessKeyId), 0),
        createdAt: this.clock.now(),
        revokedAt: null,
      };
      await this.identity.createAccessKey(accessKey);
      return accessKey;
    } finally {
      secret.fill(0);
    }
  }

  async listAccessKeys(ctx: RequestContext, principalId: string): Promise<AccessKeyRecord[]> {
    await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['ListAccessKeys'] });
    return this.identity.listAccessKeys(principalId);
  }

  async revokeAccessKey(ctx: RequestContext, principalId: string, accessKeyId: string): Promise<void> {
    await this.visiblePrincipal(ctx, principalId);
    await this.access.authorize(ctx, { actions: ['DeleteAccessKey'] });
    if (!(await this.identity.revokeAccessKey(principalId, accessKeyId, this.clock.now()))) {
      throw notFound(`access key ${accessKeyId} does not exist`);
    }
    this.auth.forgetCredentials();
  }

  /** The principal, or NotFound when it does not exist or belongs to a tenant the caller cannot see. */
  async visiblePrincipal(ctx: RequestContext, principalId: string): Promise<PrincipalRecord> {
    const principal = await this.identity.getPrincipal(principalId);
    if (!principal || !canSeeTenant(ctx.principal, principal.tenantId)) throw principalNotFound(principalId);
    return principal;
  }
}

/** Admins of the tenant (or the server itself): they may grant anything within it. */
const isAdmin = (ctx: RequestContext) =>
  ctx.credential === 'internal' || ctx.principal.roles.includes('admin');

/**
 * The ceiling on grants: whoever may create or change principals but is not an admin gives only
 * roles it holds itself, so CreatePrincipal or UpdatePrincipal alone never mints an admin.
 */
function assertMayGrant(ctx: RequestContext, roles: readonly string[]): void {
  if (isAdmin(ctx)) return;
  const beyond = roles.filter((role) => !ctx.principal.roles.includes(role));
  if (beyond.length > 0) {
    throw new KmsError('AccessDenied', `only an admin grants roles it does not hold (${beyond.join(', ')})`);
  }
}

/** A credential for `holder` lets its bearer act as it: only as oneself, or as no more than oneself. */
function assertMayActAs(ctx: RequestContext, holder: PrincipalRecord): void {
  if (isAdmin(ctx) || holder.principalId === ctx.principal.id) return;
  if (holder.policyIds.length > 0 || holder.roles.some((role) => !ctx.principal.roles.includes(role))) {
    throw new KmsError(
      'AccessDenied',
      'only an admin makes credentials for a principal with rights beyond its own',
    );
  }
}
