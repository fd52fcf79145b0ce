// The audit log over real HTTP on a real server process and its SQLite file: one record per
// request (allowed, denied, failed, unauthenticated), tenant-scoped listing, the chain verified
// online and offline, every kind of tampering with the database file or an export named by
// record, no plaintext or context value anywhere on disk or in the logs, and fail-closed writes.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, generateKeyPairSync, sign as signBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointSigningBytes, recordHash, type AuditRecord } from '../../src/domain/audit-record.js';
import { runCli } from '../cli/run-cli.js';
import { auditRecords, rehashFrom } from '../helpers/audit-file.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const PLAINTEXT_MARKER = `plaintext-marker-${randomBytes(12).toString('hex')}`;
const CONTEXT_MARKER = `context-marker-${randomBytes(12).toString('hex')}`;

interface Verification {
  valid: boolean;
  records: number;
  checkpoints: number;
  firstInvalid?: { seq: number; reason: string };
  unsignedTail: number;
}

describe('audit log', () => {
  let server: TestServer;
  let system: Api;
  let tenantId: string;
  let tenantAdmin: Actor;
  let user: Actor;
  let publicKeyFile: string;
  let exportFile: string;
  const scratch = mkdtempSync(join(tmpdir(), 'keyhaven-audit-'));

  async function workload(): Promise<void> {
    const key = await createKey(tenantAdmin.api);
    const encrypted = await user.api.post<{ ciphertext: string }>('/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64(PLAINTEXT_MARKER),
      context: { purpose: CONTEXT_MARKER },
    });
    expect(encrypted.status).toBe(200);
    const decrypted = await user.api.post('/v1/decrypt', {
      ciphertext: encrypted.body.ciphertext,
      context: { purpose: CONTEXT_MARKER },
    });
    expect(decrypted.status).toBe(200);
    expectError(await user.api.post('/v1/keys', {}), 403, 'AccessDenied');
    expectError(
      await user.api.post('/v1/decrypt', { ciphertext: b64('not a ciphertext at all!') }),
      400,
      'InvalidCiphertext',
    );
    expectError(
      await new Api(server.url, 'khk_not-a-real-token-123456').get('/v1/keys'),
      401,
      'Unauthenticated',
    );
    await user.api.post('/v1/datakey', { keyId: key.keyId, context: { purpose: CONTEXT_MARKER } });
    await system.get('/v1/keys');
  }

  /** A copy of the stopped server's data directory, changed by `tamper`. */
  function tamperedCopy(tamper: (db: Database.Database) => void): string {
    const dir = mkdtempSync(join(scratch, 'copy-'));
    cpSync(server.dataDir, dir, { recursive: true });
    const db = new Database(join(dir, 'keyhaven.db'));
    try {
      tamper(db);
    } finally {
      db.close();
    }
    return join(dir, 'keyhaven.db');
  }

  async function verifyOffline(args: string[]): Promise<{ code: number | null; result: Verification }> {
    const run = await runCli(['--json', 'audit', 'verify', ...args]);
    expect(run.stderr).toBe('');
    return { code: run.code, result: JSON.parse(run.out) as Verification };
  }

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    user = await createActor(system, tenantId, ['crypto-user']);
    await workload();
    // A restart signs a checkpoint at shutdown; the second workload adds records after it.
    await server.restart();
    await workload();
    const key = await system.get<{ publicKey: string }>('/v1/logs/public-key');
    publicKeyFile = join(scratch, 'audit-key.pem');
    writeFileSync(publicKeyFile, key.body.publicKey);
    const exported = await system.get('/v1/logs/export');
    expect(exported.status).toBe(200);
    exportFile = join(scratch, 'export.jsonl');
    writeFileSync(exportFile, exported.text);
    await server.stop();
  });
  afterAll(async () => {
    await server?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('records', () => {
    it('records every request, allowed, denied, failed and unauthenticated, with the API.md fields', async () => {
      await server.restart();
      const page = await system.get<{ records: AuditRecord[] }>('/v1/logs?limit=1000');
      const records = page.body.records;
      const encrypt = records.find(
        (r) => r.action === 'Encrypt' && r.principalId === user.principal.principalId,
      )!;
      expect(encrypt).toMatchObject({
        tenantId,
        result: 'allow',
        keyVersion: 1,
        sourceIp: expect.any(String),
      });
      expect(encrypt.keyId).toMatch(/^[0-9a-f-]{36}$/);
      expect(records.find((r) => r.action === 'CreateKey' && r.result === 'deny')).toMatchObject({
        principalId: user.principal.principalId,
        errorCode: 'AccessDenied',
      });
      expect(records.find((r) => r.action === 'Decrypt' && r.result === 'error')).toMatchObject({
        errorCode: 'InvalidCiphertext',
      });
      expect(records.find((r) => r.result === 'deny' && r.principalId === '')).toMatchObject({
        errorCode: 'Unauthenticated',
        tenantId: '',
      });
      for (const [i, record] of records.entries()) {
        expect(record.seq).toBe(i + 1);
        if (i > 0) expect(record.prevHash).toBe(records[i - 1]!.hash);
      }
    });

    it("shows a tenant's admin its own tenant's records only", async () => {
      const mine = await tenantAdmin.api.get<{ records: AuditRecord[] }>('/v1/logs?limit=1000');
      expect(mine.body.records.length).toBeGreaterThan(0);
      expect(new Set(mine.body.records.map((r) => r.tenantId))).toEqual(new Set([tenantId]));
      const denied = await tenantAdmin.api.get<{ records: AuditRecord[] }>(
        '/v1/logs?result=deny&action=CreateKey',
      );
      expect(denied.body.records.every((r) => r.result === 'deny' && r.action === 'CreateKey')).toBe(true);
      expect(denied.body.records.length).toBe(2);
      expectError(await user.api.get('/v1/logs'), 403, 'AccessDenied');
    });

    it('pages with cursors, every record once', async () => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${cursor}` : '';
        const page = await system.get<{ records: AuditRecord[]; nextCursor: string | null }>(
          `/v1/logs?limit=3${query}`,
        );
        seen.push(...page.body.records.map((r) => r.seq));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(seen.map((_, i) => i + 1));
    });

    it('verifies online: intact, with checkpoints signed at shutdown', async () => {
      const verified = await system.get<Verification>('/v1/logs/verify');
      expect(verified.body).toMatchObject({ valid: true });
      expect(verified.body.checkpoints).toBeGreaterThanOrEqual(2);
      await server.stop();
    });
  });

  describe('tampering with the database file', () => {
    const middle = 5;

    it('an intact copy verifies offline, with the pinned key and with the one in the database', async () => {
      const copy = tamperedCopy(() => undefined);
      expect((await verifyOffline(['--db', copy, '--public-key', publicKeyFile])).result.valid).toBe(true);
      const unpinned = await runCli(['audit', 'verify', '--db', copy]);
      expect(unpinned.code).toBe(0);
      expect(unpinned.out).toContain('pin it with --public-key');
    });

    // The seq of the first checkpoint at or after `seq` in the original file.
    const checkpointAfter = (seq: number) => {
      const db = new Database(join(server.dataDir, 'keyhaven.db'), { readonly: true });
      try {
        const row = db.prepare('select min(seq) as seq from audit_checkpoints where seq >= ?').get(seq);
        return Number((row as { seq: number }).seq);
      } finally {
        db.close();
      }
    };
    const cases: [string, (db: Database.Database) => void, number | (() => number)][] = [
      [
        'an edited field',
        (db) => db.prepare("update audit_records set action = 'Decrypt' where seq = ?").run(middle),
        middle,
      ],
      [
        'an edited key id',
        (db) =>
          db
            .prepare("update audit_records set key_id = '00000000-0000-4000-8000-000000000000' where seq = ?")
            .run(middle),
        middle,
      ],
      ['a deleted record', (db) => db.prepare('delete from audit_records where seq = ?').run(middle), middle],
      [
        'an inserted record',
        (db) => {
          db.prepare('update audit_records set seq = seq + 1000000 where seq > ?').run(middle);
          db.prepare('update audit_records set seq = seq - 1000000 + 1 where seq > 1000000').run();
          const forged = {
            ...auditRecords(db).find((r) => r.seq === middle)!,
            seq: middle + 1,
            action: 'ListKeys',
          };
          const prev = auditRecords(db).find((r) => r.seq === middle)!.hash;
          const record = { ...forged, prevHash: prev };
          db.prepare(
            `insert into audit_records (seq, time, request_id, tenant_id, principal_id, action, key_id,
               key_version, result, error_code, source_ip, latency_ms, prev_hash, hash)
             values (?, ?, ?, ?, ?, ?, null, null, ?, null, ?, ?, ?, ?)`,
          ).run(
            record.seq,
            record.time,
            record.requestId,
            record.tenantId,
            record.principalId,
            record.action,
            record.result,
            record.sourceIp,
            record.latencyMs,
            prev,
            recordHash({ ...record, keyId: undefined, keyVersion: undefined, errorCode: undefined }),
          );
        },
        middle + 2,
      ],
      [
        'two records swapped',
        (db) => {
          db.prepare('update audit_records set seq = -1 where seq = ?').run(middle);
          db.prepare('update audit_records set seq = ? where seq = ?').run(middle, middle + 1);
          db.prepare('update audit_records set seq = ? where seq = -1').run(middle + 1);
        },
        middle,
      ],
      [
        'an edit with the whole rest of the chain re-hashed',
        (db) => {
          db.prepare("update audit_records set principal_id = 'someone-else' where seq = ?").run(middle);
          rehashFrom(db, middle);
        },
        // Re-hashed links hold: the first signed checkpoint after the edit is what no longer matches.
        () => checkpointAfter(middle),
      ],
    ];
    for (const [name, tamper, expected] of cases) {
      it(`detects ${name}, naming the first record that no longer verifies`, async () => {
        const expectedSeq = typeof expected === 'number' ? expected : expected();
        const { code, result } = await verifyOffline([
          '--db',
          tamperedCopy(tamper),
          '--public-key',
          publicKeyFile,
        ]);
        expect(result.valid).toBe(false);
        expect(result.firstInvalid?.seq, result.firstInvalid?.reason).toBe(expectedSeq);
        expect(code).toBe(3);
      });
    }

    it('detects a tail truncated before the last checkpoint', async () => {
      let lastCheckpoint = 0;
      const copy = tamperedCopy((db) => {
        lastCheckpoint = Number(
          (db.prepare('select max(seq) as seq from audit_checkpoints').get() as { seq: number }).seq,
        );
        db.prepare('delete from audit_records where seq > ?').run(lastCheckpoint - 3);
      });
      const { result } = await verifyOffline(['--db', copy, '--public-key', publicKeyFile]);
      expect(result.valid).toBe(false);
      expect(result.firstInvalid?.seq).toBe(lastCheckpoint - 2);
      expect(result.firstInvalid?.reason).toMatch(/truncated/);
    });

    it("detects re-signed checkpoints under a key of the attacker's, online and with a pinned key", async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const copy = tamperedCopy((db) => {
        db.prepare("update audit_records set principal_id = 'someone-else' where seq = ?").run(middle);
        rehashFrom(db, middle);
        const head = new Map(auditRecords(db).map((r) => [r.seq, r.hash]));
        const checkpoints = db.prepare('select * from audit_checkpoints').all() as Record<string, unknown>[];
        for (const cp of checkpoints) {
          const unsigned = {
            seq: Number(cp.seq),
            hash: head.get(Number(cp.seq))!,
            time: cp.time as string,
            keyId: cp.key_id as string,
            keyVersion: Number(cp.key_version),
            algorithm: cp.algorithm as string,
          };
          const signature = signBytes(
            'sha256',
            checkpointSigningBytes(unsigned),
            attacker.privateKey,
          ).toString('base64');
          db.prepare('update audit_checkpoints set hash = ?, signature = ? where seq = ?').run(
            unsigned.hash,
            signature,
            unsigned.seq,
          );
        }
        // ... and the public key the database holds for the audit key.
        const spki = attacker.publicKey.export({ format: 'der', type: 'spki' });
        db.prepare(
          `update key_versions set public_key_spki = ? where key_id in (select key_id from keys where tenant = 'keyhaven-system')`,
        ).run(spki);
      });
      const pinned = await verifyOffline(['--db', copy, '--public-key', publicKeyFile]);
      expect(pinned.result.valid).toBe(false);
      // Online: the server finds that its key store cannot sign for the public key the file holds.
      const copied = await startServer({
        dataDir: join(copy, '..'),
        env: { KEYHAVEN_ADMIN_TOKEN: server.token },
      });
      try {
        const online = await new Api(copied.url, server.token).get<Verification>('/v1/logs/verify');
        expect(online.body.valid).toBe(false);
      } finally {
        await copied.stop();
      }
    });
  });

  describe('tampering with an export', () => {
    const lines = () => readFileSync(exportFile, 'utf8').trimEnd().split('\n');
    const write = (changed: string[]) => {
      const file = join(scratch, `export-${randomBytes(4).toString('hex')}.jsonl`);
      writeFileSync(file, `${changed.join('\n')}\n`);
      return file;
    };
    const recordLine = (all: string[], seq: number) =>
      all.findIndex(
        (l) =>
          l.startsWith('{"type":"record"') && (JSON.parse(l) as { record: AuditRecord }).record.seq === seq,
      );

    it('verifies an intact export with the pinned key', async () => {
      const { code, result } = await verifyOffline(['--export', exportFile, '--public-key', publicKeyFile]);
      expect(result).toMatchObject({ valid: true });
      expect(code).toBe(0);
    });

    const cases: [string, (all: string[]) => string[], number][] = [
      [
        'an edited line',
        (all) =>
          all.map((l, i) =>
            i === recordLine(all, 4)
              ? l
                  .replace('"result":"allow"', '"result":"error"')
                  .replace('"result":"deny"', '"result":"allow"')
              : l,
          ),
        4,
      ],
      ['a deleted line', (all) => all.filter((_, i) => i !== recordLine(all, 4)), 4],
      ['a duplicated line', (all) => all.flatMap((l, i) => (i === recordLine(all, 4) ? [l, l] : [l])), 4],
      [
        'two lines swapped',
        (all) => {
          const a = recordLine(all, 4);
          const b = recordLine(all, 5);
          const copy = [...all];
          [copy[a], copy[b]] = [copy[b]!, copy[a]!];
          return copy;
        },
        4,
      ],
    ];
    for (const [name, change, seq] of cases) {
      it(`detects ${name}, naming record ${seq}`, async () => {
        const { code, result } = await verifyOffline([
          '--export',
          write(change(lines())),
          '--public-key',
          publicKeyFile,
        ]);
        expect(result.valid).toBe(false);
        expect(result.firstInvalid?.seq, result.firstInvalid?.reason).toBe(seq);
        expect(code).toBe(3);
      });
    }
  });

  it('holds no plaintext, base64 plaintext or context value in the database files, the logs or the export', () => {
    const needles = [PLAINTEXT_MARKER, b64(PLAINTEXT_MARKER), CONTEXT_MARKER].map((n) => Buffer.from(n));
    const haystacks: [string, Buffer][] = readdirSync(server.dataDir).map((name) => [
      name,
      readFileSync(join(server.dataDir, name)),
    ]);
    haystacks.push(['server output', Buffer.from(server.output())], ['export', readFileSync(exportFile)]);
    expect(haystacks.length).toBeGreaterThan(3);
    for (const [name, bytes] of haystacks) {
      for (const needle of needles) expect(bytes.includes(needle), `${needle} in ${name}`).toBe(false);
    }
  });
});

// The groups from here on run at once (describe.concurrent), after the one above: each has a single
// test on a server no other group writes to (or reads only its own records on the shared one), and
// most of their time is spent waiting (restarts, a write lock held past the busy timeout, the
// checkpoint interval), which they can as well do together.
describe.concurrent('audit checkpoints over a chain edited since the last one', () => {
  it('refuses to sign a head whose records since the last checkpoint do not verify, and says so without their content', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'keyhaven-audit-checkpoint-'));
    const configWith = (checkpointIntervalSeconds: number) => {
      const file = join(scratch, `config-${checkpointIntervalSeconds}.json`);
      writeFileSync(file, JSON.stringify({ audit: { checkpointIntervalSeconds } }));
      return file;
    };
    // No periodic checkpoint at first: only the one at shutdown.
    const server = await startServer({ env: { KEYHAVEN_CONFIG: configWith(86_400) } });
    const api = new Api(server.url, server.token);
    const file = join(server.dataDir, 'keyhaven.db');
    const checkpointSeqs = () => {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare('select seq from audit_checkpoints order by seq').all() as { seq: number }[];
        return rows.map((row) => Number(row.seq));
      } finally {
        db.close();
      }
    };
    try {
      await createKey(api);
      await server.restart();
      const signed = checkpointSeqs().at(-1)!;
      expect(signed).toBeGreaterThan(0);
      await createKey(api);
      await api.get('/v1/keys');
      // Someone with the file rewrites a record after that checkpoint, as the server runs, and
      // leaves its hash: the next checkpoint would cover the edit.
      const marker = `edited-${randomBytes(8).toString('hex')}`;
      const db = new Database(file);
      const edited = signed + 1;
      expect(
        db.prepare('update audit_records set principal_id = ? where seq = ?').run(marker, edited).changes,
      ).toBe(1);
      db.close();

      await server.stop();
      expect(checkpointSeqs().at(-1)).toBe(signed);
      expect(server.output()).toContain(
        `audit checkpoint refused: the chain does not verify at seq ${edited}`,
      );
      expect(server.output()).not.toContain(marker);

      // Signed every second while records arrive: each refusal shows in the metrics too.
      await server.restart({ KEYHAVEN_CONFIG: configWith(1) });
      let refused = 0;
      for (let tries = 0; tries < 100 && refused === 0; tries++) {
        await api.get('/v1/keys');
        await new Promise((turn) => setTimeout(turn, 200));
        const metrics = await api.get('/metrics');
        refused = Number(/^keyhaven_audit_checkpoints_refused_total (\d+)/m.exec(metrics.text)?.[1] ?? 0);
      }
      expect(refused).toBeGreaterThan(0);
      await server.stop();
      expect(checkpointSeqs().at(-1)).toBe(signed);
      expect(server.output()).not.toContain(marker);
      const verified = await runCli(['--json', 'audit', 'verify', '--db', file]);
      expect((JSON.parse(verified.out) as Verification).firstInvalid?.seq).toBe(edited);
    } finally {
      await server.dispose();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe.concurrent('audit log, failing closed', () => {
  it('answers 503 while records cannot be written, refuses new requests, and recovers by itself', async () => {
    const server = await startServer();
    const api = new Api(server.url, server.token);
    try {
      expect((await api.get('/v1/keys')).status).toBe(200);
      // Another process holds the database's write lock: every write waits, then fails.
      const locker = new Database(join(server.dataDir, 'keyhaven.db'));
      locker.pragma('busy_timeout = 0');
      locker.exec('BEGIN EXCLUSIVE');
      try {
        // The first fails as its record cannot be written, the next before it does anything (the
        // log is unwritable): both say when to try again.
        for (const refused of [await api.get('/v1/keys'), await api.post('/v1/keys', {})]) {
          expectError(refused, 503, 'Unavailable');
          expect(refused.headers.get('retry-after')).toBe('1');
        }
      } finally {
        locker.exec('ROLLBACK');
        locker.close();
      }
      // The first request after recovery is still refused (its own record is the probe), then all pass.
      const answers = [await api.get('/v1/keys'), await api.get('/v1/keys')];
      expect(answers.map((a) => a.status)).toContain(200);
      expect(answers[1]!.status).toBe(200);
      const metrics = await api.get('/metrics');
      expect(metrics.text).toMatch(/keyhaven_audit_write_failures_total [1-9]/);
      const verified = await api.get<Verification>('/v1/logs/verify');
      expect(verified.body.valid).toBe(true);
      // The refused CreateKey made no key.
      const keys = await api.get<{ keys: unknown[] }>('/v1/keys');
      expect(keys.body.keys).toEqual([]);
    } finally {
      await server.dispose();
    }
  });
});

/**
 * One server for the three groups below. None needs a fresh data directory: each reads only the
 * records it made (by its key, its action or its result), so they share one start of the server
 * (a few seconds of CPU each) instead of making three.
 */
let sharedServer: Promise<TestServer> | undefined;
const sharedServerOnce = () => (sharedServer ??= startServer());
afterAll(async () => {
  await (await sharedServer)?.dispose();
});

describe.concurrent('audit log beside writes of the metadata', () => {
  it('creates keys concurrently while the writer thread commits records, without one failure', async () => {
    // Two connections write one file: a transaction that read before another connection's commit
    // must wait for the lock, not fail (BEGIN IMMEDIATE).
    const server = await sharedServerOnce();
    const api = new Api(server.url, server.token);
    const statuses = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const seen: number[] = [];
        for (let i = 0; i < 8; i++) seen.push((await api.post('/v1/keys', {})).status);
        return seen;
      }),
    );
    expect(statuses.flat().filter((status) => status !== 201)).toEqual([]);
    const verified = await api.get<Verification>('/v1/logs/verify');
    expect(verified.body).toMatchObject({ valid: true });
    expect(verified.body.records).toBeGreaterThanOrEqual(128);
  });
});

describe.concurrent("audit records of a system administrator's work on a tenant's key", () => {
  it("belong to the key's tenant, so that the tenant's admins see them", async () => {
    const server = await sharedServerOnce();
    const system = new Api(server.url, server.token);
    const tenant = (await createTenant(system)).tenantId;
    const tenantAdmin = await createActor(system, tenant, ['admin']);
    const key = await createKey(tenantAdmin.api);
    const described = await system.get<{ keyId: string }>(`/v1/keys/${key.keyId}`);
    expect(described.status).toBe(200);
    expect((await system.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') })).status).toBe(200);
    const theirs = await tenantAdmin.api.get<{ records: AuditRecord[] }>(`/v1/logs?keyId=${key.keyId}`);
    const bySystem = theirs.body.records.filter((r) => r.principalId !== tenantAdmin.principal.principalId);
    expect(bySystem.map((r) => r.action).sort()).toEqual(['DescribeKey', 'Encrypt']);
    expect(new Set(bySystem.map((r) => r.tenantId))).toEqual(new Set([tenant]));
    // The system administrator's own work outside the tenant stays in theirs (this tenant is the
    // only one made on this server).
    const all = await system.get<{ records: AuditRecord[] }>('/v1/logs?action=CreateTenant');
    expect(all.body.records.map((r) => r.tenantId)).toEqual(['default']);
  });
});

describe.concurrent('audit records of requests handed to the not-found handler', () => {
  it('records a missing docs file asked for without a credential (the docs route is public, its 404 is not)', async () => {
    const server = await sharedServerOnce();
    const system = new Api(server.url, server.token);
    const missing = `/docs/static/missing-${randomBytes(6).toString('hex')}.js`;
    expectError(await system.request('GET', missing, { token: null }), 401, 'Unauthenticated');
    const records = await system.get<{ records: AuditRecord[] }>('/v1/logs?result=deny&limit=1000');
    // The only request without a credential this server has seen.
    expect(
      records.body.records.filter((r) => r.principalId === '' && r.errorCode === 'Unauthenticated'),
    ).toHaveLength(1);
  });
});
