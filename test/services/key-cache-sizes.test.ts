// The per-key caches (key versions in KeyDirectory, AES-GCM seal budgets in SealBudget) hold as
// many entries as cache.keyMetadataMaxEntries says, through the composition root on a real SQLite
// file: a working set within it is read and reserved once, one beyond it again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

const ctx = adminContext();

function reservedInFile(dataDir: string, keyId: string): number {
  const file = new Database(join(dataDir, 'keyhaven.db'), { readonly: true });
  try {
    const row = file.prepare('select seals_reserved from key_versions where key_id = ?').get(keyId) as {
      seals_reserved: number;
    };
    return Number(row.seals_reserved);
  } finally {
    file.close();
  }
}

describe('cache.keyMetadataMaxEntries', () => {
  let dataDir: string | undefined;
  let keyhaven: Keyhaven | undefined;
  afterEach(async () => {
    await keyhaven?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const [maxEntries, readsOfTheFirst, reservations] of [
    [2, 2, 2],
    [3, 1, 1],
  ] as const) {
    it(`at ${maxEntries}, three keys used in turn read the first key and its version ${readsOfTheFirst} time(s) and reserve its seals ${reservations} time(s)`, async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-cache-sizes-'));
      const config = loadConfig({ KEYHAVEN_DATA_DIR: dataDir });
      config.cache.keyMetadataMaxEntries = maxEntries;
      // Nothing expires during the test: only the bound makes a cache read the store again.
      config.cache.keyMetadataTtlMs = 600_000;
      keyhaven = await createKeyhaven(config);
      const keys: string[] = [];
      for (let i = 0; i < 3; i++) keys.push((await keyhaven.keys.createKey(ctx, {})).keyId);
      const store = keyhaven.metadata;
      const getKey = store.getKey.bind(store);
      const keyReads: string[] = [];
      store.getKey = async (keyId) => {
        keyReads.push(keyId);
        return getKey(keyId);
      };
      const getVersion = store.getVersion.bind(store);
      const versionReads: string[] = [];
      store.getVersion = async (keyId, version) => {
        versionReads.push(keyId);
        return getVersion(keyId, version);
      };
      const reserveSeals = store.reserveSeals.bind(store);
      const reserved: string[] = [];
      store.reserveSeals = async (keyId, ...rest) => {
        reserved.push(keyId);
        return reserveSeals(keyId, ...rest);
      };
      for (const keyId of [...keys, keys[0]!]) await keyhaven.crypto.encrypt(ctx, keyId, Buffer.from('x'));
      expect(keyReads.filter((keyId) => keyId === keys[0])).toHaveLength(readsOfTheFirst);
      expect(versionReads.filter((keyId) => keyId === keys[0])).toHaveLength(readsOfTheFirst);
      expect(reserved.filter((keyId) => keyId === keys[0])).toHaveLength(reservations);
      // A dropped budget's unused seals are lost, never reused: the count only grows.
      expect(reservedInFile(dataDir, keys[0]!)).toBe(64 * reservations);
    });
  }
});
