// The SDK's types for tenants, principals, credentials, policies and access decisions (API.md
// "Identity, policy, tenants, audit"); dates are ISO-8601 strings, as on the wire.
// Policy documents are the domain's own types, so the SDK and the server's parser cannot drift apart.
import type { EncryptionContext } from '../domain/encryption-context.js';
import type { PrincipalType, TenantQuotas } from '../domain/identity.js';
import type {
  Conditions as PolicyConditions,
  Effect as PolicyEffect,
  PolicyDocument,
  Statement as PolicyStatement,
  TimeWindow as PolicyTimeWindow,
} from '../domain/policy.js';

export type {
  PolicyConditions,
  PolicyDocument,
  PolicyEffect,
  PolicyStatement,
  PolicyTimeWindow,
  PrincipalType,
  TenantQuotas,
};

/** One page of a list: `limit` items at most, after `cursor` (a previous page's `nextCursor`). */
export interface PageInput {
  limit?: number;
  cursor?: string;
}

// ---- Tenants ------------------------------------------------------------------------------------

export interface Tenant {
  tenantId: string;
  name: string;
  quotas: TenantQuotas;
  /** Policies attached to the whole tenant: they apply to every principal in it. */
  policyIds: string[];
  createdAt: string;
  updatedAt?: string;
}

export interface CreateTenantInput {
  name: string;
  quotas?: TenantQuotas;
}

/** Name and quotas are a system administrator's to change; `quotas` replaces them all. */
export interface UpdateTenantInput {
  name?: string;
  quotas?: TenantQuotas;
  /** Replaces the tenant-wide policies. */
  policyIds?: string[];
}

export interface ListTenantsResult {
  tenants: Tenant[];
  nextCursor: string | null;
}

// ---- Principals and credentials ---------------------------------------------------------------

export interface Principal {
  principalId: string;
  name: string;
  type: PrincipalType;
  tenantId: string;
  /** Built-in roles (`admin`, `key-admin`, `crypto-user`, `auditor`) or labels policies can name. */
  roles: string[];
  attributes: Record<string, string>;
  /** Policies attached to this principal. */
  policyIds: string[];
  createdAt: string;
  updatedAt?: string;
}

export interface CreatePrincipalInput {
  name: string;
  type: PrincipalType;
  /** The caller's own tenant when absent. */
  tenantId?: string;
  roles?: string[];
  attributes?: Record<string, string>;
}

/** `roles` and `attributes`, when given, replace the current ones. */
export interface UpdatePrincipalInput {
  name?: string;
  roles?: string[];
  attributes?: Record<string, string>;
}

export interface ListPrincipalsInput extends PageInput {
  /** The caller's own tenant when absent. */
  tenantId?: string;
}

export interface ListPrincipalsResult {
  principals: Principal[];
  nextCursor: string | null;
}

export interface ApiKey {
  apiKeyId: string;
  principalId: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface CreateApiKeyInput {
  /** ISO-8601; the key never expires when absent. */
  expiresAt?: string;
}

export interface CreatedApiKey {
  apiKey: ApiKey;
  /** The Bearer token. The server keeps only its hash: this is the one time it is shown. */
  secret: string;
}

export interface AccessKey {
  accessKeyId: string;
  principalId: string;
  createdAt: string;
  revokedAt: string | null;
}

/** AWS Signature V4 credentials; the secret is shown once. */
export interface CreatedAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  accessKey?: AccessKey;
}

/** A short-lived JWT for the caller's principal; use it as the token of another client. */
export interface AccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds from issue until it is refused; it cannot be revoked before then. */
  expiresIn: number;
}

// ---- Policies -----------------------------------------------------------------------------------

/** A policy at the version in force (or, before any is, the first one waiting). */
export interface Policy {
  policyId: string;
  name: string;
  tenantId: string;
  version: number;
  document: PolicyDocument;
  effectiveAt: string;
  createdAt: string;
}

export interface CreatePolicyInput {
  name: string;
  /** The caller's own tenant when absent. */
  tenantId?: string;
  document: PolicyDocument;
  /** ISO-8601; in force at once when absent. */
  effectiveAt?: string;
}

/** A new version; the name cannot change. */
export interface UpdatePolicyInput {
  document: PolicyDocument;
  /** ISO-8601; in force at once when absent. */
  effectiveAt?: string;
}

export interface ListPoliciesInput extends PageInput {
  tenantId?: string;
}

export interface ListPoliciesResult {
  policies: Policy[];
  nextCursor: string | null;
}

export interface PolicyVersionInfo {
  version: number;
  document: PolicyDocument;
  effectiveAt: string;
  createdAt: string;
}

export interface KeyPolicy {
  keyId: string;
  /** 0 while the key has no policy of its own (the document then has no statements). */
  version: number;
  document: PolicyDocument;
}

// ---- Decisions ----------------------------------------------------------------------------------

/** The statement that decided; built-in roles are `builtin:<role>` policies. */
export interface DecidedBy {
  policyId: string;
  version: number;
  sid: string | null;
}

export interface SimulateInput {
  principalId: string;
  action: string;
  keyId?: string;
  context?: EncryptionContext;
  sourceIp?: string;
  /** ISO-8601; now when absent. */
  at?: string;
}

export interface SimulationResult {
  decision: 'allow' | 'deny';
  /** null for the default deny (no statement allowed the request). */
  decidedBy: DecidedBy | null;
  reason: string;
}

export interface VerifyAccessInput {
  action: string;
  keyId?: string;
  context?: EncryptionContext;
}

export interface VerifyAccessResult {
  allowed: boolean;
  /** Who the caller's credential is. */
  principalId: string;
  decidedBy: DecidedBy | null;
  reason?: string;
}
