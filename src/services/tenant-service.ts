// Tenants (API.md "Identity, policy, tenants, audit"): creating and changing them is for system
// administrators; a tenant's own admins may see it and attach its tenant-wide policies. Quotas are
// enforced here too: the request rate per tenant (a token bucket per process) and, through
// quotaOf(), the number of keys KeyService admits.
import { randomUUID } from 'node:crypto';
import { KmsError, notFound } from '../domain/errors.js';
import {
  canSeeTenant,
  checkName,
  checkQuotas,
  isSystemAdmin,
  MAX_IDENTITY_PAGE,
  type Tenant,
  type TenantQuotas,
} from '../domain/identity.js';
import { validationError } from '../domain/errors.js';
import type { Principal, RequestContext } from '../domain/request-context.js';
import type { Clock } from '../ports/clock.js';
import type { IdentityStore, Page } from '../ports/identity-store.js';
import type { AccessControl } from './access-control.js';

export interface TenantInput {
  name?: string;
  quotas?: TenantQuotas;
  policyIds?: string[];
}

interface Bucket {
  tokens: number;
  at: number;
}

export const tenantNotFound = (tenantId: string) => notFound(`tenant ${tenantId} does not exist`);

export class TenantService {
  private readonly tenants = new Map<string, { tenant: Tenant | null; until: number }>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly identity: IdentityStore,
    private readonly access: AccessControl,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  async createTenant(ctx: RequestContext, input: { name: string; quotas?: TenantQuotas }): Promise<Tenant> {
    await this.requireSystemAdmin(ctx, 'CreateTenant');
    const now = this.clock.now();
    const tenant: Tenant = {
      tenantId: randomUUID(),
      name: checkName(input.name, 'tenant'),
      quotas: checkQuotas(input.quotas ?? {}),
      policyIds: [],
      createdAt: now,
      updatedAt: now,
    };
    await this.identity.createTenant(tenant);
    return tenant;
  }

  async listTenants(ctx: RequestContext, page: { limit?: number; cursor?: string }): Promise<Page<Tenant>> {
    await this.access.authorize(ctx, { actions: ['ListTenants'] });
    if (!isSystemAdmin(ctx.principal)) {
      const own = await this.identity.getTenant(ctx.tenant);
      return { items: own && page.cursor === undefined ? [own] : [], nextCursor: null };
    }
    return this.identity.listTenants({ limit: pageLimit(page.limit), cursor: page.cursor });
  }

  async describeTenant(ctx: RequestContext, tenantId: string): Promise<Tenant> {
    const tenant = await this.visibleTenant(ctx, tenantId);
    await this.access.authorize(ctx, { actions: ['DescribeTenant'] });
    return tenant;
  }

  /** Name and quotas: system administrators only. Tenant-wide policies: also the tenant's admins. */
  async updateTenant(ctx: RequestContext, tenantId: string, input: TenantInput): Promise<Tenant> {
    const tenant = await this.visibleTenant(ctx, tenantId);
    await this.access.authorize(ctx, { actions: ['UpdateTenant'] });
    if ((input.name !== undefined || input.quotas !== undefined) && !isSystemAdmin(ctx.principal)) {
      throw new KmsError('AccessDenied', "only a system administrator changes a tenant's name or quotas");
    }
    // Everything is checked before anything is written: a bad policy id changes nothing.
    const next: Tenant = {
      ...tenant,
      name: input.name === undefined ? tenant.name : checkName(input.name, 'tenant'),
      quotas: input.quotas === undefined ? tenant.quotas : checkQuotas(input.quotas),
      policyIds:
        input.policyIds === undefined
          ? tenant.policyIds
          : await this.checkAttachable(tenant.tenantId, input.policyIds),
      updatedAt: this.clock.now(),
    };
    try {
      await this.identity.updateTenant(next);
      if (input.policyIds !== undefined) {
        await this.identity.setAttachments({ kind: 'tenant', id: tenant.tenantId }, next.policyIds);
      }
    } finally {
      this.access.invalidateTenant(tenant.tenantId);
      this.tenants.delete(tenant.tenantId);
    }
    return next;
  }

