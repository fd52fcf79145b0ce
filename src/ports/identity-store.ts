// Port: tenants, principals, their credentials and the policies that apply to them. Beside the
// MetadataStore (keys) on the same database; every multi-row change is one transaction.
import type { AccessKeyRecord, ApiKeyRecord, PrincipalRecord, Tenant } from '../domain/identity.js';
import type { PolicyDocument } from '../domain/policy.js';

export interface PolicyRecord {
  policyId: string;
  name: string;
  tenantId: string;
  /** Set for a key policy (one per key, GET/PUT /v1/keys/{keyId}/policy); null for the others. */
  keyId: string | null;
  createdAt: Date;
}

export interface PolicyVersion {
  policyId: string;
  version: number;
  document: PolicyDocument;
  /** From when this version applies; a later effectiveAt wins once it has come. */
  effectiveAt: Date;
  createdAt: Date;
  /** A key policy written in AWS's policy language: its text as written, `document` its translation. */
  awsSource?: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export type AttachmentTarget = { kind: 'principal' | 'tenant'; id: string };

export interface IdentityStore {
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(tenantId: string): Promise<Tenant | undefined>;
  listTenants(page: PageRequest): Promise<Page<Tenant>>;
  /** Writes name and quotas (attachments go through setAttachments). */
  updateTenant(tenant: Tenant): Promise<void>;

  createPrincipal(principal: PrincipalRecord): Promise<void>;
  getPrincipal(principalId: string): Promise<PrincipalRecord | undefined>;
  /** The principal of `tenantId` named `name` (names are unique in a tenant, compared exactly). */
  findPrincipalByName(tenantId: string, name: string): Promise<PrincipalRecord | undefined>;
  listPrincipals(tenantId: string, page: PageRequest): Promise<Page<PrincipalRecord>>;
  updatePrincipal(principal: PrincipalRecord): Promise<void>;
  /** Removes the principal, its attachments and every credential it holds, in one transaction. */
  deletePrincipal(principalId: string): Promise<boolean>;
  countPrincipals(): Promise<number>;

  createApiKey(apiKey: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(secretHash: Buffer): Promise<ApiKeyRecord | undefined>;
  listApiKeys(principalId: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false if it does not exist, belongs to someone else or was revoked. */
  revokeApiKey(principalId: string, apiKeyId: string, at: Date): Promise<boolean>;

  createAccessKey(accessKey: AccessKeyRecord): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(principalId: string): Promise<AccessKeyRecord[]>;
  revokeAccessKey(principalId: string, accessKeyId: string, at: Date): Promise<boolean>;

  /** Creates the policy with its first version. Conflict if a key policy for the key exists. */
  createPolicy(policy: PolicyRecord, first: PolicyVersion): Promise<void>;
  getPolicy(policyId: string): Promise<PolicyRecord | undefined>;
  getKeyPolicy(keyId: string): Promise<PolicyRecord | undefined>;
  listPolicies(tenantId: string, page: PageRequest): Promise<Page<PolicyRecord>>;
  /** Adds a version numbered one past the latest; returns it. */
  addPolicyVersion(
    policyId: string,
    version: Omit<PolicyVersion, 'version' | 'policyId'>,
  ): Promise<PolicyVersion>;
  listPolicyVersions(policyId: string): Promise<PolicyVersion[]>;
  /** Removes a policy and its versions; Conflict while any principal or tenant has it attached. */
  deletePolicy(policyId: string): Promise<boolean>;
  /** Replaces the policies attached to a principal or a tenant. */
  setAttachments(target: AttachmentTarget, policyIds: string[]): Promise<void>;
}
