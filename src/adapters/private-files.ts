// The data directory and the files in it that hold secrets (the root key, the metadata database)
// belong to the server's user alone. Start-up refuses group- or world-accessible ones, saying which
// chmod fixes them, rather than running with key material others can read.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { ConfigError } from '../config.js';

const SHARED_BITS = 0o077;

/** Creates the directory (0700) if needed; refuses an existing one others can access. */
export function ensurePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  refuseIfShared(dir, 'the data directory', '700');
}

/** Refuses a file others can access (the root key file). */
export function assertPrivateFile(path: string): void {
  refuseIfShared(path, 'this file holds key material and', '600');
}

/**
 * Creates the file empty with mode 0600 unless it exists, and narrows an existing one to 0600
 * (SQLite gives its -wal and -shm files the mode of the database file).
 */
export function createPrivateFile(path: string): void {
  if (existsSync(path)) {
    if ((statSync(path).mode & SHARED_BITS) !== 0) chmodSync(path, 0o600);
    return;
  }
  closeSync(openSync(path, 'a', 0o600));
}

function refuseIfShared(path: string, what: string, mode: string): void {
  const bits = statSync(path).mode & 0o777;
  if ((bits & SHARED_BITS) !== 0) {
    throw new ConfigError(
      `${path}: ${what} must not be accessible to group or others (mode ${bits.toString(8).padStart(3, '0')}); run: chmod ${mode} ${path}`,
    );
  }
}
