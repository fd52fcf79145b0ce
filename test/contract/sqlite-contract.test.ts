// The metadata port's contract on SQLite: a fresh database file per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';
import { describeMetadataStoreContract } from './metadata-store-contract.js';

describeMetadataStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-contract-'));
  const path = join(dir, 'keyhaven.db');
  return {
    open: () => openSqliteStores(path, { auditFsync: false }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
