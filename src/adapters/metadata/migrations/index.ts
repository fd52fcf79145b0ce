// Schema migrations, in order. Written with Kysely's schema builder so both dialects run them.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

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
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}
