// The data directory and the files in it that hold secrets (the root key, the metadata database)
// belong to the server's user alone. Start-up refuses ones owned by another user, symbolic links,
// and group- or world-accessible ones (saying which chmod fixes them), rather than running with key
// material others can read or replace.
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { ConfigError } from '../config-error.js';

const SHARED_BITS = 0o077;

/** Creates the directory (0700) if needed; refuses an existing one that is not private. */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertPrivate(dir, 'the data directory', '700');
}

/** Refuses a key file that is not private (the root key file). */
export function assertPrivateFile(path: string): void {
  assertPrivate(path, 'the root key file', '600');
}

/**
 * Creates the file empty with mode 0600 unless it exists, and narrows an existing one of this user
 * to 0600 (SQLite gives its -wal and -shm files the mode of the database file).
 */
export function createPrivateFile(path: string): void {
  if (!existsSync(path)) {
    closeSync(openSync(path, 'a', 0o600));
    return;
  }
  assertOwn(path, 'the metadata database');
  if ((lstatSync(path).mode & SHARED_BITS) !== 0) chmodSync(path, 0o600);
}

function assertPrivate(path: string, what: string, mode: string): void {
  assertOwn(path, what);
  const bits = lstatSync(path).mode & 0o777;
  if ((bits & SHARED_BITS) !== 0) {
    throw new ConfigError(
      `${path}: ${what} must not be accessible to group or others (mode ${bits.toString(8).padStart(3, '0')}); run: chmod ${mode} ${path}`,
    );
  }
}

/** Another user's file, or a link to somewhere else, could be read or swapped by someone else. */
function assertOwn(path: string, what: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) {
    throw new ConfigError(`${path}: ${what} must not be a symbolic link; configure the real path`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new ConfigError(
      `${path}: ${what} is owned by uid ${stat.uid}, not by this server's user (uid ${uid}); run: chown ${uid} ${path}`,
    );
  }
}
