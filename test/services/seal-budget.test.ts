// The AES-GCM message bound, through the composition root on real SQLite files (limits lowered by
// configuration, as an operator may): a version past aesGcmRotateAfter rotates by itself, imported
// material stops at aesGcmMaxMessages with LimitExceeded, and the count is monotonic across
// restarts and across two instances sharing one database.
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../src/adapters/metadata/migrations/index.js';
import { loadConfig } from '../../src/config.js';
import { KmsError } from '../../src/domain/errors.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

const ctx = adminContext();

const ROTATE_AFTER = 10;
const MAX_MESSAGES = 20;

async function open(dataDir: string): Promise<Keyhaven> {
  const config = loadConfig({ KEYHAVEN_DATA_DIR: dataDir });
  config.limits.aesGcmRotateAfter = ROTATE_AFTER;
  config.limits.aesGcmMaxMessages = MAX_MESSAGES;
  return createKeyhaven(config);
}

async function importedKey(keyhaven: Keyhaven): Promise<string> {
  const key = await keyhaven.keys.createKey(ctx, { origin: 'EXTERNAL' });
  const parameters = await keyhaven.imports.getImportParameters(ctx, key.keyId);
  const encryptedKeyMaterial = publicEncrypt(
    { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    randomBytes(32),
  );
  await keyhaven.imports.importKeyMaterial(ctx, key.keyId, {
    importToken: parameters.importToken,
    encryptedKeyMaterial,
  });
  return key.keyId;
}

/** Encrypts until refused; returns how many succeeded and the refusal's code. */
async function sealUntilRefused(keyhaven: Keyhaven, keyId: string, attempts: number) {
  let sealed = 0;
  for (let i = 0; i < attempts; i++) {
    try {
      await keyhaven.crypto.encrypt(ctx, keyId, Buffer.from(`message ${i}`));
      sealed++;
    } catch (error) {
      if (error instanceof KmsError) return { sealed, code: error.code, message: error.message };
      throw error;
    }
  }
  return { sealed, code: undefined, message: undefined };
}

function reservedInFile(dataDir: string, keyId: string): number {
  const file = new Database(join(dataDir, 'keyhaven.db'), { readonly: true });
  try {
    const row = file
      .prepare('select sum(seals_reserved) as n from key_versions where key_id = ?')
      .get(keyId) as { n: number };
    return Number(row.n);
  } finally {
    file.close();
  }
}

describe('the AES-GCM message bound', () => {
  let dataDir: string;
  let keyhaven: Keyhaven;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-seals-'));
    keyhaven = await open(dataDir);
  });
  afterEach(async () => {
    await keyhaven.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('rotates a key by itself once a version has sealed aesGcmRotateAfter messages; old ciphertexts still open', async () => {
    const key = await keyhaven.keys.createKey(ctx, {});
    const first = [];
    for (let i = 0; i < ROTATE_AFTER - 1; i++)
      first.push(await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('a')));
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(1);
    first.push(await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('a')));
    await expect.poll(async () => (await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBe(2);
    expect(first.every((sealed) => sealed.keyVersion === 1)).toBe(true);
    await expect
      .poll(async () => (await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('b'))).keyVersion)
      .toBe(2);
    for (const sealed of first)
      expect((await keyhaven.crypto.decrypt(ctx, sealed.ciphertext)).keyVersion).toBe(1);
    // Data keys are sealed under the same bound: they count too, and the key keeps working.
    const { sealed, code } = await sealUntilRefused(keyhaven, key.keyId, 3 * MAX_MESSAGES);
    expect({ sealed, code }).toEqual({ sealed: 3 * MAX_MESSAGES, code: undefined });
    expect((await keyhaven.keys.describeKey(ctx, key.keyId)).currentVersion).toBeGreaterThanOrEqual(4);
  });

  it('refuses to seal past aesGcmMaxMessages with LimitExceeded where rotation is impossible (imported material)', async () => {
    const keyId = await importedKey(keyhaven);
    const sealedBefore = await keyhaven.crypto.encrypt(ctx, keyId, Buffer.from('kept'));
    await keyhaven.crypto.generateDataKey(ctx, keyId);
    const { sealed, code, message } = await sealUntilRefused(keyhaven, keyId, MAX_MESSAGES + 5);
    expect(sealed).toBe(MAX_MESSAGES - 2);
    expect(code).toBe('LimitExceeded');
    expect(message).toMatch(/imported material cannot rotate/);
    await expect(keyhaven.crypto.generateDataKey(ctx, keyId)).rejects.toMatchObject({
      code: 'LimitExceeded',
    });
    // What was sealed still opens: the bound limits sealing only.
    expect((await keyhaven.crypto.decrypt(ctx, sealedBefore.ciphertext)).plaintext.toString()).toBe('kept');
    expect((await keyhaven.keys.describeKey(ctx, keyId)).currentVersion).toBe(1);
  });

  it('never resets the count on restart: seals before and after never exceed the bound in all', async () => {
    const keyId = await importedKey(keyhaven);
    const before = await sealUntilRefused(keyhaven, keyId, 5);
    expect(before.sealed).toBe(5);
    await keyhaven.close();
    keyhaven = await open(dataDir);
    const after = await sealUntilRefused(keyhaven, keyId, MAX_MESSAGES);
    expect(after.code).toBe('LimitExceeded');
    expect(before.sealed + after.sealed).toBeLessThanOrEqual(MAX_MESSAGES);
    // Reserved blocks are counted as used: a crash or restart wastes them, never reuses them.
    expect(reservedInFile(dataDir, keyId)).toBe(MAX_MESSAGES);
  });

  it("starts a version that sealed before the count existed from its key's usage counters, not from zero", async () => {
    // The database as the release before migration 0003 left it: no seal column, usage counted.
    await keyhaven.close();
    const legacyDir = mkdtempSync(join(tmpdir(), 'keyhaven-seal-legacy-'));
    try {
      const keyId = '5f0c8a56-1d0e-4a8e-9c35-3f3a3c6b9f10';
      const file = new Database(join(legacyDir, 'keyhaven.db'));
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: file }) });
      await migrateTo(db, '0002_material_destruction');
      const now = Date.now();
      file
        .prepare(
          `insert into keys (key_id, key_spec, key_usage, state, protection_level, origin, current_version,
             description, tags, created_at, updated_at, exportable, public_key_only)
           values (?, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'Enabled', 'SOFTWARE', 'KEYHAVEN', 1, '', '{}', ?, ?, 0, 0)`,
        )
        .run(keyId, now, now);
      file
        .prepare(
          "insert into key_versions (key_id, version, state, created_at, material) values (?, 1, 'Enabled', ?, ?)",
        )
        .run(keyId, now, Buffer.alloc(60));
      const usage = file.prepare(
        'insert into key_usage (key_id, operation, count, last_used_at) values (?, ?, ?, ?)',
      );
      usage.run(keyId, 'encrypt', 5, now);
      usage.run(keyId, 'generateDataKey', 1, now);
      usage.run(keyId, 'decrypt', 7, now);
      await db.destroy();
      keyhaven = await open(legacyDir);
      expect(reservedInFile(legacyDir, keyId)).toBe(6);
    } finally {
      await keyhaven.close();
      keyhaven = await open(dataDir);
      rmSync(legacyDir, { recursive: true, force: true });
    }
  });

  it('gives two instances sharing one database disjoint seals, never more than the bound together', async () => {
    const keyId = await importedKey(keyhaven);
    const other = await open(dataDir);
    try {
      const results = await Promise.all([
        sealUntilRefused(keyhaven, keyId, MAX_MESSAGES),
        sealUntilRefused(other, keyId, MAX_MESSAGES),
      ]);
      const total = results[0].sealed + results[1].sealed;
      expect(total).toBeLessThanOrEqual(MAX_MESSAGES);
      expect(results.some((r) => r.code === 'LimitExceeded')).toBe(true);
    } finally {
      await other.close();
    }
  });
});