  /**
   * The tenant a request names (its own when none is named), or NotFound when the caller may not
   * see it: another tenant answers exactly as a tenant that does not exist.
   */
  async visibleTenant(ctx: RequestContext, tenantId: string | undefined): Promise<Tenant> {
    const id = tenantId ?? ctx.tenant;
    if (!canSeeTenant(ctx.principal, id)) throw tenantNotFound(id);
    const tenant = await this.cachedTenant(id);
    if (!tenant) throw tenantNotFound(id);
    return tenant;
  }

  /** The number of keys a tenant may hold, if its quota says (else the server-wide limit applies). */
  async maxKeysOf(tenantId: string): Promise<number | undefined> {
    return (await this.cachedTenant(tenantId))?.quotas.maxKeys;
  }

  /**
   * Admits one request of the principal's tenant or throws LimitExceeded with the seconds until a
   * request would be admitted. Synchronous while the tenant's quotas are cached (every request).
   */
  admit(principal: Principal): void | Promise<void> {
    const cached = this.tenants.get(principal.tenant);
    if (cached && cached.until > Date.now()) return this.take(principal.tenant, cached.tenant);
    return this.cachedTenant(principal.tenant).then((tenant) => this.take(principal.tenant, tenant));
  }

  /** Policy ids attachable in a tenant: existing, of that tenant, not key policies. */
  async checkAttachable(tenantId: string, policyIds: string[]): Promise<string[]> {
    if (policyIds.length > 50) throw validationError('at most 50 policies can be attached');
    const unique = [...new Set(policyIds)];
    for (const id of unique) {
      const policy = await this.identity.getPolicy(id);
      if (!policy || policy.tenantId !== tenantId || policy.keyId !== null) {
        throw notFound(`policy ${id} does not exist`);
      }
    }
    return unique;
  }

  private take(tenantId: string, tenant: Tenant | null): void {
    const rate = tenant?.quotas.requestsPerSecond;
    if (rate === undefined) return;
    const now = Date.now();
    const bucket = this.buckets.get(tenantId) ?? { tokens: rate, at: now };
    // A burst of one second's worth, refilled continuously.
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(tenantId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
    throw new KmsError(
      'LimitExceeded',
      `the tenant's request quota (${rate} requests per second) is reached`,
      {
        retryAfterSeconds,
      },
    );
  }

  private async requireSystemAdmin(ctx: RequestContext, action: string): Promise<void> {
    await this.access.authorize(ctx, { actions: [action] });
    if (ctx.credential !== 'internal' && !isSystemAdmin(ctx.principal)) {
      throw new KmsError('AccessDenied', `only a system administrator may ${action}`);
    }
  }

  /** Another process changed the tenant (AccessControl announced it there): dropped here. */
  drop(tenantId: string): void {
    this.tenants.delete(tenantId);
  }

  dropAll(): void {
    this.tenants.clear();
  }

  private async cachedTenant(tenantId: string): Promise<Tenant | null> {
    const hit = this.tenants.get(tenantId);
    if (hit && hit.until > Date.now()) return hit.tenant;
    const tenant = (await this.identity.getTenant(tenantId)) ?? null;
    if (this.tenants.size >= 10_000) this.tenants.clear();
    this.tenants.set(tenantId, { tenant, until: Date.now() + this.ttlMs });
    return tenant;
  }
}

export function pageLimit(limit: number | undefined): number {
  const value = limit ?? 100;
  if (!Number.isInteger(value) || value < 1 || value > MAX_IDENTITY_PAGE) {
    throw validationError(`limit must be an integer from 1 to ${MAX_IDENTITY_PAGE}`);
  }
  return value;
}
