// The service and store additions AWS's actions rest on, through the real services on a real SQLite
// file: how a version came to be (AUTOMATIC or ON_DEMAND), tag merges inside one optimistic change,
// create-only and compare-and-set aliases, alias pages with store-issued cursors, and migration
// 0007 on a database the release before left.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateTo } from '../../src/adapters/metadata/migrations/index.js';
import { loadConfig } from '../../src/config.js';
import { KmsError } from '../../src/domain/errors.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { adminContext } from '../helpers/request-context.js';

async function errorOf(work: Promise<unknown>): Promise<KmsError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  return error as KmsError;
}

describe('key service and alias service additions', () => {
  let dir: string;
  let keyhaven: Keyhaven;
  const ctx = () => adminContext('Test');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-aws-keys-'));
    keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dir }));
  });
  afterAll(async () => {
    await keyhaven.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a rotation from a due version as AUTOMATIC and one asked for as ON_DEMAND', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    await keyhaven.keys.rotateKey(ctx(), key.keyId, 1);
    await keyhaven.keys.rotateKey(ctx(), key.keyId);
    // From a version no longer current: nothing happens, nothing is recorded.
    await keyhaven.keys.rotateKey(ctx(), key.keyId, 1);
    const { versions } = await keyhaven.keys.listKeyVersions(ctx(), key.keyId);
    expect(versions.map((v) => [v.version, v.rotation])).toEqual([
      [1, undefined],
      [2, 'AUTOMATIC'],
      [3, 'ON_DEMAND'],
    ]);
  });

  it('checks a precondition after authorization and before writing anything', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    const refusal = new KmsError('KeyDisabled', 'refused by the surface');
    const refuse = () => {
      throw refusal;
    };
    expect(await errorOf(keyhaven.keys.rotateKey(ctx(), key.keyId, undefined, refuse))).toBe(refusal);
    expect(await errorOf(keyhaven.keys.updateKey(ctx(), key.keyId, { rotationPeriodDays: 90 }, refuse))).toBe(
      refusal,
    );
    const after = await keyhaven.keys.describeKey(ctx(), key.keyId);
    expect(after).toMatchObject({ currentVersion: 1, rotationPeriodDays: null, updatedAt: key.updatedAt });
  });

  it('merges and removes tags, keeps the 50-tag limit, and refuses a stale write', async () => {
    const key = await keyhaven.keys.createKey(ctx(), { tags: { a: '1', b: '2' } });
    const tagged = await keyhaven.keys.tagKey(ctx(), key.keyId, { b: '3', c: '' });
    expect(tagged.tags).toEqual({ a: '1', b: '3', c: '' });
    const untagged = await keyhaven.keys.untagKey(ctx(), key.keyId, ['a', 'missing']);
    expect(untagged.tags).toEqual({ b: '3', c: '' });
    const many = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`t${i}`, 'v']));
    expect((await errorOf(keyhaven.keys.tagKey(ctx(), key.keyId, many))).code).toBe('ValidationError');
    expect((await keyhaven.keys.describeKey(ctx(), key.keyId)).tags).toEqual({ b: '3', c: '' });
    // Both read the same version of the key: one write wins, the other is refused, none is lost.
    const results = await Promise.allSettled([
      keyhaven.keys.tagKey(ctx(), key.keyId, { x: '1' }),
      keyhaven.keys.tagKey(ctx(), key.keyId, { y: '1' }),
    ]);
    const tags = (await keyhaven.keys.describeKey(ctx(), key.keyId)).tags;
    for (const [i, name] of ['x', 'y'].entries()) {
      const result = results[i]!;
      if (result.status === 'fulfilled') expect(tags).toHaveProperty(name);
      else expect((result.reason as KmsError).conflict).toBe('ConcurrentModification');
    }
  });

  it('creates an alias only if the name is free, and re-points it only from the key it names', async () => {
    const first = await keyhaven.keys.createKey(ctx(), {});
    const second = await keyhaven.keys.createKey(ctx(), {});
    const name = `alias/svc-${randomUUID()}`;
    await keyhaven.aliases.createAlias(ctx(), name, first.keyId);
    const taken = await errorOf(keyhaven.aliases.createAlias(ctx(), name, second.keyId));
    expect(taken).toMatchObject({ code: 'Conflict', conflict: 'AlreadyExists' });
    expect(await keyhaven.metadata.updateAlias('default', name, second.keyId, first.keyId, new Date())).toBe(
      false,
    );
    expect(await keyhaven.metadata.resolveAlias('default', name)).toBe(first.keyId);
    await keyhaven.aliases.updateAlias(ctx(), name, second.keyId);
    expect(await keyhaven.metadata.resolveAlias('default', name)).toBe(second.keyId);
    expect((await errorOf(keyhaven.aliases.updateAlias(ctx(), `${name}-x`, first.keyId))).code).toBe(
      'NotFound',
    );
  });

  it('pages aliases by name with cursors it issued, and refuses others as InvalidMarker', async () => {
    const key = await keyhaven.keys.createKey(ctx(), {});
    const names = ['c', 'a', 'b', 'd'].map((n) => `alias/page-${n}-${key.keyId}`);
    for (const name of names) await keyhaven.aliases.createAlias(ctx(), name, key.keyId);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await keyhaven.aliases.listAliasPage(ctx(), {
        reference: key.keyId,
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.aliases.map((a) => a.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...names].sort());
    for (const bad of [
      'x',
      Buffer.from('a:not an alias').toString('base64url'),
      `${Buffer.from('a:alias/a').toString('base64url')}=`,
    ]) {
      const error = await errorOf(keyhaven.aliases.listAliasPage(ctx(), { limit: 3, cursor: bad }));
      expect(error, bad).toMatchObject({ code: 'ValidationError', validation: 'InvalidMarker' });
    }
  });
});

describe('migration 0007 on a database the release before left', () => {
  it('keeps aliases, each last updated when it was created', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-migration-0007-'));
    let keyhaven: Keyhaven | undefined;
    try {
      const file = new Database(join(dataDir, 'keyhaven.db'));
      const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: file }) });
      await migrateTo(db, '0005_audit');
      const keyId = randomUUID();
      const created = Date.now() - 60_000;
      file
        .prepare(
          `insert into keys (key_id, key_spec, key_usage, state, protection_level, origin, current_version,
             description, tags, created_at, updated_at, exportable, public_key_only, tenant)
           values (?, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'Disabled', 'SOFTWARE', 'KEYHAVEN', 0, '', '{}', ?, ?, 0, 0, 'default')`,
        )
        .run(keyId, created, created);
      file
        .prepare('insert into aliases (tenant_id, name, key_id, created_at) values (?, ?, ?, ?)')
        .run('default', 'alias/before-0007', keyId, created);
      await db.destroy();

      keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dataDir }));
      const page = await keyhaven.aliases.listAliasPage(adminContext(), { limit: 10 });
      expect(page.aliases).toEqual([
        {
          name: 'alias/before-0007',
          keyId,
          createdAt: new Date(created),
          updatedAt: new Date(created),
        },
      ]);
    } finally {
      await keyhaven?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
