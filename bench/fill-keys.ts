// Fills a bench server's store with many keys before it starts, for the rows that measure encrypt
// with 100,000 keys in the store. 100,000 REST calls would take minutes (create-key serves a few
// hundred to two thousand a second here); instead this process opens a data directory with the
// server's own composition root, generates and root-wraps each key's material with the SOFTWARE
// backend, exactly as CreateKey does, builds each record as the server's own keys are built
// (generatedKey), and writes the keys in large transactions through the
// metadata store's bulk path (restoreKeys, the one key backups restore through). The directory's
// root key and SQLite file are then copied into each server's data directory before it starts, so
// servers with the same number of keys share one fill; each finds the keys as it finds any other.
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_KEY_FILE } from '../src/adapters/keystore/software/sealed-root-key.js';
import { loadConfig } from '../src/config.js';
import { firstVersion, generatedKey } from '../src/domain/key.js';
import { DEFAULT_TENANT } from '../src/domain/request-context.js';
import { createKeyhaven } from '../src/keyhaven.js';
import type { RestoredKey } from '../src/ports/metadata-store.js';

/** Keys written per transaction: large enough to amortise the commit, small enough to stay light. */
const BATCH = 5000;

/**
 * Creates `count` Enabled SOFTWARE SYMMETRIC_DEFAULT keys (no alias, no tags, no policy) in the
 * store of the server whose environment is `env` (its data directory, configuration, database),
 * and returns their ids. Creates the root key and the schema if they do not exist yet, as the
 * server's first start would.
 */
export async function fillKeys(env: Record<string, string>, count: number): Promise<string[]> {
  // A copy: loadConfig deletes the secrets it read from the object it is given.
  const keyhaven = await createKeyhaven(loadConfig({ ...env }));
  const ids: string[] = [];
  try {
    const backend = keyhaven.keys.backendFor('SOFTWARE');
    const now = new Date();
    while (ids.length < count) {
      const batch: RestoredKey[] = [];
      for (let i = 0; i < BATCH && ids.length + batch.length < count; i++) {
        const keyId = randomUUID();
        const created = await backend.createVersionMaterial(keyId, 1, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
        const version = firstVersion(keyId, now, created);
        const key = generatedKey(
          {
            keyId,
            keySpec: 'SYMMETRIC_DEFAULT',
            keyUsage: 'ENCRYPT_DECRYPT',
            protectionLevel: 'SOFTWARE',
            tenant: DEFAULT_TENANT,
          },
          now,
        );
        batch.push({ key, versions: [{ version, sealsReserved: 0 }], aliases: [] });
      }
      await keyhaven.metadata.restoreKeys(batch);
      for (const { key, versions } of batch) {
        ids.push(key.keyId);
        // The wrapped material is in the store now; this process's copy goes.
        for (const { version } of versions) version.material.fill(0);
      }
    }
  } finally {
    await keyhaven.close();
  }
  return ids;
}

export interface FilledStore {
  /** The filled keys' ids, in the order they were written. */
  keyIds: string[];
  /** Copies the root key and the SQLite file into a server's (new, empty) data directory. */
  copyInto(dataDir: string): void;
  /** Removes the template directory (idempotent). */
  dispose(): void;
}

/** The SQLite file (`keyhaven.db`, the default metadata path) and its WAL files, if any. */
const STORE_FILES = /^keyhaven\.db(-wal|-shm)?$/;

/**
 * Fills a new template data directory with `count` keys (fillKeys) under a root key of its own, in
 * the clear: the servers it is copied into are compared with the reference, which has one too.
 */
export async function fillTemplate(count: number): Promise<FilledStore> {
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-bench-keys-'));
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  try {
    const keyIds = await fillKeys({ KEYHAVEN_DATA_DIR: dir, KEYHAVEN_LOG_LEVEL: 'warn' }, count);
    return {
      keyIds,
      copyInto(dataDir) {
        for (const file of readdirSync(dir)) {
          if (file === ROOT_KEY_FILE || STORE_FILES.test(file))
            copyFileSync(join(dir, file), join(dataDir, file));
        }
      },
      dispose,
    };
  } catch (error) {
    dispose();
    throw error;
  }
}
