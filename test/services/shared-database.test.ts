// Two Keyhaven instances in one test process, opened on the same SQLite file (or PostgreSQL
// database), stand for two workers (or nodes): each has its own connections, its own audit writer
// and its own caches.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { internalContext } from '../../src/domain/request-context.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { openSqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';
import { Lease } from '../../src/services/lease.js';
import type { AuditEntry } from '../../src/domain/audit-record.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';

const entry = (action: string): AuditEntry => ({
  time: new Date().toISOString(),
  requestId: randomUUID(),
  tenantId: 'default',
  principalId: 'test',
  action,
  result: 'allow',
  sourceIp: '127.0.0.1',
  latencyMs: 1,
});

describe.each(['SQLite', 'PostgreSQL'] as const)('processes sharing one %s database', (dialect) => {
  let dataDir: string;
  let instances: Keyhaven[];
  let postgres: PostgresCluster | undefined;

  beforeAll(async () => {
    if (dialect === 'PostgreSQL') postgres = await startPostgres();
  });
  afterAll(async () => postgres?.remove());

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-shared-'));
    // One data directory: the two share its root key, as nodes share theirs (docs/deploy.md).
    const env: Record<string, string> = { KEYHAVEN_DATA_DIR: dataDir, KEYHAVEN_CONFIG: '' };
    if (postgres) env.KEYHAVEN_DATABASE_URL = await postgres.createDatabase();
    const first = await createKeyhaven(loadConfig({ ...env }));
    instances = [first, await createKeyhaven(loadConfig({ ...env }))];
  });

  afterEach(async () => {
    for (const instance of instances) await instance.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('two audit logs appending at once keep one chain: each append that found it moved is chained again', async () => {
    const [a, b] = instances as [Keyhaven, Keyhaven];
    // One collision for certain: a's next append starts from the head it last wrote, which b has
    // moved since (whether the concurrent appends below collide depends on timing).
    await a.audit.record(entry('A'));
    await b.audit.record(entry('B'));
    await a.audit.record(entry('A'));
    expect(a.audit.chainRetries).toBe(1);
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 150; i++) {
      appends.push(a.audit.record(entry('A')), b.audit.record(entry('B')));
      // Separate batches, so that the two writers interleave rather than write one batch each.
      if (i % 10 === 9) await new Promise((turn) => setImmediate(turn));
    }
    await Promise.all(appends);
    expect(a.audit.chainRetries + b.audit.chainRetries).toBeGreaterThan(0);
    const verification = await a.audit.verifyLogs(internalContext('VerifyLogs', randomUUID()), {});
    expect(verification.valid).toBe(true);
    expect(verification.records).toBe(303);
  });

  it('a checkpoint signs the stored head, records the other process wrote included', async () => {
    const [a, b] = instances as [Keyhaven, Keyhaven];
    await a.audit.record(entry('A'));
    await b.audit.record(entry('B'));
    await b.audit.record(entry('B'));
    await a.audit.checkpoint();
    const verification = await b.audit.verifyLogs(internalContext('VerifyLogs', randomUUID()), {});
    expect(verification).toMatchObject({ valid: true, records: 3, unsignedTail: 0 });
  });
});

describe('leases', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-lease-'));
  });

  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('one holder at a time: renewed by its holder, refused to others, taken over once it expired, free once released', async () => {
    const path = join(dataDir, 'keyhaven.db');
    const one = await openSqliteStores(path, { auditFsync: false });
    const two = await openSqliteStores(path, { auditFsync: false });
    const at = (ms: number) => new Date(1_000_000 + ms);
    expect(await one.leases.tryAcquire('jobs', 'A', at(0), 1000)).toBe(true);
    expect(await two.leases.tryAcquire('jobs', 'B', at(10), 1000)).toBe(false);
    expect(await one.leases.tryAcquire('jobs', 'A', at(900), 1000)).toBe(true); // renewed: until 1900
    expect(await two.leases.tryAcquire('jobs', 'B', at(1500), 1000)).toBe(false);
    expect(await two.leases.tryAcquire('jobs', 'B', at(1900), 1000)).toBe(true); // A let it lapse
    expect(await one.leases.tryAcquire('jobs', 'A', at(2000), 1000)).toBe(false);
    expect(await one.leases.tryAcquire('other', 'A', at(2000), 1000)).toBe(true); // leases are per name
    await one.leases.release('jobs', 'A'); // not A's: nothing happens
    expect(await one.leases.tryAcquire('jobs', 'A', at(2100), 1000)).toBe(false);
    await two.leases.release('jobs', 'B');
    expect(await one.leases.tryAcquire('jobs', 'A', at(2200), 1000)).toBe(true);
    for (const stores of [one, two]) {
      await stores.audit.close();
      await stores.metadata.close();
    }
  });

  it('runs the work in the holder only, and not at all once released', async () => {
    const path = join(dataDir, 'keyhaven.db');
    const stores = await openSqliteStores(path, { auditFsync: false });
    const clock = { now: () => new Date() };
    const a = new Lease(stores.leases, 'jobs', 'A', 60_000, clock);
    const b = new Lease(stores.leases, 'jobs', 'B', 60_000, clock);
    let runs = 0;
    const work = async () => ++runs;
    expect(await a.whileHeld(work)).toBe(1);
    expect(await b.whileHeld(work)).toBeUndefined();
    expect(await a.whileHeld(work)).toBe(2);
    await a.release();
    expect(await a.whileHeld(work)).toBeUndefined();
    expect(await b.whileHeld(work)).toBe(3);
    await stores.audit.close();
    await stores.metadata.close();
  });
});
