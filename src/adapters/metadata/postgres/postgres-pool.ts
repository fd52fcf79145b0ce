// The connection pool to PostgreSQL, built from the configuration: size, timeouts, TLS, and how
// values come back (int8 as number, for this pool only).
import { readFileSync } from 'node:fs';
import pg from 'pg';

export interface PostgresSettings {
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  tls: { ca?: string; verify: boolean; cert?: string; key?: string };
}

/**
 * int8 (bigint: times in ms, counters, audit sequence numbers) as a JavaScript number, as
 * better-sqlite3 returns them; every value the stores keep there is below 2^53. Set on this pool's
 * clients only, never on pg's global parsers, which other code in the process may rely on.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function readPem(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${setting}: cannot read ${path}`, { cause: error });
  }
}

/**
 * TLS when a CA or a client certificate is configured; otherwise what the URL's sslmode says (pg
 * reads sslmode, sslrootcert, sslcert and sslkey from it, and they take precedence).
 */
export function tlsOptions(tls: PostgresSettings['tls']): pg.PoolConfig['ssl'] {
  if (tls.ca === undefined && tls.cert === undefined) return undefined;
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.ca === undefined ? {} : { ca: readPem('database.tls.ca', tls.ca) }),
    ...(tls.cert === undefined ? {} : { cert: readPem('database.tls.cert', tls.cert) }),
    ...(tls.key === undefined ? {} : { key: readPem('database.tls.key', tls.key) }),
  };
}

export interface PoolOptions {
  /** Statements without a timeout (migrations, which may run long on a large database). */
  noStatementTimeout?: boolean;
  max?: number;
}

export function createPool(settings: PostgresSettings, options: PoolOptions = {}): pg.Pool {
  const statementTimeout = options.noStatementTimeout
    ? {}
    : {
        // The server cancels the statement (57014)...
        statement_timeout: settings.statementTimeoutMs,
        // ...and the client stops waiting soon after, for a server that cannot even cancel (a network
        // partition, a stopped process).
        query_timeout: settings.statementTimeoutMs + 1000,
      };
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: options.max ?? settings.poolSize,
    // Opening a connection and waiting for a free one both end here.
    connectionTimeoutMillis: settings.connectTimeoutMs,
    ...statementTimeout,
    // A transaction left open by a request that died holds its locks no longer than this.
    idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
    keepAlive: true,
    application_name: 'keyhaven',
    ssl: tlsOptions(settings.tls),
    types,
  });
  // An idle connection the server dropped (a restart, an administrator) is an 'error' here; the
  // pool has already discarded it and opens a new one at the next checkout. Unhandled, the event
  // would end the process.
  pool.on('error', () => undefined);
  // The same event on a connection in use (the server restarting or terminating it while a
  // statement runs: 57P01, then "Connection terminated unexpectedly"): the pool listens only to its
  // idle connections, and Kysely to none. The statement fails with the error anyway (Unavailable),
  // and the pool discards the connection when it comes back; the event alone would end the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
