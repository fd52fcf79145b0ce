// Schema migrations, in order. Written with Kysely's schema builder so both dialects run them;
// column types are SQLite's words, which ../sql-dialect.ts translates for PostgreSQL (blob: bytea).
// Several processes may start at once: Kysely's Migrator runs them under a lock (on PostgreSQL a
// session advisory lock, held while it checks which migrations are missing and runs them).
import { randomUUID } from 'node:crypto';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { columnTypesOf, type SqlDialect } from '../sql-dialect.js';

const migrations: Record<string, Migration> = {
  '0001_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keys')
        .addColumn('key_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('key_spec', 'varchar(32)', (c) => c.notNull())
        .addColumn('key_usage', 'varchar(32)', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('protection_level', 'varchar(16)', (c) => c.notNull())
        .addColumn('origin', 'varchar(16)', (c) => c.notNull())
        .addColumn('current_version', 'integer', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('rotation_period_days', 'integer')
        .addColumn('next_rotation_at', 'bigint')
        .addColumn('expires_at', 'bigint')
        .addColumn('deletion_date', 'bigint')
        .addColumn('exportable', 'integer', (c) => c.notNull())
        .addColumn('public_key_only', 'integer', (c) => c.notNull())
        .addColumn('tenant', 'varchar(128)')
        .execute();
      await db.schema.createIndex('keys_created').on('keys').columns(['created_at', 'key_id']).execute();
      await db.schema.createIndex('keys_next_rotation').on('keys').column('next_rotation_at').execute();
      await db.schema.createIndex('keys_deletion_date').on('keys').column('deletion_date').execute();

      await db.schema
        .createTable('key_tags')
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('tag_key', 'varchar(128)', (c) => c.notNull())
        .addColumn('tag_value', 'varchar(256)', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_tags_pk', ['key_id', 'tag_key'])
        .execute();
      await db.schema
        .createIndex('key_tags_lookup')
        .on('key_tags')
        .columns(['tag_key', 'tag_value'])
        .execute();

      await db.schema
        .createTable('key_versions')
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('material', 'blob', (c) => c.notNull())
        .addColumn('public_key_spki', 'blob')
        .addPrimaryKeyConstraint('key_versions_pk', ['key_id', 'version'])
        .execute();

      await db.schema
        .createTable('aliases')
        .addColumn('name', 'varchar(256)', (c) => c.primaryKey())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('aliases_key').on('aliases').column('key_id').execute();

      await db.schema
        .createTable('import_tokens')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('wrapped_private_key', 'blob', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('key_usage')
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('operation', 'varchar(32)', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_usage_pk', ['key_id', 'operation'])
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('secret_hash', 'blob', (c) => c.notNull().unique())
        .addColumn('principal', 'varchar(256)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  // Material of deleted keys waits here until its backend confirms destruction (an HSM may be down
  // when the deletion window ends): the key row goes in the same transaction that queues it.
  '0002_material_destruction': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('material_destruction')
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('key_spec', 'varchar(32)', (c) => c.notNull())
        .addColumn('protection_level', 'varchar(16)', (c) => c.notNull())
        .addColumn('material', 'blob', (c) => c.notNull())
        .addColumn('queued_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('material_destruction_pk', ['key_id', 'version'])
        .execute();
    },
  },
  // AES-GCM seals reserved per key version (docs/architecture.md, "The AES-GCM bound"): only ever
  // increased, so the count is monotonic across restarts and processes. Versions that sealed before
  // the count existed start from what the usage counters know of their key (encrypt and data keys,
  // all versions together: an upper bound per version), not from zero.
  '0003_seal_counter': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('key_versions')
        .addColumn('seals_reserved', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`
        update key_versions set seals_reserved = (
          select coalesce(sum(key_usage.count), 0) from key_usage
          where key_usage.key_id = key_versions.key_id
            and key_usage.operation in ('encrypt', 'generateDataKey', 'generateDataKeyPair')
        )`.execute(db);
    },
  },
  // Identity (API.md "Identity, policy, tenants, audit"): tenants, principals, their credentials
  // and policies. What existed before belongs to the default tenant; API keys made before principals
  // existed were the bootstrap admin's, who becomes a principal with the admin role.
  '0004_identity': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tenants')
        .addColumn('tenant_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(256)', (c) => c.notNull().unique())
        .addColumn('max_keys', 'integer')
        .addColumn('requests_per_second', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      const now = Date.now();
      await sql`insert into tenants (tenant_id, name, created_at, updated_at)
        values ('default', 'default', ${now}, ${now})`.execute(db);

      await db.schema
        .createTable('principals')
        .addColumn('principal_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(256)', (c) => c.notNull())
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('principals_tenant_name', ['tenant_id', 'name'])
        .execute();

      await db.schema.alterTable('api_keys').renameColumn('principal', 'principal_id').execute();
      await db.schema.alterTable('api_keys').addColumn('expires_at', 'bigint').execute();
      await db.schema.alterTable('api_keys').addColumn('revoked_at', 'bigint').execute();
      await db.schema.createIndex('api_keys_principal').on('api_keys').column('principal_id').execute();
      const legacy = await sql<{ n: number }>`select count(*) as n from api_keys`.execute(db);
      if (Number(legacy.rows[0]?.n ?? 0) > 0) {
        const adminId = randomUUID();
        await sql`insert into principals
          (principal_id, tenant_id, name, type, roles, attributes, created_at, updated_at)
          values (${adminId}, 'default', 'admin', 'user', '["admin"]', '{}', ${now}, ${now})`.execute(db);
        await sql`update api_keys set principal_id = ${adminId}`.execute(db);
      }

      await db.schema
        .createTable('access_keys')
        .addColumn('access_key_id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('principal_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('wrapped_secret', 'blob', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('access_keys_principal').on('access_keys').column('principal_id').execute();

      await db.schema
        .createTable('policies')
        .addColumn('policy_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(256)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)', (c) => c.unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('policies_tenant')
        .on('policies')
        .columns(['tenant_id', 'policy_id'])
        .execute();
      await db.schema
        .createTable('policy_versions')
        .addColumn('policy_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('effective_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('policy_versions_pk', ['policy_id', 'version'])
        .execute();
      await db.schema
        .createTable('policy_attachments')
        .addColumn('target_kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('target_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('policy_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('policy_attachments_pk', ['target_kind', 'target_id', 'policy_id'])
        .execute();
      await db.schema
        .createIndex('policy_attachments_policy')
        .on('policy_attachments')
        .column('policy_id')
        .execute();

      // Alias names are unique per tenant: the table is rebuilt with the tenant in its key.
      await db.schema
        .createTable('tenant_aliases')
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(256)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('tenant_aliases_pk', ['tenant_id', 'name'])
        .execute();
      await sql`insert into tenant_aliases (tenant_id, name, key_id, created_at)
        select 'default', name, key_id, created_at from aliases`.execute(db);
      await db.schema.dropTable('aliases').execute();
      await db.schema.alterTable('tenant_aliases').renameTo('aliases').execute();
      await db.schema.createIndex('aliases_key').on('aliases').column('key_id').execute();

      await sql`update keys set tenant = 'default' where tenant is null`.execute(db);
      await db.schema
        .createIndex('keys_tenant_created')
        .on('keys')
        .columns(['tenant', 'created_at', 'key_id'])
        .execute();
    },
  },
  // The audit log (docs/architecture.md "The audit log"): records in chain order, each with the
  // hash of the one before, and signed checkpoints over the chain's head.
  '0005_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_records')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('time', 'varchar(32)', (c) => c.notNull())
        .addColumn('request_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('principal_id', 'varchar(256)', (c) => c.notNull())
        .addColumn('action', 'varchar(64)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)')
        .addColumn('key_version', 'integer')
        .addColumn('result', 'varchar(8)', (c) => c.notNull())
        .addColumn('error_code', 'varchar(32)')
        .addColumn('source_ip', 'varchar(64)', (c) => c.notNull())
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('prev_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('hash', 'varchar(64)', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_records_time')
        .on('audit_records')
        .columns(['time', 'seq'])
        .execute();
      await db.schema
        .createIndex('audit_records_tenant')
        .on('audit_records')
        .columns(['tenant_id', 'seq'])
        .execute();
      await db.schema
        .createIndex('audit_records_key')
        .on('audit_records')
        .columns(['key_id', 'seq'])
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('time', 'varchar(32)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('key_version', 'integer', (c) => c.notNull())
        .addColumn('algorithm', 'varchar(32)', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Key policies written in AWS's policy language keep their text beside the translated document,
  // so that GetKeyPolicy answers them as they were written (docs/aws.md "Key policies").
  '0006_aws_key_policies': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('policy_versions').addColumn('aws_source', 'text').execute();
    },
  },
  // AWS KMS reports an alias's LastUpdatedDate and each rotation's type (ListKeyRotations): when
  // an alias was last re-pointed, and whether a version came from a schedule or was asked for.
  // Rows written before stay null: an alias never re-pointed since, a rotation of unknown kind.
  '0007_alias_updates_rotation_kinds': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('aliases').addColumn('updated_at', 'bigint').execute();
      await db.schema.alterTable('key_versions').addColumn('rotation', 'varchar(16)').execute();
    },
  },
  // Grants (domain/grant.ts): one row per grant; the key's deletion removes its grants.
  '0008_grants': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('grants')
        .addColumn('grant_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('tenant_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('name', 'varchar(256)')
        .addColumn('grantee_principal_id', 'varchar(256)', (c) => c.notNull())
        .addColumn('grantee_principal', 'varchar(256)', (c) => c.notNull())
        .addColumn('retiring_principal_id', 'varchar(256)')
        .addColumn('retiring_principal', 'varchar(256)')
        .addColumn('issuing_principal_id', 'varchar(256)', (c) => c.notNull())
        .addColumn('operations', 'text', (c) => c.notNull())
        .addColumn('constraints', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('token_secret', 'blob', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('grants_key').on('grants').columns(['key_id', 'grant_id']).execute();
      await db.schema
        .createIndex('grants_retiring')
        .on('grants')
        .columns(['tenant_id', 'retiring_principal_id', 'grant_id'])
        .execute();
    },
  },
  // Imported material (docs/aws.md, "Importing key material"): an import token is bound to the
  // wrapping algorithm it was issued for (AWS's GetParametersForImport), and an imported version
  // keeps a keyed digest of its material so that a re-import after DeleteImportedKeyMaterial can be
  // held to the same material. Null for tokens and versions from before.
  '0009_imported_material': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('import_tokens').addColumn('wrapping_algorithm', 'varchar(32)').execute();
      await db.schema.alterTable('key_versions').addColumn('material_digest', 'blob').execute();
      await db.schema.alterTable('key_versions').addColumn('material_digest_secret', 'blob').execute();
    },
  },
  // Leases (services/lease.ts): which process does the cluster's scheduled work, until when. One
  // row per kind of work, taken by one conditional upsert; bigint and varchar only, as on every
  // dialect.
  '0010_leases': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('leases')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('holder', 'varchar(200)', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  // Client tokens of CreateKey (docs/cluster.md): a retried request finds the key its first attempt
  // created. The primary key makes two concurrent claims of one token one claim.
  '0011_client_tokens': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('client_tokens')
        .addColumn('tenant_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('client_token', 'varchar(64)', (c) => c.notNull())
        .addColumn('request_digest', 'varchar(64)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('client_tokens_pk', ['tenant_id', 'client_token'])
        .execute();
      await db.schema.createIndex('client_tokens_created').on('client_tokens').column('created_at').execute();
    },
  },
  // HSM objects awaiting their copies on other backends (pkcs11-replication.ts), formerly a file in
  // each node's data directory: in the database any node holding the hsm-replication lease can copy
  // what another node could not.
  '0012_hsm_replication_pending': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('hsm_replication_pending')
        .addColumn('label', 'varchar(256)', (c) => c.primaryKey())
        .addColumn('object_class', 'bigint', (c) => c.notNull())
        .addColumn('source', 'varchar(128)', (c) => c.notNull())
        .addColumn('missing', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expired', 'integer', (c) => c.notNull())
        .execute();
    },
  },
  // Client tokens belong to a principal (found by review): keyed by tenant and token alone, another
  // principal of the tenant could claim a token first and make every CreateKey of the token's owner
  // answer ClientTokenMismatch for 24 hours. Neither dialect changes a primary key in place, so the
  // table is made anew. Claims made before cannot be given a principal (the table never held one)
  // and are dropped: a retry across the upgrade of a request sent before it creates a new key.
  '0013_client_tokens_per_principal': {
    async up(db: Kysely<unknown>) {
      await db.schema.dropTable('client_tokens').execute();
      await db.schema
        .createTable('client_tokens')
        .addColumn('tenant_id', 'varchar(128)', (c) => c.notNull())
        .addColumn('principal_id', 'varchar(256)', (c) => c.notNull())
        .addColumn('client_token', 'varchar(64)', (c) => c.notNull())
        .addColumn('request_digest', 'varchar(64)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('client_tokens_pk', ['tenant_id', 'principal_id', 'client_token'])
        .execute();
      await db.schema.createIndex('client_tokens_created').on('client_tokens').column('created_at').execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<unknown>, dialect: SqlDialect = 'sqlite'): Promise<void> {
  const migrator = new Migrator({ db: db.withPlugin(columnTypesOf(dialect)), provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}

/** Migrates only up to `name` (included): the database as the release that ended there left it. */
export async function migrateTo(
  db: Kysely<unknown>,
  name: string,
  dialect: SqlDialect = 'sqlite',
): Promise<void> {
  const { error } = await new Migrator({ db: db.withPlugin(columnTypesOf(dialect)), provider }).migrateTo(
    name,
  );
  if (error) throw new Error(`database migration to ${name} failed`, { cause: error });
}
