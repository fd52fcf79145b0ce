// Migration 0004 on a database as the release before identity left it: the bootstrap admin's API
// keys become an admin principal's, keys and aliases move to the default tenant, and the old
// credential still works with the admin role.
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateTo } from '../../src/adapters/metadata/migrations/index.js';
import { loadConfig } from '../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

describe('migration 0004 (identity) on an existing database', () => {
  let dataDir: string;
  let keyhaven: Keyhaven | undefined;
  afterEach(async () => {
    await keyhaven?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('turns the legacy admin keys into an admin principal and moves keys and aliases to the default tenant', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-migration-'));
    const file = new Database(join(dataDir, 'keyhaven.db'));
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: file }) });
    await migrateTo(db, '0003_seal_counter');
    const secret = 'khk_legacy-admin-token-0123456789';
    const keyId = randomUUID();
    const now = Date.now();
    file
      .prepare('insert into api_keys (id, secret_hash, principal, created_at) values (?, ?, ?, ?)')
      .run(randomUUID(), createHash('sha256').update(secret).digest(), 'admin', now);
    file
      .prepare(
        `insert into keys (key_id, key_spec, key_usage, state, protection_level, origin, current_version,
           description, tags, created_at, updated_at, exportable, public_key_only)
         values (?, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'Disabled', 'SOFTWARE', 'KEYHAVEN', 0, 'old', '{}', ?, ?, 0, 0)`,
      )
      .run(keyId, now, now);
    file
      .prepare('insert into aliases (name, key_id, created_at) values (?, ?, ?)')
      .run('alias/legacy', keyId, now);
    await db.destroy();

    keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dataDir }));
    // No second bootstrap admin: the migrated one exists.
    expect(await keyhaven.auth.bootstrapAdmin(undefined)).toEqual({ created: false });
    const { principal } = await keyhaven.auth.authenticate({ authorization: `Bearer ${secret}` });
    expect(principal).toMatchObject({ name: 'admin', tenant: 'default', roles: ['admin'] });
    const ctx = adminContext();
    const key = await keyhaven.keys.describeKey(ctx, 'alias/legacy');
    expect(key).toMatchObject({ keyId, tenant: 'default', aliases: ['alias/legacy'] });
    expect((await keyhaven.tenants.describeTenant(ctx, 'default')).name).toBe('default');
  });
});
