// Tenants, principals and their credentials (API.md "Identity, policy, tenants, audit"): the records
// the identity services keep, and the rules every tenant-scoped lookup follows.
import { validationError } from './errors.js';
import { DEFAULT_TENANT, type Principal } from './request-context.js';
import { assertWellFormed } from './unicode.js';

export interface TenantQuotas {
  maxKeys?: number;
  requestsPerSecond?: number;
}

export interface Tenant {
  tenantId: string;
  name: string;
  quotas: TenantQuotas;
  /** Policies that apply to every principal of the tenant. */
  policyIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export type PrincipalType = 'user' | 'service';

export interface PrincipalRecord {
  principalId: string;
  name: string;
  type: PrincipalType;
  tenantId: string;
  roles: string[];
  attributes: Record<string, string>;
  /** Policies attached to this principal (PUT /v1/principals/{id}/policies). */
  policyIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyRecord {
  apiKeyId: string;
  principalId: string;
  /** SHA-256 of the secret: the secret itself is shown once and never stored. */
  secretHash: Buffer;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  principalId: string;
  /** The secret access key, wrapped by the root key: SigV4 needs it back to check signatures. */
  wrappedSecret: Buffer;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What an access key's secret is wrapped for (the root key binds the wrapping to it). */
export const accessKeyBinding = (accessKeyId: string) => `access-key:${accessKeyId}`;

/** Every list of identity objects pages at most this many at a time. */
export const MAX_IDENTITY_PAGE = 1000;

/**
 * Where the server keeps its own keys (services/system-keys.ts): no principal can see this tenant,
 * system administrators included, and no tenant can be created with its id (ids are UUIDs).
 */
export const SYSTEM_KEYS_TENANT = 'keyhaven-system';

/**
 * Admins of the default tenant administer every tenant (the bootstrap admin is one): the default
 * tenant is the root, as Vault's root namespace is. Everyone else acts inside their own tenant.
 */
export function isSystemAdmin(principal: Principal): boolean {
  return principal.tenant === DEFAULT_TENANT && principal.roles.includes('admin');
}

/** Auditors and admins of the default tenant read the whole audit chain (every tenant's records). */
export function isSystemAuditor(principal: Principal): boolean {
  return (
    principal.tenant === DEFAULT_TENANT &&
    (principal.roles.includes('admin') || principal.roles.includes('auditor'))
  );
}

/** Whether a caller may see an object of `tenant` at all; an object it may not see does not exist. */
export function canSeeTenant(principal: Principal, tenant: string): boolean {
  if (tenant === SYSTEM_KEYS_TENANT) return false;
  return principal.tenant === tenant || isSystemAdmin(principal);
}

/** The request-time view of a principal record: what the request context carries. */
export function toPrincipal(record: PrincipalRecord): Principal {
  return Object.freeze({
    id: record.principalId,
    name: record.name,
    tenant: record.tenantId,
    roles: Object.freeze([...record.roles]),
    attributes: Object.freeze({ ...record.attributes }),
    policyIds: Object.freeze([...record.policyIds]),
  });
}

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const MAX_ROLES = 20;
const MAX_ATTRIBUTES = 50;

/** A display name of a tenant, principal or policy: 1 to 256 characters of well-formed text. */
export function checkName(name: string, what: string): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 256) {
    throw validationError(`${what} name must be 1 to 256 characters`);
  }
  assertWellFormed(name, `${what} name`);
  return name;
}

/** Role names: the built-in ones grant their policies; any other is a label policies can name. */
export function checkRoles(roles: readonly string[]): string[] {
  if (roles.length > MAX_ROLES) throw validationError(`a principal has at most ${MAX_ROLES} roles`);
  for (const role of roles) {
    if (!ROLE_NAME.test(role)) {
      throw validationError(`role "${role}" must be lower-case letters, digits, - or _ (at most 64)`);
    }
  }
  return [...new Set(roles)];
}

export function checkAttributes(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(attributes);
  if (entries.length > MAX_ATTRIBUTES) throw validationError(`at most ${MAX_ATTRIBUTES} attributes`);
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || typeof v !== 'string' || v.length > 256) {
      throw validationError('attribute names are 1-128 characters, values at most 256');
    }
    assertWellFormed(k, 'attribute names');
    assertWellFormed(v, 'attribute values');
  }
  return { ...attributes };
}

export function checkQuotas(quotas: TenantQuotas): TenantQuotas {
  const checked: TenantQuotas = {};
  for (const field of ['maxKeys', 'requestsPerSecond'] as const) {
    const value = quotas[field];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > 1_000_000_000) {
      throw validationError(`quotas.${field} must be a positive integer`);
    }
    checked[field] = value;
  }
  return checked;
}
