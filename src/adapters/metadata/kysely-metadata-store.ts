// MetadataStore over Kysely: the queries every SQL dialect shares. Dialect adapters (sqlite/,
// postgres/) only open the connection and run migrations; where SQL must differ, sql-dialect.ts.
// Every check-then-write here must hold when other processes write at once (PostgreSQL's READ
// COMMITTED, several nodes): a conditional statement whose row count decides, a unique key, or a
// lock from sql-dialect.ts.
import { sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import {
  KmsError,
  alreadyExists,
  concurrentModification,
  invalidMarker,
  keyQuotaReached,
} from '../../domain/errors.js';
import type { AuditEntry } from '../../domain/audit-record.js';
import type { Key, KeyVersion, KeyVersionState, RotationKind } from '../../domain/key.js';
import { DEFAULT_TENANT } from '../../domain/request-context.js';
import type { KeySpec, KeyUsage, ProtectionLevel } from '../../domain/key-spec.js';
import type { KeyState } from '../../domain/key-state.js';
import type {
  AliasListFilter,
  AliasRecord,
  DueCursor,
  ImportToken,
  KeyListFilter,
  KeyUsageRecord,
  MetadataStore,
  QueuedDestruction,
  RestoredKey,
  SealReservation,
  UsageCounts,
} from '../../ports/metadata-store.js';
import type { AliasesTable, Database, KeysTable, KeyVersionsTable } from './schema.js';
import { appendEntryIn, retryWhileSeqTaken } from './kysely-audit-store.js';
import { serializeOn, type SqlDialect } from './sql-dialect.js';

const toMs = (d: Date | null) => (d === null ? null : d.getTime());
const toDate = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)));

function keyToRow(key: Key): KeysTable {
  return {
    key_id: key.keyId,
    key_spec: key.keySpec,
    key_usage: key.keyUsage,
    state: key.state,
    protection_level: key.protectionLevel,
    origin: key.origin,
    current_version: key.currentVersion,
    description: key.description,
    tags: JSON.stringify(key.tags),
    created_at: key.createdAt.getTime(),
    updated_at: key.updatedAt.getTime(),
    rotation_period_days: key.rotationPeriodDays,
    next_rotation_at: toMs(key.nextRotationAt),
    expires_at: toMs(key.expiresAt),
    deletion_date: toMs(key.deletionDate),
    exportable: key.exportable ? 1 : 0,
    public_key_only: key.publicKeyOnly ? 1 : 0,
    tenant: key.tenant,
  };
}

function rowToKey(row: Selectable<KeysTable>): Key {
  return {
    keyId: row.key_id,
    keySpec: row.key_spec as KeySpec,
    keyUsage: row.key_usage as KeyUsage,
    state: row.state as KeyState,
    protectionLevel: row.protection_level as ProtectionLevel,
    origin: row.origin as Key['origin'],
    currentVersion: Number(row.current_version),
    description: row.description,
    tags: JSON.parse(row.tags) as Record<string, string>,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    rotationPeriodDays: row.rotation_period_days,
    nextRotationAt: toDate(row.next_rotation_at),
    expiresAt: toDate(row.expires_at),
    deletionDate: toDate(row.deletion_date),
    exportable: row.exportable === 1,
    publicKeyOnly: row.public_key_only === 1,
    tenant: row.tenant ?? DEFAULT_TENANT,
  };
}

function rowToVersion(row: Selectable<KeyVersionsTable>): KeyVersion {
  return {
    keyId: row.key_id,
    version: Number(row.version),
    state: row.state as KeyVersionState,
    createdAt: new Date(Number(row.created_at)),
    material: Buffer.from(row.material),
    publicKeySpki: row.public_key_spki ? Buffer.from(row.public_key_spki) : null,
    ...(row.rotation ? { rotation: row.rotation as RotationKind } : {}),
    materialFingerprint:
      row.material_digest && row.material_digest_secret
        ? { digest: Buffer.from(row.material_digest), wrappedSecret: Buffer.from(row.material_digest_secret) }
        : null,
  };
}

