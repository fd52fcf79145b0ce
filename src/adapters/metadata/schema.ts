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
}

export interface AliasesTable {
  name: string;
  key_id: string;
  created_at: number;
}

export interface ImportTokensTable {
  id: string;
  key_id: string;
  wrapped_private_key: Buffer;
  expires_at: number;
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
  principal: string;
  created_at: number;
}

export interface MaterialDestructionTable {
  key_id: string;
  version: number;
  key_spec: string;
  protection_level: string;
  material: Buffer;
  queued_at: number;
}

export interface Database {
  keys: KeysTable;
  key_tags: KeyTagsTable;
  key_versions: KeyVersionsTable;
  aliases: AliasesTable;
  import_tokens: ImportTokensTable;
  key_usage: KeyUsageTable;
  api_keys: ApiKeysTable;
  material_destruction: MaterialDestructionTable;
}
