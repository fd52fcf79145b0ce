// Migrations on SQLite run in one transaction, all of them or none: a migration that fails leaves
// the file as it was, never half migrated (a later start would find tables without the migration
// rows that made them, or the reverse).
import BetterSqlite3 from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tablesOf(path: string): string[] {
  const database = new BetterSqlite3(path, { readonly: true });
  try {
    return (
      database.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]
    )
      .map((row) => row.name)
      .sort();
  } finally {
    database.close();
  }
}

describe('SQLite migrations', () => {
  it('a migration that fails leaves the file as it was: no table of the earlier ones, no migration row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-migrations-'));
    dirs.push(dir);
    const path = join(dir, 'keyhaven.db');
    // A table in the way of a late migration (the one creating client_tokens): every earlier one
    // has run by the time it fails.
    const database = new BetterSqlite3(path);
    database.exec('create table client_tokens (planted integer)');
    database.close();

    await expect(openSqliteStores(path)).rejects.toThrow(/database migration .* failed/);
    // Kysely creates its bookkeeping tables before the migrations' transaction; they stay, empty.
    expect(tablesOf(path)).toEqual(['client_tokens', 'kysely_migration', 'kysely_migration_lock']);
    const database2 = new BetterSqlite3(path, { readonly: true });
    expect(database2.prepare('select count(*) as n from kysely_migration').get()).toEqual({ n: 0 });
    database2.close();
  });

  it('a fresh file gets every table in one go, and opening it again migrates nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-migrations-'));
    dirs.push(dir);
    const path = join(dir, 'keyhaven.db');
    const first = await openSqliteStores(path);
    await first.metadata.close();
    const tables = tablesOf(path);
    expect(tables).toEqual(
      expect.arrayContaining(['keys', 'audit_records', 'client_tokens', 'kysely_migration']),
    );
    const second = await openSqliteStores(path);
    await second.metadata.close();
    expect(tablesOf(path)).toEqual(tables);
  });
});
