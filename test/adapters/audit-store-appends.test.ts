// The audit store's appends on a real SQLite file: through the writer thread (the server's path) and
// through Kysely on one connection (an in-memory database). Both store records in order, all or none,
// and refuse records that do not continue the stored chain; the writer thread recovers after its
// worker dies and answers every append once closed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordRow } from '../../src/adapters/metadata/kysely-audit-store.js';
import { KmsError } from '../../src/domain/errors.js';
import { AuditWriterThread } from '../../src/adapters/metadata/sqlite/audit-writer-thread.js';
import { openSqliteStores, type SqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';
import {
  chainRecord,
  type AuditEntry,
  type AuditRecord,
  type ChainHead,
} from '../../src/domain/audit-record.js';

const ENTRY: AuditEntry = {
  time: '2026-12-01T10:00:00.000Z',
  requestId: 'req-1',
  tenantId: 'default',
  principalId: 'alice',
  action: 'Encrypt',
  keyId: 'k-1',
  keyVersion: 1,
  result: 'allow',
  sourceIp: '127.0.0.1',
  latencyMs: 2,
};

function chain(after: ChainHead | null, count: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  let head = after;
  for (let i = 0; i < count; i++) {
    const record = chainRecord(head, { ...ENTRY, requestId: `req-${(head?.seq ?? 0) + 1}` });
    records.push(record);
    head = record;
  }
  return records;
}

const tail = (records: AuditRecord[]): ChainHead => records[records.length - 1]!;

describe.each([
  ['the writer thread', 'file'],
  ['Kysely on the one connection', ':memory:'],
] as const)('audit appends through %s', (_name, where) => {
  let dir: string;
  let stores: SqliteStores;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-audit-appends-'));
    stores = await openSqliteStores(where === 'file' ? join(dir, 'keyhaven.db') : ':memory:');
  });
  afterEach(async () => {
    await stores.audit.close();
    await stores.metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores overlapping appends in call order, each readable once it resolves', async () => {
    const first = chain(null, 3);
    const second = chain(tail(first), 2);
    await Promise.all([stores.audit.appendRecords(first), stores.audit.appendRecords(second)]);
    expect(await stores.audit.head()).toEqual({ seq: 5, hash: tail(second).hash });
    expect(await stores.audit.recordsAfter(0, 10)).toEqual([...first, ...second]);
  });

  it('refuses records that do not continue the stored chain, and stores none of them', async () => {
    const first = chain(null, 2);
    await stores.audit.appendRecords(first);
    const skipping = chain(tail(chain(tail(first), 1)), 2);
    await expect(stores.audit.appendRecords(skipping)).rejects.toThrow(/do not continue the stored chain/);
    await expect(stores.audit.appendRecords(chain(null, 1))).rejects.toThrow(/do not continue/);
    expect(await stores.audit.head()).toEqual({ seq: 2, hash: tail(first).hash });
  });

  it('stores none of a batch whose insert fails (all or none)', async () => {
    const batch = chain(null, 3);
    const clash = { ...batch[2]!, seq: 2 };
    await expect(stores.audit.appendRecords([batch[0]!, batch[1]!, clash])).rejects.toThrow();
    expect(await stores.audit.head()).toBeNull();
    await stores.audit.appendRecords(batch);
    expect(await stores.audit.head()).toEqual({ seq: 3, hash: tail(batch).hash });
  });
});

describe('the audit writer thread', () => {
  let dir: string;
  let path: string;
  let stores: SqliteStores;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-audit-writer-'));
    path = join(dir, 'keyhaven.db');
    stores = await openSqliteStores(path);
  });
  afterEach(async () => {
    await stores.audit.close();
    await stores.metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails its appends while another connection holds the write lock, then writes again', async () => {
    const writer = new AuditWriterThread(path, { busyTimeoutMs: 50, fsync: true });
    const locker = new Database(path);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      await expect(writer.append(chain(null, 1).map(recordRow))).rejects.toThrow(/locked|busy/i);
      locker.exec('ROLLBACK');
      await writer.append(chain(null, 2).map(recordRow));
      expect(await stores.audit.head()).toMatchObject({ seq: 2 });
    } finally {
      locker.close();
      await writer.close();
    }
  });

  it('refuses records computed on a head that another connection moved (the head is read under the lock)', async () => {
    const writer = new AuditWriterThread(path, { busyTimeoutMs: 1000, fsync: false });
    try {
      const first = chain(null, 1);
      await writer.append(first.map(recordRow));
      // A second writer on the same file appends behind the worker's back.
      const other = new Database(path);
      const [moved] = chain(tail(first), 1).map(recordRow);
      other
        .prepare(
          `insert into audit_records (${Object.keys(moved!).join(', ')}) values (${Object.keys(moved!)
            .map((c) => '@' + c)
            .join(', ')})`,
        )
        .run(moved);
      other.close();
      await expect(writer.append(chain(tail(first), 1).map(recordRow))).rejects.toThrow(/do not continue/);
      expect(await stores.audit.head()).toMatchObject({ seq: 2, hash: moved!.hash });
    } finally {
      await writer.close();
    }
  });

  it('commits what was sent before close() and refuses what comes after', async () => {
    const writer = new AuditWriterThread(path, { busyTimeoutMs: 1000, fsync: true });
    const sent = writer.append(chain(null, 3).map(recordRow));
    await writer.close();
    await expect(sent).resolves.toBeUndefined();
    expect(await stores.audit.head()).toMatchObject({ seq: 3 });
    await expect(writer.append(chain(tail(chain(null, 3)), 1).map(recordRow))).rejects.toThrow(/closed/);
  });

  it('answers every append after it is closed, with an error', async () => {
    const writer = new AuditWriterThread(path, { busyTimeoutMs: 50, fsync: false });
    await writer.append(chain(null, 1).map(recordRow));
    await writer.close();
    await expect(writer.append(chain(null, 1).map(recordRow))).rejects.toThrow(/closed/);
  });

  it('fails what was pending when its worker cannot start, and starts a new one for the next append', async () => {
    const missing = new AuditWriterThread(join(dir, 'no-such.db'), { busyTimeoutMs: 50, fsync: false });
    await expect(missing.append(chain(null, 1).map(recordRow))).rejects.toThrow();
    await expect(missing.append(chain(null, 1).map(recordRow))).rejects.toThrow();
    await missing.close();
  });
});

describe('the metadata connection beside a held lock', () => {
  it('fails a write with Unavailable (503, Retry-After), not an internal error, after the busy timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-busy-'));
    const path = join(dir, 'keyhaven.db');
    const stores = await openSqliteStores(path, { auditFsync: false, busyTimeoutMs: 100 });
    const locker = new Database(path);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      const failure = await stores.metadata
        .addUsage(new Map([['k-1', new Map([['encrypt', 1]])]]), new Date())
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KmsError);
      expect(failure).toMatchObject({ code: 'Unavailable', retryAfterSeconds: 1 });
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
      await stores.audit.close();
      await stores.metadata.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
