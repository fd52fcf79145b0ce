// The metadata port's contract on PostgreSQL: one throwaway cluster for the file, a fresh database
// per test, each handle a pool of its own (as another node's).
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStores } from '../../src/adapters/metadata/postgres/open-postgres.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { describeMetadataStoreContract } from './metadata-store-contract.js';

let cluster: PostgresCluster;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => cluster?.remove());

describeMetadataStoreContract('PostgreSQL', async () => {
  const url = await cluster.createDatabase();
  const settings = {
    url,
    poolSize: 4,
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
    tls: { verify: true },
  };
  return {
    open: () => openPostgresStores(settings),
    openAnother: () => openPostgresStores(settings),
    dispose: async () => undefined,
  };
});
