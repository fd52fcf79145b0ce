import type { Generated } from 'kysely';

// Table types for Kysely. Times are epoch milliseconds, booleans 0/1, so SQLite and PostgreSQL
// (bigint/bytea) share every query.
export interface KeysTable {
  key_id: string;
  key_spec: string;
  key_usage: string;
  state: string;
  protection_level: string;
  origin: string;
  current_version: number;
  description: string;
  tags: string;
  created_at: number;
  updated_at: number;
  rotation_period_days: number | null;
  next_rotation_at: number | null;
  expires_at: number | null;
  deletion_date: number | null;
  exportable: number;
  public_key_only: number;
  tenant: string | null;
}

export interface KeyTagsTable {
  key_id: string;
  tag_key: string;
  tag_value: string;
}

export interface KeyVersionsTable {
  key_id: string;
  version: number;
  state: string;
  created_at: number;
  material: Buffer;
  public_key_spki: Buffer | null;
  seals_reserved: Generated<number>;
  /** AUTOMATIC or ON_DEMAND for a version a rotation made; null for the first and imported ones. */
  rotation: string | null;
  material_digest: Buffer | null;
  material_digest_secret: Buffer | null;
}

export interface AliasesTable {
  tenant_id: string;
  name: string;
  key_id: string;
  created_at: number;
  /** When the alias was last re-pointed; null if never. */
  updated_at: number | null;
}

export interface ImportTokensTable {
  id: string;
  key_id: string;
  wrapped_private_key: Buffer;
  expires_at: number;
  wrapping_algorithm: string | null;
}

export interface KeyUsageTable {
  key_id: string;
  operation: string;
  count: number;
  last_used_at: number;
}

export interface ApiKeysTable {
  id: string;
  secret_hash: Buffer;
  principal_id: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface TenantsTable {
  tenant_id: string;
  name: string;
  max_keys: number | null;
  requests_per_second: number | null;
  created_at: number;
  updated_at: number;
}

export interface PrincipalsTable {
  principal_id: string;
  tenant_id: string;
  name: string;
  type: string;
  roles: string;
  attributes: string;
  created_at: number;
  updated_at: number;
}

export interface AccessKeysTable {
  access_key_id: string;
  principal_id: string;
  wrapped_secret: Buffer;
  created_at: number;
  revoked_at: number | null;
}

export interface PoliciesTable {
  policy_id: string;
  tenant_id: string;
  name: string;
  key_id: string | null;
  created_at: number;
}

export interface PolicyVersionsTable {
  policy_id: string;
  version: number;
  document: string;
  effective_at: number;
  created_at: number;
  /** 0006_aws_key_policies: the AWS-language text of a key policy written so. */
  aws_source: string | null;
}

export interface PolicyAttachmentsTable {
  target_kind: string;
  target_id: string;
  policy_id: string;
  position: number;
}

export interface MaterialDestructionTable {
  key_id: string;
  version: number;
  key_spec: string;
  protection_level: string;
  material: Buffer;
  queued_at: number;
}

export interface AuditRecordsTable {
  seq: number;
  time: string;
  request_id: string;
  tenant_id: string;
  principal_id: string;
  action: string;
  key_id: string | null;
  key_version: number | null;
  result: string;
  error_code: string | null;
  source_ip: string;
  latency_ms: number;
  prev_hash: string;
  hash: string;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  time: string;
  key_id: string;
  key_version: number;
  algorithm: string;
  signature: string;
}

export interface GrantsTable {
  grant_id: string;
  key_id: string;
  tenant_id: string;
  name: string | null;
  grantee_principal_id: string;
  grantee_principal: string;
  retiring_principal_id: string | null;
  retiring_principal: string | null;
  issuing_principal_id: string;
  /** JSON list of grant operations. */
  operations: string;
  /** JSON GrantConstraints, or null. */
  constraints: string | null;
  created_at: number;
  token_secret: Buffer;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface HsmReplicationPendingTable {
  label: string;
  object_class: number;
  source: string;
  /** JSON array of backend names. */
  missing: string;
  created_at: number;
  /** 1 once the window passed and the original was sealed without its copies. */
  expired: number;
}

export interface ClientTokensTable {
  tenant_id: string;
  principal_id: string;
  client_token: string;
  /** SHA-256 hex of the request's parameters: the same token with others is refused. */
  request_digest: string;
  key_id: string;
  created_at: number;
}

export interface Database {
  keys: KeysTable;
  key_tags: KeyTagsTable;
  key_versions: KeyVersionsTable;
  aliases: AliasesTable;
  import_tokens: ImportTokensTable;
  key_usage: KeyUsageTable;
  api_keys: ApiKeysTable;
  tenants: TenantsTable;
  principals: PrincipalsTable;
  access_keys: AccessKeysTable;
  policies: PoliciesTable;
  policy_versions: PolicyVersionsTable;
  policy_attachments: PolicyAttachmentsTable;
  audit_records: AuditRecordsTable;
  audit_checkpoints: AuditCheckpointsTable;
  material_destruction: MaterialDestructionTable;
  grants: GrantsTable;
  leases: LeasesTable;
  client_tokens: ClientTokensTable;
  hsm_replication_pending: HsmReplicationPendingTable;
}
