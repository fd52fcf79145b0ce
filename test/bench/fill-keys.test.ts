// The benchmark's filled keys (bench/fill-keys.ts) are built as the server's own keys are
// (domain/key.ts generatedKey): read back through the store, each is what CreateKey makes with
// no options, and each encrypts and decrypts. A real data directory, a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fillKeys } from '../../bench/fill-keys.js';
import { loadConfig } from '../../src/config.js';
import type { Key } from '../../src/domain/key.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

const ctx = adminContext();

/** A key record without what differs from one key to the next. */
const shape = ({ keyId: _id, createdAt: _created, updatedAt: _updated, ...rest }: Key) => rest;

describe('bench fillKeys', () => {
  let dataDir: string | undefined;
  let keyhaven: Keyhaven | undefined;
  afterEach(async () => {
    await keyhaven?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes keys that read back as CreateKey with no options makes them, and that seal and open', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-fill-keys-'));
    const env = { KEYHAVEN_DATA_DIR: dataDir, KEYHAVEN_LOG_LEVEL: 'warn' };
    const ids = await fillKeys(env, 3);
    expect(new Set(ids).size).toBe(3);
    keyhaven = await createKeyhaven(loadConfig({ ...env }));
    const created = await keyhaven.metadata.getKey((await keyhaven.keys.createKey(ctx, {})).keyId);
    for (const keyId of ids) {
      const filled = await keyhaven.metadata.getKey(keyId);
      expect(shape(filled!)).toEqual(shape(created!));
      const sealed = await keyhaven.crypto.encrypt(ctx, keyId, Buffer.from('filled'));
      expect((await keyhaven.crypto.decrypt(ctx, sealed.ciphertext)).plaintext.toString()).toBe('filled');
    }
  });
});
