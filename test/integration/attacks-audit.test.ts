// Attacks on the audit log found by a security review, each now caught: requests that left no
// record, checkpoints re-signed under a key version added to the database, a verify range moved
// by editing record times.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { buildRestApp } from '../../src/transports/rest/app.js';
import { checkpointSigningBytes } from '../../src/domain/audit-record.js';
import { rawRequest } from '../helpers/raw-http.js';
import { Api } from './http.js';
import { rehashFrom } from '../helpers/audit-file.js';

const TOKEN = 'khk_review_audit_token_0123456789abcdef';

interface Running {
  keyhaven: Keyhaven;
  app: FastifyInstance;
  url: string;
  api: Api;
  stop(): Promise<void>;
}

async function start(dataDir: string): Promise<Running> {
  const config = loadConfig({ KEYHAVEN_DATA_DIR: dataDir });
  const keyhaven = await createKeyhaven(config);
  await keyhaven.auth.bootstrapAdmin(TOKEN);
  const app = await buildRestApp(keyhaven);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    keyhaven,
    app,
    url,
    api: new Api(url, TOKEN),
    async stop() {
      await app.close();
      await keyhaven.close();
    },
  };
}

type Row = Record<string, unknown>;

describe('attacks on the audit log', () => {
  let dataDir: string;
  let server: Running;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-review-audit-'));
    server = await start(dataDir);
  });
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('records every non-public request (error paths included)', async () => {
    const written = () => server.keyhaven.audit.recordsWritten;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cases: [string, () => Promise<unknown>][] = [
      ['401 unauthenticated', () => server.api.get('/v1/keys', { token: null })],
      ['malformed JSON', () => server.api.request('POST', '/v1/encrypt', { raw: '{"keyId":' })],
      [
        '415',
        () =>
          server.api.request('POST', '/v1/encrypt', { raw: 'x', headers: { 'content-type': 'text/plain' } }),
      ],
      [
        '413',
        () => server.api.request('POST', '/v1/encrypt', { raw: `{"a":"${'x'.repeat(2 * 1024 * 1024)}"}` }),
      ],
      [
        'bad URL (frameworkErrors)',
        () => rawRequest(server.url, { method: 'GET', target: '/v1/keys/%zz', headers: auth }),
      ],
      ['414 long param', () => server.api.get(`/v1/keys/${'a'.repeat(3000)}`)],
      ['404 unknown route', () => server.api.get('/v1/nope')],
      ['404 unknown route, no credential', () => server.api.get('/v1/nope', { token: null })],
      ['405-ish method', () => server.api.request('DELETE', '/v1/encrypt')],
      ['HEAD of a GET route', () => server.api.request('HEAD', '/v1/keys')],
      ['/ready with a valid credential', () => server.api.get('/ready')],
      [
        '/ready with a wrong credential (401)',
        () => server.api.get('/ready', { token: 'khk_wrong_wrong_wrong_wrong' }),
      ],
    ];
    const missing: string[] = [];
    for (const [name, run] of cases) {
      const before = written();
      const response = (await run()) as { status: number };
      await new Promise((r) => setTimeout(r, 50));
      const n = written() - before;
      console.log(`${name}: status ${response.status}, records ${n}`);
      if (n < 1) missing.push(`${name} (${response.status})`);
    }
    expect(missing).toEqual([]);
  });

  it('online verify fails after a rewrite re-signed with a key version the DBA added', async () => {
    const created = await server.api.post<{ key: { keyId: string } }>('/v1/keys', {});
    expect(created.status).toBe(201);
    for (let i = 0; i < 5; i++) await server.api.get('/v1/keys');
    await server.stop(); // signs a checkpoint at shutdown

    // The database administrator: rewrite history, re-hash, forge every checkpoint with a key of
    // their own registered as an extra (non-current) version of the audit key.
    const db = new Database(join(dataDir, 'keyhaven.db'));
    const sys = db
      .prepare(
        "select key_id from keys where tenant = 'keyhaven-system' and description like '%audit-checkpoint%'",
      )
      .get() as { key_id: string };
    expect(sys).toBeDefined();
    const victim = db.prepare("select seq from audit_records where action = 'CreateKey'").get() as {
      seq: number;
    };
    db.prepare("update audit_records set principal_id = 'someone-else', key_id = null where seq = ?").run(
      victim.seq,
    );
    const hashes = rehashFrom(db, 1);
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const real = db
      .prepare('select * from key_versions where key_id = ? and version = 1')
      .get(sys.key_id) as Row;
    db.prepare(
      'insert into key_versions (key_id, version, state, created_at, material, public_key_spki) values (?, 2, ?, ?, ?, ?)',
    ).run(
      sys.key_id,
      'Enabled',
      real.created_at,
      real.material,
      attacker.publicKey.export({ format: 'der', type: 'spki' }),
    );
    const checkpoints = db.prepare('select * from audit_checkpoints').all() as Row[];
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const cp of checkpoints) {
      const unsigned = {
        seq: Number(cp.seq),
        hash: hashes.get(Number(cp.seq))!,
        time: cp.time as string,
        keyId: sys.key_id,
        keyVersion: 2,
        algorithm: cp.algorithm as string,
      };
      const signature = signBytes('sha256', checkpointSigningBytes(unsigned), attacker.privateKey).toString(
        'base64',
      );
      db.prepare('update audit_checkpoints set hash = ?, key_version = 2, signature = ? where seq = ?').run(
        unsigned.hash,
        signature,
        unsigned.seq,
      );
    }
    db.close();

    server = await start(dataDir);
    const verdict = await server.api.get<{ valid: boolean; unsignedTail: number; firstInvalid?: unknown }>(
      '/v1/logs/verify',
    );
    console.log('online verify after forged rewrite:', JSON.stringify(verdict.body));
    expect(verdict.body.valid).toBe(false);
  });

  it('a verify range cannot be made to skip records by editing record times', async () => {
    for (let i = 0; i < 3; i++) await server.api.get('/v1/keys');
    await server.stop();
    const db = new Database(join(dataDir, 'keyhaven.db'));
    // Break a record in the middle (no re-hash), then try to move the anchor: the last record's time to 1970.
    const mid = db.prepare('select seq, time from audit_records order by seq limit 1 offset 3').get() as Row;
    db.prepare("update audit_records set principal_id = 'edited' where seq = ?").run(mid.seq);
    const last = db.prepare('select seq from audit_records order by seq desc limit 1').get() as Row;
    db.prepare("update audit_records set time = '1970-01-01T00:00:00.000Z' where seq = ?").run(last.seq);
    db.close();
    server = await start(dataDir);
    const from = new Date(Date.parse(mid.time as string) - 1000).toISOString();
    const full = await server.api.get<{ valid: boolean }>('/v1/logs/verify');
    const ranged = await server.api.get<{ valid: boolean; records: number }>(
      `/v1/logs/verify?from=${encodeURIComponent(from)}`,
    );
    expect(full.body.valid).toBe(false);
    expect(ranged.body.valid).toBe(false);
  });
});
