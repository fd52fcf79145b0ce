// The throwaway PostgreSQL cluster of the tests is the bench's (bench/postgres.ts), so that the
// bench, which is compiled without test/, starts its PostgreSQL rows' database the same way.
export {
  POSTGRES_PASSWORD,
  serverBinaries,
  startPostgres,
  type PostgresCluster,
  type PostgresOptions,
} from '../../bench/postgres.js';
