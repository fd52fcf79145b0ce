// The embedded metadata store: one SQLite file (better-sqlite3, WAL) behind the shared Kysely queries.
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  type DialectAdapter,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
} from 'kysely';
import { KmsError } from '../../../domain/errors.js';
import { KyselyAuditStore } from '../kysely-audit-store.js';
import { KyselyClientTokenStore } from '../kysely-client-token-store.js';
import { KyselyLeaseStore } from '../kysely-lease-store.js';
import { KyselyReplicationQueue } from '../kysely-replication-queue.js';
import { AuditWriterThread } from './audit-writer-thread.js';
import { KyselyGrantStore } from '../kysely-grant-store.js';
import { KyselyIdentityStore } from '../kysely-identity-store.js';
import { KyselyMetadataStore } from '../kysely-metadata-store.js';
import { migrateToLatest } from '../migrations/index.js';
import type { MetadataStores } from '../metadata-stores.js';
import type { Database } from '../schema.js';

/** The stores that share one database (closing metadata closes them all). */
export type SqliteStores = MetadataStores;

/**
 * Transactions take the write lock as they begin (BEGIN IMMEDIATE), waiting up to the busy timeout
 * for the audit writer's connection. A deferred transaction that reads, then writes, fails at once
 * (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT) when that connection committed in between: SQLite cannot wait
 * there without risking a deadlock.
 */
class ImmediateTransactionsDriver extends SqliteDriver {
  override async acquireConnection(): Promise<DatabaseConnection> {
    return new BusyAsUnavailable(await super.acquireConnection());
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * A lock held past the busy timeout (the audit writer stuck on a slow disk, another process) is
 * the database being unavailable, not an internal error: 503 with Retry-After, never 500.
 */
class BusyAsUnavailable implements DatabaseConnection {
  constructor(private readonly connection: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.connection.executeQuery<R>(query);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code)) {
        throw new KmsError('Unavailable', 'the database is busy; try again', {
          cause: error,
          retryAfterSeconds: 1,
        });
      }
      throw error;
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.connection.streamQuery<R>(query, chunkSize);
  }
}

/**
 * SQLite's DDL is transactional, though Kysely's adapter says otherwise: saying so makes the
 * migrator run all pending migrations in one transaction, as on PostgreSQL. A migration that fails
 * then leaves the file as it was instead of half migrated, the transaction (BEGIN IMMEDIATE) holds
 * the write lock against another process migrating the same file, and a fresh file costs one
 * commit, one flush to the disk, instead of one per statement (about 0.5 s of a server's start).
 */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateTransactionsDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateTransactionsDriver(this.settings);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlAdapter();
  }
}

/** How long a write waits for the other connection's (the audit writer's) lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

export interface SqliteOptions {
  /** Audit records fsynced before their reply (synchronous=FULL on the audit writer's connection). */
  auditFsync: boolean;
  /** How long a write waits for another connection's lock (default BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
}

export async function openSqliteStores(
  path: string,
  options: SqliteOptions = { auditFsync: true },
): Promise<SqliteStores> {
  const database = new BetterSqlite3(path);
  database.pragma('journal_mode = WAL');
  // FULL: a created key is on disk before the client sees it (its loss would orphan ciphertexts).
  database.pragma('synchronous = FULL');
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  database.pragma('foreign_keys = ON');
  // Deleted key material must not linger in free pages.
  database.pragma('secure_delete = ON');
  const db = new Kysely<Database>({ dialect: new ImmediateTransactionsDialect({ database }) });
  await migrateToLatest(db as unknown as Kysely<unknown>);
  return {
    metadata: new KyselyMetadataStore(db),
    identity: new KyselyIdentityStore(db),
    grants: new KyselyGrantStore(db),
    // An in-memory database cannot be shared with a second connection: appends stay on this one.
    audit: new KyselyAuditStore(
      db,
      path === ':memory:' || path === ''
        ? undefined
        : new AuditWriterThread(path, { busyTimeoutMs, fsync: options.auditFsync }),
    ),
    leases: new KyselyLeaseStore(db),
    clientTokens: new KyselyClientTokenStore(db),
    replicationQueue: new KyselyReplicationQueue(db),
  };
}

/**
 * A database file opened read-only, as it is, without migrating it: for offline inspection (the
 * audit chain's verification by `keyhaven audit verify --db`). Its tables must be current.
 */
export function openSqliteReadOnly(path: string): SqliteStores {
  const database = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return {
    metadata: new KyselyMetadataStore(db),
    identity: new KyselyIdentityStore(db),
    grants: new KyselyGrantStore(db),
    audit: new KyselyAuditStore(db),
    leases: new KyselyLeaseStore(db),
    clientTokens: new KyselyClientTokenStore(db),
    replicationQueue: new KyselyReplicationQueue(db),
  };
}
