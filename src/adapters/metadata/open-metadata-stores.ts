// Which metadata database the configuration names: PostgreSQL when there is a database URL, else
// the embedded SQLite file in the data directory.
import { join } from 'node:path';
import type { KeyhavenConfig } from '../../config.js';
import { createPrivateFile } from '../private-files.js';
import type { ChangeFeed } from '../../ports/change-feed.js';
import type { MetadataStores } from './metadata-stores.js';
import { PostgresChangeFeed } from './postgres/postgres-change-feed.js';
import { openPostgresStores } from './postgres/open-postgres.js';
import type { SqlDialect } from './sql-dialect.js';
import { openSqliteStores } from './sqlite/open-sqlite.js';

export interface OpenedMetadataStores extends MetadataStores {
  /** What /ready calls the metadata backend. */
  kind: SqlDialect;
}

export async function openMetadataStores(
  config: Pick<KeyhavenConfig, 'dataDir' | 'metadata' | 'database' | 'audit'>,
): Promise<OpenedMetadataStores> {
  const { url, ...settings } = config.database;
  if (url !== undefined) return { kind: 'postgres', ...(await openPostgresStores({ url, ...settings })) };
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
  return url === undefined ? undefined : PostgresChangeFeed.open({ url, ...settings });
}
