// A consistent copy of a live SQLite database through SQLite's online backup API (better-sqlite3's
// db.backup()): pages are copied while the server keeps writing, and a write during the copy makes
// SQLite restart it, so the result is one committed state. A plain cp of keyhaven.db can miss what
// is still in the -wal file or catch a page mid-write.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createPrivateFile } from '../../private-files.js';

/** Copies the database at `path` to `out` (created 0600; it must not exist). Returns its page count. */
export async function backupSqliteDatabase(path: string, out: string): Promise<number> {
  if (existsSync(out)) throw new Error(`${out} exists already: give a new file`);
  const database = new Database(path, { fileMustExist: true });
  try {
    // The server waits on the write lock the same way; a backup step only needs a read lock.
    database.pragma('busy_timeout = 5000');
    createPrivateFile(out);
    const { totalPages } = await database.backup(out);
    return totalPages;
  } finally {
    database.close();
  }
}
