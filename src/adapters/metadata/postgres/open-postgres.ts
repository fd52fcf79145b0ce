// The multi-node metadata store: PostgreSQL (pg's pool) behind the same Kysely stores as SQLite.
import {
  Kysely,
  PostgresAdapter,
  PostgresDriver,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import type pg from 'pg';
import { KyselyAuditStore } from '../kysely-audit-store.js';
import { KyselyClientTokenStore } from '../kysely-client-token-store.js';
import { KyselyLeaseStore } from '../kysely-lease-store.js';
import { KyselyReplicationQueue } from '../kysely-replication-queue.js';
import { KyselyGrantStore } from '../kysely-grant-store.js';
import { KyselyIdentityStore } from '../kysely-identity-store.js';
import { KyselyMetadataStore } from '../kysely-metadata-store.js';
import type { MetadataStores } from '../metadata-stores.js';
import { migrateToLatest } from '../migrations/index.js';
import type { Database } from '../schema.js';
import { databaseFailure } from './postgres-errors.js';
import { createPool, type PostgresSettings } from './postgres-pool.js';

/** Every query's failure goes through databaseFailure (postgres-errors.ts). */
class FailureMappingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (error) {
      throw databaseFailure(error);
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** Kysely's own connection class, which it does not export. */
type PgConnection = Parameters<PostgresDriver['releaseConnection']>[0];

const innerOf = (connection: DatabaseConnection) =>
  (connection instanceof FailureMappingConnection ? connection.inner : connection) as PgConnection;

/** Kysely's driver, with pool checkouts and queries failing as postgres-errors.ts says. */
class FailureMappingDriver extends PostgresDriver {
  override async acquireConnection(): Promise<DatabaseConnection> {
    try {
      return new FailureMappingConnection(await super.acquireConnection());
    } catch (error) {
      throw databaseFailure(error);
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // Kysely marks a connection whose rollback failed for discard: it needs its own object.
    try {
      await super.rollbackTransaction(innerOf(connection));
    } catch (error) {
      throw databaseFailure(error);
    }
  }

  override async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await super.releaseConnection(innerOf(connection));
  }
}

function dialectOver(pool: pg.Pool): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: (): Driver => new FailureMappingDriver({ pool }),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
}

/**
 * Migrates on a connection of its own, without the statement timeout (a migration may run long
 * on a large database, and waits for another node's migration lock), then opens the request pool.
 */
export async function openPostgresStores(settings: PostgresSettings): Promise<MetadataStores> {
  const migrating = new Kysely<unknown>({
    dialect: dialectOver(createPool(settings, { noStatementTimeout: true, max: 1 })),
  });
  try {
    await migrateToLatest(migrating, 'postgres');
  } finally {
    await migrating.destroy();
  }
  const db = new Kysely<Database>({ dialect: dialectOver(createPool(settings)) });
  return {
    metadata: new KyselyMetadataStore(db, 'postgres'),
    identity: new KyselyIdentityStore(db),
    grants: new KyselyGrantStore(db, 'postgres'),
    audit: new KyselyAuditStore(db),
    leases: new KyselyLeaseStore(db),
    clientTokens: new KyselyClientTokenStore(db),
    replicationQueue: new KyselyReplicationQueue(db),
  };
}
