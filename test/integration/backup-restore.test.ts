// scripts/keyhaven-backup over real processes: a backup taken while the server runs, the data
// directory destroyed (and, on PostgreSQL, the database dropped), a restore into a new place, and a
// server started there that decrypts every ciphertext, holds every key with its versions, aliases
// and policy, and whose audit chain verifies. A restore with the wrong passphrase, or with another
// deployment's root key file, fails and leaves nothing behind.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envWithoutKeyhaven } from '../../bench/processes.js';
import { serverBinaries, startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { CLI_PATH, REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';
import { Api, b64 } from './http.js';
import { statement } from './identity-fixtures.js';
import { createKey } from './suite-server.js';
import type { DecryptReply, EncryptReply, KeyReply, VersionsReply } from './wire-types.js';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'keyhaven-backup');
const PASSPHRASE = 'backup restore passphrase';

interface Verification {
  valid: boolean;
  records: number;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the script as an operator would: only the variables it documents, the CLI of this checkout. */
async function script(args: string[], env: Record<string, string>): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(SCRIPT, args, {
      env: {
        ...envWithoutKeyhaven(),
        KEYHAVEN_BIN: `${process.execPath} ${CLI_PATH}`,
        PG_BIN: serverBinaries(),
        ...env,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface Store {
  name: string;
  /** Database settings for a new deployment; undefined for SQLite. */
  newDatabase(): Promise<string | undefined>;
  drop(url: string | undefined): Promise<void>;
  close(): Promise<void>;
}

let cluster: PostgresCluster | undefined;
const postgres: Store = {
  name: 'PostgreSQL',
  async newDatabase() {
    cluster ??= await startPostgres();
    return cluster.createDatabase();
  },
  async drop(url) {
    const name = new URL(url!).pathname.slice(1);
    const client = new pg.Client({ connectionString: cluster!.url('postgres') });
    await client.connect();
    try {
      await client.query(`drop database ${name} with (force)`);
    } finally {
      await client.end();
    }
  },
  async close() {
    await cluster?.remove();
  },
};
const sqlite: Store = {
  name: 'SQLite',
  newDatabase: async () => undefined,
  drop: async () => undefined,
  close: async () => undefined,
};

function databaseEnv(url: string | undefined): Record<string, string> {
  return url === undefined ? {} : { KEYHAVEN_DATABASE_URL: url };
}

function temporary(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Rewrites the backup's checksums after a file was swapped, as someone assembling one by hand would. */
function resum(dir: string): void {
  const lines = readdirSync(dir)
    .filter((name) => name !== 'SHA256SUMS')
    .sort()
    .map(
      (name) =>
        `${createHash('sha256')
          .update(readFileSync(join(dir, name)))
          .digest('hex')}  ${name}`,
    );
  writeFileSync(join(dir, 'SHA256SUMS'), lines.join('\n') + '\n');
}

let foreignRootKeyFile: Promise<Buffer> | undefined;

/**
 * The sealed root key file of another deployment (same passphrase), made by starting a server of
 * its own once for the file: both stores' tests swap the same foreign file in, and a second
 * deployment made for the second store would prove nothing the first does not.
 */
const foreignRootKey = () =>
  (foreignRootKeyFile ??= (async () => {
    const elsewhere = await startServer({ env: { KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE } });
    try {
      return readFileSync(join(elsewhere.dataDir, 'root-key.json'));
    } finally {
      await elsewhere.dispose();
    }
  })());

describe.each([sqlite, postgres])('backup and restore of a whole deployment on $name', (store) => {
  let server: TestServer | undefined;
  let backupDir: string;
  const scratch: string[] = [];
  const written: {
    keyId: string;
    plaintext: string;
    ciphertext: string;
    context?: Record<string, string>;
  }[] = [];
  let keysBefore: KeyReply[] = [];
  let versionsBefore: VersionsReply;
  let policyBefore: unknown;
  let aliasesBefore: unknown;
  let recordsBefore = 0;
  let rotatedKeyId = '';
  /** The admin token is recorded in the database at first start: the restored deployment knows it. */
  let adminToken = '';

  beforeAll(async () => {
    const url = await store.newDatabase();
    server = await startServer({ env: { KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE, ...databaseEnv(url) } });
    adminToken = server.token;
    const api = new Api(server.url, server.token);
    const rotated = await createKey(api, {
      alias: 'alias/backed-up',
      description: 'rotated',
      tags: { t: 'x' },
    });
    rotatedKeyId = rotated.keyId;
    const other = await createKey(api, { alias: 'alias/second' });
    const seal = async (keyId: string, plaintext: string, context?: Record<string, string>) => {
      const reply = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId,
        plaintext: b64(plaintext),
        ...(context ? { context } : {}),
      });
      written.push({ keyId, plaintext, ciphertext: reply.ciphertext, ...(context ? { context } : {}) });
    };
    await seal('alias/backed-up', 'under version 1', { purpose: 'backup-test' });
    await api.ok('POST', `/v1/keys/${rotated.keyId}/rotate`);
    await seal('alias/backed-up', 'under version 2');
    await seal(other.keyId, 'the other key');
    await api.ok('PUT', `/v1/keys/${other.keyId}/policy`, {
      document: { statements: [statement('deny', 'nobody', ['Encrypt'])] },
    });
    const disabled = await createKey(api);
    await api.ok('POST', `/v1/keys/${disabled.keyId}/disable`);
    const ids = [rotated.keyId, other.keyId, disabled.keyId];
    keysBefore = await Promise.all(ids.map((id) => api.ok<KeyReply>('GET', `/v1/keys/${id}`)));
    versionsBefore = await api.ok<VersionsReply>('GET', `/v1/keys/${rotated.keyId}/versions`);
    policyBefore = await api.ok('GET', `/v1/keys/${other.keyId}/policy`);
    aliasesBefore = await api.ok('GET', '/v1/aliases');

    recordsBefore = (await api.ok<Verification>('GET', '/v1/logs/verify')).records;
    // Taken while the server runs and writes (SQLite: the online backup through keyhaven itself).
    backupDir = join(temporary('keyhaven-backup-'), 'backup');
    scratch.push(join(backupDir, '..'));
    const backup = await script(
      ['backup', '--data-dir', server.dataDir, '--out', backupDir],
      databaseEnv(url),
    );
    expect(backup.code, backup.stderr).toBe(0);

    // The disaster: the node and its data directory gone, the database dropped.
    await server.dispose();
    server = undefined;
    await store.drop(url);
  });

  afterAll(async () => {
    await server?.dispose();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    await store.close();
  });

  it('holds the database, the sealed root key file and checksums, but never the passphrase', () => {
    const files = readdirSync(backupDir).sort();
    expect(files).toEqual(
      store === sqlite
        ? ['MANIFEST', 'SHA256SUMS', 'keyhaven.db', 'root-key.json']
        : ['MANIFEST', 'SHA256SUMS', 'database.pgdump', 'root-key.json'],
    );
    for (const file of files) {
      expect(statSync(join(backupDir, file)).mode & 0o077).toBe(0);
      expect(readFileSync(join(backupDir, file)).includes(Buffer.from(PASSPHRASE))).toBe(false);
    }
  });

  it('refuses a restore with the wrong passphrase, naming it, and removes the files it placed', async () => {
    const dataDir = join(temporary('keyhaven-restore-'), 'data');
    scratch.push(join(dataDir, '..'));
    const url = await store.newDatabase();
    const restore = await script(['restore', '--from', backupDir, '--data-dir', dataDir], {
      KEYHAVEN_ROOT_PASSPHRASE: 'not the passphrase',
      ...databaseEnv(url),
    });
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain('the root passphrase is wrong');
    expect(restore.stderr).toContain('the root key does not open the restored database');
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it("refuses a restore with another deployment's root key file, naming the mismatch, and removes the files it placed", async () => {
    const foreign = await foreignRootKey();
    const swapped = join(temporary('keyhaven-swapped-'), 'backup');
    scratch.push(join(swapped, '..'));
    await run('cp', ['-rp', backupDir, swapped]);
    writeFileSync(join(swapped, 'root-key.json'), foreign, { mode: 0o600 });
    resum(swapped);
    const dataDir = join(temporary('keyhaven-restore-'), 'data');
    scratch.push(join(dataDir, '..'));
    const url = await store.newDatabase();
    const restore = await script(['restore', '--from', swapped, '--data-dir', dataDir], {
      KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE,
      ...databaseEnv(url),
    });
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain('RootKeyMismatch');
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('refuses a damaged backup before touching anything', async () => {
    const damaged = join(temporary('keyhaven-damaged-'), 'backup');
    scratch.push(join(damaged, '..'));
    await run('cp', ['-rp', backupDir, damaged]);
    const database = join(damaged, store === sqlite ? 'keyhaven.db' : 'database.pgdump');
    const bytes = readFileSync(database);
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(database, bytes);
    const dataDir = join(temporary('keyhaven-restore-'), 'data');
    scratch.push(join(dataDir, '..'));
    const restore = await script(['restore', '--from', damaged, '--data-dir', dataDir], {
      KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE,
      ...databaseEnv(await store.newDatabase()),
    });
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain('SHA256SUMS does not match');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('restores into a new place: every ciphertext decrypts, keys, versions, aliases and policy are there, the audit chain verifies', async () => {
    const dataDir = join(temporary('keyhaven-restore-'), 'data');
    scratch.push(join(dataDir, '..'));
    const url = await store.newDatabase();
    const env = { KEYHAVEN_ROOT_PASSPHRASE: PASSPHRASE, ...databaseEnv(url) };
    const restore = await script(['restore', '--from', backupDir, '--data-dir', dataDir], env);
    expect(restore.code, restore.stderr).toBe(0);
    expect(statSync(join(dataDir, 'root-key.json')).mode & 0o777).toBe(0o600);

    server = await startServer({ dataDir, env: { ...env, KEYHAVEN_ADMIN_TOKEN: adminToken } });
    const api = new Api(server.url, adminToken);
    for (const { keyId, plaintext, ciphertext, context } of written) {
      const reply = await api.ok<DecryptReply>('POST', '/v1/decrypt', {
        ciphertext,
        ...(context ? { context } : {}),
      });
      expect(reply.keyId).toBe(keyId.startsWith('alias/') ? rotatedKeyId : keyId);
      expect(Buffer.from(reply.plaintext, 'base64').toString()).toBe(plaintext);
    }
    const keysAfter = await Promise.all(
      keysBefore.map((k) => api.ok<KeyReply>('GET', `/v1/keys/${k.key.keyId}`)),
    );
    expect(keysAfter).toEqual(keysBefore);
    expect(await api.ok<VersionsReply>('GET', `/v1/keys/${rotatedKeyId}/versions`)).toEqual(versionsBefore);
    expect(await api.ok('GET', `/v1/keys/${keysBefore[1]!.key.keyId}/policy`)).toEqual(policyBefore);
    expect(await api.ok('GET', '/v1/aliases')).toEqual(aliasesBefore);
    // A new version made on the restored deployment works beside the restored ones.
    await api.ok('POST', `/v1/keys/${rotatedKeyId}/rotate`);
    const fresh = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
      keyId: 'alias/backed-up',
      plaintext: b64('new'),
    });
    expect((await api.ok<DecryptReply>('POST', '/v1/decrypt', { ciphertext: fresh.ciphertext })).keyId).toBe(
      rotatedKeyId,
    );
    const verification = await api.ok<Verification>('GET', '/v1/logs/verify');
    expect(verification.valid).toBe(true);
    // Every record written before the backup is in the restored chain, which the new server continued.
    expect(verification.records).toBeGreaterThan(recordsBefore);
  });
});
