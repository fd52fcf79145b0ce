// The PostgreSQL adapter on a throwaway cluster: several nodes migrating one empty database at
// once, failures as Unavailable (a statement past its timeout, a stopped server) and recovery, and
// the change feed between two processes, across a server restart.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataStores } from '../../src/adapters/metadata/metadata-stores.js';
import { openPostgresStores } from '../../src/adapters/metadata/postgres/open-postgres.js';
import { PostgresChangeFeed } from '../../src/adapters/metadata/postgres/postgres-change-feed.js';
import { createPool, type PostgresSettings } from '../../src/adapters/metadata/postgres/postgres-pool.js';
import { redactDatabaseUrl } from '../../src/adapters/metadata/postgres/database-url.js';
import type { Change } from '../../src/ports/change-feed.js';
import { POSTGRES_PASSWORD, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { key } from '../contract/metadata-store-contract.js';

const settingsFor = (url: string, overrides: Partial<PostgresSettings> = {}): PostgresSettings => ({
  url,
  poolSize: 4,
  statementTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  tls: { verify: true },
  ...overrides,
});

/** Resolves with the first change `feed` delivers that satisfies `wanted`. */
function nextChange(feed: PostgresChangeFeed, wanted: (change: Change) => boolean): Promise<Change> {
  return new Promise((resolve) => {
    const unsubscribe = feed.subscribe((change) => {
      if (!wanted(change)) return;
      unsubscribe();
      resolve(change);
    });
  });
}

describe('the PostgreSQL metadata adapter', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => cluster?.remove());

  it('migrates an empty database once when several nodes open it at the same moment', async () => {
    const url = await cluster.createDatabase();
    const opened = await Promise.all(Array.from({ length: 6 }, () => openPostgresStores(settingsFor(url))));
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const applied = await client.query<{ name: string }>('select name from kysely_migration order by name');
      const binary = await client.query<{ data_type: string }>(
        `select data_type from information_schema.columns where table_name = 'key_versions' and column_name = 'material'`,
      );
      await client.end();
      expect(applied.rows.map((r) => r.name)).toEqual(
        expect.arrayContaining(['0001_keys', '0009_imported_material']),
      );
      expect(binary.rows[0]!.data_type).toBe('bytea');
      const k = key();
      await opened[0]!.metadata.createKey(k, null, []);
      expect(await opened[5]!.metadata.getKey(k.keyId)).toEqual(k);
    } finally {
      await Promise.all(opened.map((s) => s.metadata.close()));
    }
  });

  it('fails a statement held up past the statement timeout with Unavailable, never waiting longer', async () => {
    const url = await cluster.createDatabase();
    const stores = await openPostgresStores(settingsFor(url));
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const k = key();
      await stores.metadata.createKey(k, null, []);
      await blocker.query('begin');
      await blocker.query('select * from keys where key_id = $1 for update', [k.keyId]);
      await expect(
        stores.metadata.updateKey({ ...k, description: 'blocked', updatedAt: new Date(5000) }, k.updatedAt),
      ).rejects.toMatchObject({ code: 'Unavailable', retryAfterSeconds: 1 });
      await blocker.query('rollback');
      await stores.metadata.updateKey({ ...k, description: 'free', updatedAt: new Date(5000) }, k.updatedAt);
      expect((await stores.metadata.getKey(k.keyId))?.description).toBe('free');
    } finally {
      await blocker.end();
      await stores.metadata.close();
    }
  });

  it('words a unique violation met after the check passed as the check would have (the alias taken)', async () => {
    const url = await cluster.createDatabase();
    const stores = await openPostgresStores(settingsFor(url, { statementTimeoutMs: 10_000 }));
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    try {
      const first = key();
      await stores.metadata.createKey(first, null, []);
      // Another node's uncommitted alias: the store's check does not see it, its insert waits.
      await writer.query('begin');
      await writer.query(
        `insert into aliases (tenant_id, name, key_id, created_at) values ('acme', 'alias/held', $1, 1)`,
        [first.keyId],
      );
      const second = key();
      const creating = stores.metadata.createKey(second, null, ['alias/held']);
      const outcome = creating.then(
        () => undefined,
        (error: unknown) => error,
      );
      for (;;) {
        const waiting = await writer.query(
          `select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`,
        );
        if (waiting.rowCount) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await writer.query('commit');
      const error = await outcome;
      expect(error).toMatchObject({
        code: 'Conflict',
        conflict: 'AlreadyExists',
        message: 'alias alias/held already exists',
        cause: { code: '23505', constraint: 'tenant_aliases_pk' },
      });
      expect(await stores.metadata.getKey(second.keyId)).toBeUndefined();
    } finally {
      await writer.end();
      await stores.metadata.close();
    }
  });

  it('answers Unavailable while the server is down and serves again once it is back, on the same pool', async () => {
    const url = await cluster.createDatabase();
    const stores: MetadataStores = await openPostgresStores(settingsFor(url));
    try {
      const k = key();
      await stores.metadata.createKey(k, null, []);
      await cluster.kill();
      try {
        const failure = await stores.metadata.getKey(k.keyId).then(
          () => undefined,
          (error: unknown) => error as Error,
        );
        expect(failure).toMatchObject({ code: 'Unavailable' });
        expect(failure?.message).not.toContain(POSTGRES_PASSWORD);
        await expect(stores.metadata.ping()).rejects.toMatchObject({ code: 'Unavailable' });
      } finally {
        await cluster.start();
      }
      expect(await stores.metadata.getKey(k.keyId)).toEqual(k);
    } finally {
      await stores.metadata.close();
    }
  });

  it('survives a connection ended by the server while a statement runs on it: the statement fails, the pool serves on', async () => {
    const url = await cluster.createDatabase();
    const pool = createPool(settingsFor(url, { statementTimeoutMs: 10_000 }));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const busy = await pool.connect();
      const { pid } = (await busy.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!;
      const sleeping = busy.query('select pg_sleep(5)').then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      // As a restarting server does to every session (57P01); the client then sees its socket end,
      // an 'error' event on a connection the pool has lent out (which once ended the process).
      await admin.query('select pg_terminate_backend($1)', [pid]);
      expect(await sleeping).toBeInstanceOf(Error);
      await new Promise((settle) => setTimeout(settle, 100));
      busy.release(true);
      expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await admin.end();
      await pool.end();
    }
  });

  it('never shows the password of a database URL', () => {
    expect(redactDatabaseUrl(`postgres://keyhaven:${POSTGRES_PASSWORD}@db:5432/kh?sslmode=require`)).toBe(
      'postgres://keyhaven:***@db:5432/kh?sslmode=require',
    );
    expect(redactDatabaseUrl(`not a url ${POSTGRES_PASSWORD}`)).not.toContain(POSTGRES_PASSWORD);
    // libpq (and pg) also take the password as a query parameter, in any letter case.
    const inQuery = redactDatabaseUrl(
      `postgres://db:5432/kh?user=keyhaven&password=${POSTGRES_PASSWORD}&sslmode=require&SSLPassword=${POSTGRES_PASSWORD}`,
    );
    expect(inQuery).not.toContain(POSTGRES_PASSWORD);
    expect(inQuery).toBe('postgres://db:5432/kh?user=keyhaven&password=***&sslmode=require&SSLPassword=***');
  });

  describe('the change feed', () => {
    it("delivers each process's changes to the others, never back to itself, and 'all' after a restart", async () => {
      const url = await cluster.createDatabase();
      const settings = settingsFor(url);
      const a = await PostgresChangeFeed.open(settings, { minBackoffMs: 50, maxBackoffMs: 200 });
      const b = await PostgresChangeFeed.open(settings, { minBackoffMs: 50, maxBackoffMs: 200 });
      try {
        const heardByA: Change[] = [];
        a.subscribe((change) => heardByA.push(change));
        const keyId = randomUUID();
        const atB = nextChange(b, (c) => c.kind === 'key');
        a.publish({ kind: 'key', keyId });
        expect(await atB).toEqual({ kind: 'key', keyId });
        const atA = nextChange(a, (c) => c.kind === 'tenant');
        b.publish({ kind: 'tenant', tenantId: 't1' });
        expect(await atA).toEqual({ kind: 'tenant', tenantId: 't1' });
        // A's own publication came back to nobody at A.
        expect(heardByA).toEqual([{ kind: 'tenant', tenantId: 't1' }]);

        const allAtA = nextChange(a, (c) => c.kind === 'all');
        const allAtB = nextChange(b, (c) => c.kind === 'all');
        await cluster.stop();
        // Published while the database is down: dropped, without an exception.
        expect(() => a.publish({ kind: 'credentials' })).not.toThrow();
        await cluster.start();
        expect(await allAtA).toEqual({ kind: 'all' });
        expect(await allAtB).toEqual({ kind: 'all' });
        const again = nextChange(b, (c) => c.kind === 'grants');
        a.publish({ kind: 'grants', keyId });
        expect(await again).toEqual({ kind: 'grants', keyId });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});
