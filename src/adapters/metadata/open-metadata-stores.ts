// Which metadata database the configuration names: PostgreSQL when there is a database URL, else
// the embedded SQLite file in the data directory. Each is loaded only when named: a SQLite server
// never loads pg, a PostgreSQL one never better-sqlite3.
import { join } from 'node:path';
import type { KeyhavenConfig } from '../../config.js';
import { createPrivateFile } from '../private-files.js';
import type { ChangeFeed } from '../../ports/change-feed.js';
import type { MetadataStores } from './metadata-stores.js';
import type { SqlDialect } from './sql-dialect.js';

export interface OpenedMetadataStores extends MetadataStores {
  /** What /ready calls the metadata backend. */
  kind: SqlDialect;
}

export async function openMetadataStores(
  config: Pick<KeyhavenConfig, 'dataDir' | 'metadata' | 'database' | 'audit'>,
): Promise<OpenedMetadataStores> {
  const { url, ...settings } = config.database;
  if (url !== undefined) {
    const { openPostgresStores } = await import('./postgres/open-postgres.js');
    return { kind: 'postgres', ...(await openPostgresStores({ url, ...settings })) };
  }
  const { openSqliteStores } = await import('./sqlite/open-sqlite.js');
  const path = config.metadata.path ?? join(config.dataDir, 'keyhaven.db');
  createPrivateFile(path);
  return { kind: 'sqlite', ...(await openSqliteStores(path, { auditFsync: config.audit.fsync })) };
}

/**
 * The change feed between the processes sharing a PostgreSQL database (LISTEN/NOTIFY); undefined
 * on SQLite, whose processes need another (the composition root picks it).
 */
export async function openPostgresChangeFeed(
  config: Pick<KeyhavenConfig, 'database'>,
): Promise<ChangeFeed | undefined> {
  const { url, ...settings } = config.database;
  if (url === undefined) return undefined;
  const { PostgresChangeFeed } = await import('./postgres/postgres-change-feed.js');
  return PostgresChangeFeed.open({ url, ...settings });
}
