// What the server refuses at start-up and how it leaves its files (real server processes): a data
// directory others can read stops it with the chmod to run, and the files that hold key material
// (root key, SQLite database with its WAL and shared-memory files) are readable by its user only.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startExpectingFailure, startServer } from '../helpers/server.js';
import { Api } from './http.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('start-up safety of the data directory', () => {
  it('refuses a data directory group or others can read, with the chmod that fixes it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-shared-dir-'));
    try {
      chmodSync(dataDir, 0o755);
      const { code, output } = await startExpectingFailure({ KEYHAVEN_DATA_DIR: dataDir });
      expect(code).toBe(2);
      expect(output).toContain(`chmod 700 ${dataDir}`);
      expect(existsSync(join(dataDir, 'root-key.json'))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps the root key file and the SQLite files 0600', async () => {
    const server = await startServer();
    try {
      // A write, so that the WAL and shared-memory files exist.
      await new Api(server.url, server.token).ok('POST', '/v1/keys', {});
      for (const file of ['root-key.json', 'keyhaven.db', 'keyhaven.db-wal', 'keyhaven.db-shm']) {
        expect(modeOf(join(server.dataDir, file)), file).toBe(0o600);
      }
      expect(modeOf(server.dataDir)).toBe(0o700);
    } finally {
      await server.dispose();
    }
  });

  it('refuses a root key file others can read, and starts again once it is 0600', async () => {
    const server = await startServer();
    try {
      await server.stop();
      const rootKey = join(server.dataDir, 'root-key.json');
      chmodSync(rootKey, 0o640);
      const { code, output } = await startExpectingFailure({ ...server.env });
      expect(code).toBe(2);
      expect(output).toContain(`chmod 600 ${rootKey}`);
      chmodSync(rootKey, 0o600);
      await server.restart();
    } finally {
      await server.dispose();
    }
  });
});