function rowToAlias(row: Selectable<AliasesTable>): AliasRecord {
  const createdAt = new Date(Number(row.created_at));
  return {
    name: row.name,
    keyId: row.key_id,
    createdAt,
    updatedAt: row.updated_at === null ? createdAt : new Date(Number(row.updated_at)),
  };
}

// An alias page's cursor: the last name of the page. Names are unique within a tenant and sort
// stably, so paging resumes after it whatever changed meanwhile.
const ALIAS_CURSOR = /^alias\/[A-Za-z0-9/_-]{1,250}$/;

const encodeAliasCursor = (name: string) => Buffer.from(`a:${name}`).toString('base64url');

function decodeAliasCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  const name = text.startsWith('a:') ? text.slice(2) : '';
  if (!ALIAS_CURSOR.test(name) || encodeAliasCursor(name) !== cursor) throw invalidMarker();
  return name;
}

/** Rows strictly after the cursor in (column, key_id) order. */
function afterCursor(column: 'next_rotation_at' | 'deletion_date', after: DueCursor) {
  return (eb: ExpressionBuilder<Database, 'keys'>) =>
    eb.or([
      eb(column, '>', after.dueAt.getTime()),
      eb.and([eb(column, '=', after.dueAt.getTime()), eb('key_id', '>', after.keyId)]),
    ]);
}

function encodeCursor(key: Key): string {
  return Buffer.from(`${key.createdAt.getTime()}:${key.keyId}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; keyId: string } {
  const match = /^(\d+):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw invalidMarker();
  return { createdAt: Number(match[1]), keyId: match[2]! };
}

export class KyselyMetadataStore implements MetadataStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect = 'sqlite',
  ) {}

  async createKey(
    key: Key,
    firstVersion: KeyVersion | null,
    aliases: string[],
    maxKeys?: number,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (maxKeys !== undefined) {
        // Counted in the transaction that inserts, under the tenant's lock: concurrent creates
        // cannot all pass the check.
        await serializeOn(trx, this.dialect, `keys:${key.tenant}`);
        const row = await trx
          .selectFrom('keys')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('tenant', '=', key.tenant)
          .executeTakeFirstOrThrow();
        if (Number(row.n) >= maxKeys) throw keyQuotaReached(maxKeys);
      }
      // A fixed id (a client token's, a seed file's) may be taken; a concurrent create of the same
      // id that passes this check too meets the primary key (PostgreSQL: the same AlreadyExists).
      const taken = await trx
        .selectFrom('keys')
        .select('key_id')
        .where('key_id', '=', key.keyId)
        .executeTakeFirst();
      if (taken) throw alreadyExists(`key ${key.keyId} exists already`);
      await trx.insertInto('keys').values(keyToRow(key)).execute();
      await this.writeTags(trx, key);
      if (firstVersion) await this.insertVersion(trx, firstVersion);
      for (const name of aliases) {
        // A concurrent create of the same alias that passes this check too meets the primary key
        // (PostgreSQL: unique violation, AlreadyExists as well).
        const taken = await trx
          .selectFrom('aliases')
          .select('name')
          .where('tenant_id', '=', key.tenant)
          .where('name', '=', name)
          .executeTakeFirst();
        if (taken) throw alreadyExists(`alias ${name} already exists`);
        await trx
          .insertInto('aliases')
          .values({ tenant_id: key.tenant, name, key_id: key.keyId, created_at: key.createdAt.getTime() })
          .execute();
      }
    });
  }

  async restoreKeys(keys: RestoredKey[], maxKeys?: number): Promise<Map<string, string[]>> {
    return this.db.transaction().execute(async (trx) => {
      const ids = keys.map((entry) => entry.key.keyId);
      if (ids.length === 0) return new Map();
      // Under each tenant's lock, as createKey: concurrent restores and creates count one after
      // the other, never past the quota. In one order, so two restores never wait on each other.
      const tenants = [...new Set(keys.map(({ key }) => key.tenant))].sort();
      for (const tenant of tenants) await serializeOn(trx, this.dialect, `keys:${tenant}`);
      const existing = await trx.selectFrom('keys').select('key_id').where('key_id', 'in', ids).execute();
      if (existing.length > 0) {
        throw alreadyExists(`key ${existing.map((row) => row.key_id).join(', ')} exists already`);
      }
      if (maxKeys !== undefined) {
        const adding = new Map<string, number>();
        for (const { key } of keys) adding.set(key.tenant, (adding.get(key.tenant) ?? 0) + 1);
        for (const [tenant, count] of adding) {
          const row = await trx
            .selectFrom('keys')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('tenant', '=', tenant)
            .executeTakeFirstOrThrow();
          if (Number(row.n) + count > maxKeys) throw keyQuotaReached(maxKeys);
        }
      }
      const given = new Map<string, string[]>();
      for (const { key, versions, aliases } of keys) {
        await trx.insertInto('keys').values(keyToRow(key)).execute();
        await this.writeTags(trx, key);
        for (const { version, sealsReserved } of versions) {
          await this.insertVersion(trx, version);
          if (sealsReserved > 0) {
            await trx
              .updateTable('key_versions')
              .set({ seals_reserved: sealsReserved })
              .where('key_id', '=', key.keyId)
              .where('version', '=', version.version)
              .execute();
          }
        }
        const names: string[] = [];
        for (const name of aliases) {
          // "When free": a name taken in this deployment stays with its key.
          const result = await trx
            .insertInto('aliases')
            .values({ tenant_id: key.tenant, name, key_id: key.keyId, created_at: key.createdAt.getTime() })
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst();
          if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) names.push(name);
        }
        given.set(key.keyId, names);
      }
      return given;
    });
  }

  async sealsReserved(keyId: string): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('key_versions')
      .select(['version', 'seals_reserved'])
      .where('key_id', '=', keyId)
      .execute();
    return new Map(rows.map((row) => [Number(row.version), Number(row.seals_reserved)]));
  }

  async getKey(keyId: string): Promise<Key | undefined> {
    const row = await this.db.selectFrom('keys').selectAll().where('key_id', '=', keyId).executeTakeFirst();
    return row ? rowToKey(row) : undefined;
  }

  async listKeys(filter: KeyListFilter): Promise<{ keys: Key[]; nextCursor: string | null }> {
    let query = this.db.selectFrom('keys').selectAll('keys').where('keys.tenant', '=', filter.tenant);
    if (filter.state) query = query.where('keys.state', '=', filter.state);
    if (filter.alias) {
      const alias = filter.alias;
      query = query.where('keys.key_id', 'in', (eb) =>
        eb
          .selectFrom('aliases')
          .select('aliases.key_id')
          .where('aliases.tenant_id', '=', filter.tenant)
          .where('aliases.name', '=', alias),
      );
    }
    if (filter.tag) {
      const tag = filter.tag;
      query = query.where('keys.key_id', 'in', (eb) =>
        eb
          .selectFrom('key_tags')
          .select('key_tags.key_id')
          .where('key_tags.tag_key', '=', tag.key)
          .where('key_tags.tag_value', '=', tag.value),
      );
    }
    if (filter.cursor) {
      const after = decodeCursor(filter.cursor);
      query = query.where((eb) =>
        eb.or([
          eb('keys.created_at', '>', after.createdAt),
          eb.and([eb('keys.created_at', '=', after.createdAt), eb('keys.key_id', '>', after.keyId)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('keys.created_at')
      .orderBy('keys.key_id')
      .limit(filter.limit + 1)
      .execute();
    const keys = rows.slice(0, filter.limit).map(rowToKey);
    const last = keys[keys.length - 1];
    return { keys, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
  }

  async updateKey(key: Key, expectedUpdatedAt: Date): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.writeKeyRow(trx, key, expectedUpdatedAt);
      await this.writeTags(trx, key);
    });
  }

  async addVersion(
    key: Key,
    version: KeyVersion,
    expectedUpdatedAt: Date,
    audit?: AuditEntry,
  ): Promise<void> {
    const write = () =>
      this.db.transaction().execute(async (trx) => {
        await this.writeKeyRow(trx, key, expectedUpdatedAt);
        await this.insertVersion(trx, version);
        if (audit) await appendEntryIn(trx, audit);
      });
    await (audit ? retryWhileSeqTaken(write) : write());
  }

  async destroyImportedMaterial(
    key: Key,
    expectedUpdatedAt: Date,
    queuedAt: Date,
  ): Promise<QueuedDestruction[]> {
    return this.db.transaction().execute(async (trx) => {
      await this.writeKeyRow(trx, key, expectedUpdatedAt);
      const versions = await trx
        .selectFrom('key_versions')
        .selectAll()
        .where('key_id', '=', key.keyId)
        .where('state', '=', 'Enabled')
        .execute();
      const queued = versions.map((row) => ({
        key_id: key.keyId,
        version: row.version,
        key_spec: key.keySpec,
        protection_level: key.protectionLevel,
        material: row.material,
        queued_at: queuedAt.getTime(),
      }));
      for (const row of queued) {
        // A version destroyed, re-imported and destroyed again before the queue was worked off is
        // queued once, with what it holds now.
        await trx
          .insertInto('material_destruction')
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(['key_id', 'version'])
              .doUpdateSet({ material: row.material, queued_at: row.queued_at }),
          )
          .execute();
      }
      // The rows stay (old ciphertexts name their version; the fingerprint holds a re-import to
      // the same material), without their material.
      await trx
        .updateTable('key_versions')
        .set({ state: 'Destroyed', material: Buffer.alloc(0) })
        .where('key_id', '=', key.keyId)
        .where('state', '=', 'Enabled')
        .execute();
      return queued.map((row) => ({
        keyId: row.key_id,
        keySpec: key.keySpec,
        protectionLevel: key.protectionLevel,
        version: {
          keyId: row.key_id,
          version: Number(row.version),
          state: 'Enabled' as const,
          createdAt: queuedAt,
          material: Buffer.from(row.material),
          publicKeySpki: null,
        },
      }));
    });
  }

  async restoreVersion(key: Key, version: KeyVersion, expectedUpdatedAt: Date): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.writeKeyRow(trx, key, expectedUpdatedAt);
      const result = await trx
        .updateTable('key_versions')
        .set({
          state: version.state,
          material: version.material,
          public_key_spki: version.publicKeySpki,
          ...fingerprintColumns(version),
        })
        .where('key_id', '=', version.keyId)
        .where('version', '=', version.version)
        .where('state', '=', 'Destroyed')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) {
        throw concurrentModification(
          `key ${key.keyId} version ${version.version} was changed concurrently; retry`,
        );
      }
    });
  }

  async getVersion(keyId: string, version: number): Promise<KeyVersion | undefined> {
    const row = await this.db
      .selectFrom('key_versions')
      .selectAll()
      .where('key_id', '=', keyId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? rowToVersion(row) : undefined;
  }

  async listVersions(keyId: string): Promise<KeyVersion[]> {
    const rows = await this.db
      .selectFrom('key_versions')
      .selectAll()
      .where('key_id', '=', keyId)
      .orderBy('version')
      .execute();
    return rows.map(rowToVersion);
  }

  async reserveSeals(keyId: string, version: number, count: number, max: number): Promise<SealReservation> {
    // One conditional UPDATE per attempt, never a read-then-write transaction: processes sharing the
    // database (SQLite WAL, or PostgreSQL) serialise on it without a lock upgrade that could fail.
    // Near the bound the request halves until what is left fits.
    for (let wanted = count; wanted >= 1; wanted = Math.floor(wanted / 2)) {
      const row = await this.db
        .updateTable('key_versions')
        .set((eb) => ({ seals_reserved: eb('seals_reserved', '+', wanted) }))
        .where('key_id', '=', keyId)
        .where('version', '=', version)
        .where((eb) => eb(eb('seals_reserved', '+', wanted), '<=', max))
        .returning('seals_reserved')
        .executeTakeFirst();
      if (row) return { first: Number(row.seals_reserved) - wanted, granted: wanted };
    }
    const exists = await this.getVersion(keyId, version);
    if (!exists) throw new KmsError('NotFound', `key ${keyId} has no version ${version}`);
    return { first: max, granted: 0 };
  }

  async deleteKeyIfDue(keyId: string, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The state check and the removal are one transaction: a cancel-deletion that committed first
      // leaves the key Disabled and this deletes nothing.
      const due = await trx
        .selectFrom('keys')
        .select(['key_spec', 'protection_level'])
        .where('key_id', '=', keyId)
        .where('state', '=', 'PendingDeletion')
        .where('deletion_date', '<=', now.getTime())
        .executeTakeFirst();
      if (!due) return false;
      const versions = await trx.selectFrom('key_versions').selectAll().where('key_id', '=', keyId).execute();
      if (versions.length > 0) {
        await trx
          .insertInto('material_destruction')
          .values(
            versions.map((v) => ({
              key_id: keyId,
              version: v.version,
              key_spec: due.key_spec,
              protection_level: due.protection_level,
              material: v.material,
              queued_at: now.getTime(),
            })),
          )
          .execute();
      }
      // Overwrite material before deleting the rows, so freed pages do not keep wrapped blobs.
      await trx
        .updateTable('key_versions')
        .set({ material: Buffer.alloc(0) })
        .where('key_id', '=', keyId)
        .execute();
      await trx.deleteFrom('key_versions').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('aliases').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('key_tags').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('key_usage').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('import_tokens').where('key_id', '=', keyId).execute();
      // The key policy goes with its key.
      await trx
        .deleteFrom('policy_versions')
        .where('policy_id', 'in', (eb) =>
          eb.selectFrom('policies').select('policy_id').where('key_id', '=', keyId),
        )
        .execute();
      await trx.deleteFrom('policies').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('grants').where('key_id', '=', keyId).execute();
      await trx.deleteFrom('keys').where('key_id', '=', keyId).execute();
      return true;
    });
  }

  async queuedDestructions(limit: number, after?: QueuedDestruction): Promise<QueuedDestruction[]> {
    let query = this.db.selectFrom('material_destruction').selectAll();
    if (after) {
      const at = after.version.createdAt.getTime();
      query = query.where((eb) =>
        eb.or([
          eb('queued_at', '>', at),
          eb.and([eb('queued_at', '=', at), eb('key_id', '>', after.keyId)]),
          eb.and([
            eb('queued_at', '=', at),
            eb('key_id', '=', after.keyId),
            eb('version', '>', after.version.version),
          ]),
        ]),
      );
    }
    const rows = await query.orderBy('queued_at').orderBy('key_id').orderBy('version').limit(limit).execute();
    return rows.map((row) => ({
      keyId: row.key_id,
      keySpec: row.key_spec as KeySpec,
      protectionLevel: row.protection_level as ProtectionLevel,
      version: {
        keyId: row.key_id,
        version: Number(row.version),
        state: 'Enabled',
        createdAt: new Date(Number(row.queued_at)),
        material: Buffer.from(row.material),
        publicKeySpki: null,
      },
    }));
  }

  async completeDestruction(keyId: string, version: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('material_destruction')
        .set({ material: Buffer.alloc(0) })
        .where('key_id', '=', keyId)
        .where('version', '=', version)
        .execute();
      await trx
        .deleteFrom('material_destruction')
        .where('key_id', '=', keyId)
        .where('version', '=', version)
        .execute();
    });
  }

  async resolveAlias(tenant: string, name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('aliases')
      .select('key_id')
      .where('tenant_id', '=', tenant)
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.key_id;
  }

  async putAlias(tenant: string, name: string, keyId: string, at: Date): Promise<void> {
    await this.db
      .insertInto('aliases')
      .values({ tenant_id: tenant, name, key_id: keyId, created_at: at.getTime() })
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'name']).doUpdateSet({ key_id: keyId, updated_at: at.getTime() }),
      )
      .execute();
  }

  async createAlias(tenant: string, name: string, keyId: string, at: Date): Promise<void> {
    const result = await this.db
      .insertInto('aliases')
      .values({ tenant_id: tenant, name, key_id: keyId, created_at: at.getTime() })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0)
      throw alreadyExists(`alias ${name} already exists`);
  }

  async updateAlias(
    tenant: string,
    name: string,
    fromKeyId: string,
    toKeyId: string,
    at: Date,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('aliases')
      .set({ key_id: toKeyId, updated_at: at.getTime() })
      .where('tenant_id', '=', tenant)
      .where('name', '=', name)
      .where('key_id', '=', fromKeyId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listAliasPage(
    filter: AliasListFilter,
  ): Promise<{ aliases: AliasRecord[]; nextCursor: string | null }> {
    let query = this.db
      .selectFrom('aliases')
      .selectAll()
      .where('tenant_id', '=', filter.tenant)
      .orderBy('name')
      .limit(filter.limit + 1);
    if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
    if (filter.cursor !== undefined) query = query.where('name', '>', decodeAliasCursor(filter.cursor));
    const rows = await query.execute();
    const aliases = rows.slice(0, filter.limit).map(rowToAlias);
    const last = aliases.at(-1);
    return { aliases, nextCursor: rows.length > filter.limit && last ? encodeAliasCursor(last.name) : null };
  }

  async deleteAlias(tenant: string, name: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('aliases')
      .where('tenant_id', '=', tenant)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listAliases(
    tenant: string,
    keyId?: string,
  ): Promise<{ name: string; keyId: string; createdAt: Date }[]> {
    let query = this.db.selectFrom('aliases').selectAll().where('tenant_id', '=', tenant).orderBy('name');
    if (keyId) query = query.where('key_id', '=', keyId);
    const rows = await query.execute();
    return rows.map((r) => ({ name: r.name, keyId: r.key_id, createdAt: new Date(Number(r.created_at)) }));
  }

  async aliasesOf(keyIds: string[]): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>(keyIds.map((id) => [id, []]));
    if (keyIds.length === 0) return result;
    const rows = await this.db
      .selectFrom('aliases')
      .select(['name', 'key_id'])
      .where('key_id', 'in', keyIds)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    for (const row of rows) result.get(row.key_id)?.push(row.name);
    return result;
  }

  async saveImportToken(token: ImportToken): Promise<void> {
    await this.db
      .insertInto('import_tokens')
      .values({
        id: token.id,
        key_id: token.keyId,
        wrapped_private_key: token.wrappedPrivateKey,
        expires_at: token.expiresAt.getTime(),
        wrapping_algorithm: token.wrappingAlgorithm,
      })
      .execute();
  }

  async takeImportToken(id: string, keyId: string): Promise<ImportToken | undefined> {
    // One DELETE ... RETURNING: of two concurrent takers only the one whose statement removed the
    // row gets it, so a token is never used twice.
    const row = await this.db
      .deleteFrom('import_tokens')
      .where('id', '=', id)
      .where('key_id', '=', keyId)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      keyId: row.key_id,
      wrappedPrivateKey: Buffer.from(row.wrapped_private_key),
      expiresAt: new Date(Number(row.expires_at)),
      wrappingAlgorithm: row.wrapping_algorithm,
    };
  }

  async addUsage(counts: UsageCounts, at: Date): Promise<void> {
    if (counts.size === 0) return;
    // Upserts that add (never read, then write), in one order across processes: two flushes
    // touching the same rows take their row locks in the same sequence and cannot deadlock.
    const rows = [...counts].flatMap(([keyId, operations]) =>
      [...operations].map(([operation, count]) => ({ keyId, operation, count })),
    );
    rows.sort((a, b) =>
      a.keyId === b.keyId ? compare(a.operation, b.operation) : compare(a.keyId, b.keyId),
    );
    await this.db.transaction().execute(async (trx) => {
      for (const { keyId, operation, count } of rows) {
        await trx
          .insertInto('key_usage')
          .values({ key_id: keyId, operation, count, last_used_at: at.getTime() })
          .onConflict((oc) =>
            oc.columns(['key_id', 'operation']).doUpdateSet({
              count: sql`key_usage.count + ${count}`,
              last_used_at: at.getTime(),
            }),
          )
          .execute();
      }
    });
  }

  async getUsage(keyId: string): Promise<KeyUsageRecord> {
    const rows = await this.db.selectFrom('key_usage').selectAll().where('key_id', '=', keyId).execute();
    const counts: Record<string, number> = {};
    let lastUsedAt: number | null = null;
    for (const row of rows) {
      counts[row.operation] = Number(row.count);
      lastUsedAt = Math.max(lastUsedAt ?? 0, Number(row.last_used_at));
    }
    return { counts, lastUsedAt: toDate(lastUsedAt) };
  }

  async countKeys(tenant: string): Promise<number> {
    const row = await this.db
      .selectFrom('keys')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenant', '=', tenant)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async keysDueForRotation(now: Date, limit: number, after?: DueCursor): Promise<Key[]> {
    let query = this.db
      .selectFrom('keys')
      .selectAll()
      .where('state', '=', 'Enabled')
      .where('next_rotation_at', 'is not', null)
      .where('next_rotation_at', '<=', now.getTime());
    if (after) query = query.where(afterCursor('next_rotation_at', after));
    const rows = await query.orderBy('next_rotation_at').orderBy('key_id').limit(limit).execute();
    return rows.map(rowToKey);
  }

  async keysDueForDeletion(now: Date, limit: number, after?: DueCursor): Promise<Key[]> {
    let query = this.db
      .selectFrom('keys')
      .selectAll()
      .where('state', '=', 'PendingDeletion')
      .where('deletion_date', '<=', now.getTime());
    if (after) query = query.where(afterCursor('deletion_date', after));
    const rows = await query.orderBy('deletion_date').orderBy('key_id').limit(limit).execute();
    return rows.map(rowToKey);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  private async writeKeyRow(trx: Transaction<Database>, key: Key, expectedUpdatedAt: Date): Promise<void> {
    const { key_id: _id, created_at: _created, ...changes } = keyToRow(key);
    const result = await trx
      .updateTable('keys')
      .set(changes)
      .where('key_id', '=', key.keyId)
      .where('updated_at', '=', expectedUpdatedAt.getTime())
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      throw concurrentModification(`key ${key.keyId} was changed concurrently; retry`);
    }
  }

  private async writeTags(trx: Transaction<Database>, key: Key): Promise<void> {
    await trx.deleteFrom('key_tags').where('key_id', '=', key.keyId).execute();
    const rows = Object.entries(key.tags).map(([tag_key, tag_value]) => ({
      key_id: key.keyId,
      tag_key,
      tag_value,
    }));
    if (rows.length > 0) await trx.insertInto('key_tags').values(rows).execute();
  }

  private async insertVersion(trx: Transaction<Database>, version: KeyVersion): Promise<void> {
    await trx
      .insertInto('key_versions')
      .values({
        key_id: version.keyId,
        version: version.version,
        state: version.state,
        created_at: version.createdAt.getTime(),
        material: version.material,
        public_key_spki: version.publicKeySpki,
        rotation: version.rotation ?? null,
        ...fingerprintColumns(version),
      })
      .execute();
  }
}

const fingerprintColumns = (version: KeyVersion) => ({
  material_digest: version.materialFingerprint?.digest ?? null,
  material_digest_secret: version.materialFingerprint?.wrappedSecret ?? null,
});

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
