import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ROOT_KEY_FILE,
  RootKeyError,
  loadOrCreateRootKey,
} from '../../src/adapters/keystore/software/sealed-root-key.js';
import { ensurePrivateDirectory } from '../../src/adapters/private-files.js';
import { SoftwareRootKeyStore } from '../../src/adapters/keystore/software/software-root-key-store.js';

describe('sealed software root key', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keyhaven-root-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('seals the root key under a passphrase and unseals it only with that passphrase', async () => {
    const created = await loadOrCreateRootKey(dir, 'correct horse battery');
    expect(created).toMatchObject({ created: true, sealed: true });
    const file = readFileSync(join(dir, ROOT_KEY_FILE), 'utf8');
    expect(file).not.toContain(created.key.toString('base64'));
    expect(statSync(join(dir, ROOT_KEY_FILE)).mode & 0o777).toBe(0o600);

    const again = await loadOrCreateRootKey(dir, 'correct horse battery');
    expect(again.key.equals(created.key)).toBe(true);
    await expect(loadOrCreateRootKey(dir, 'wrong passphrase!')).rejects.toThrow(RootKeyError);
    await expect(loadOrCreateRootKey(dir, undefined)).rejects.toThrow(/sealed/);
  });

  it('stores an unsealed development root key in a 0600 file', async () => {
    const created = await loadOrCreateRootKey(dir, undefined);
    expect(created.sealed).toBe(false);
    expect(statSync(join(dir, ROOT_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateRootKey(dir, undefined)).key.equals(created.key)).toBe(true);
    await expect(loadOrCreateRootKey(dir, 'a passphrase now')).rejects.toThrow(/not sealed/);
  });

  it('refuses a root key file that is not JSON, naming the position and never the content', async () => {
    const created = await loadOrCreateRootKey(dir, undefined);
    const path = join(dir, ROOT_KEY_FILE);
    const key = created.key.toString('base64');
    writeFileSync(path, `{"version": 1, "sealed": false, "key": "${key}"`);
    const failure = await loadOrCreateRootKey(dir, undefined).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(RootKeyError);
    expect((failure as Error).message).toMatch(/not valid JSON at line 1, column \d+/);
    expect((failure as Error).message).not.toContain(key.slice(0, 8));
  });

  it('refuses a root key file of the wrong shape, and scrypt parameters out of bounds, before any scrypt', async () => {
    await loadOrCreateRootKey(dir, 'correct horse battery');
    const path = join(dir, ROOT_KEY_FILE);
    const sealed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    for (const edit of [
      { N: 2 ** 30 },
      { N: 2 ** 20, r: 32, p: 16 },
      { N: 2 ** 20, r: 8 },
      { N: 2 ** 17, r: 8, p: 16 },
      { N: 2 ** 17 + 1 },
      { N: 1024 },
      { r: 1000 },
      { p: 64 },
      { salt: 'AAAA' },
      { iv: 42 },
      { kdf: 'pbkdf2' },
      { extra: true },
    ]) {
      writeFileSync(path, JSON.stringify({ ...sealed, ...edit }));
      const started = Date.now();
      await expect(loadOrCreateRootKey(dir, 'correct horse battery')).rejects.toThrow(
        /is not a Keyhaven root key file/,
      );
      expect(Date.now() - started, JSON.stringify(edit)).toBeLessThan(2000);
    }
    writeFileSync(path, JSON.stringify(sealed));
    expect((await loadOrCreateRootKey(dir, 'correct horse battery')).sealed).toBe(true);
  });

  it('refuses a root key file that group or others can read, saying which chmod fixes it', async () => {
    await loadOrCreateRootKey(dir, undefined);
    const path = join(dir, ROOT_KEY_FILE);
    chmodSync(path, 0o644);
    await expect(loadOrCreateRootKey(dir, undefined)).rejects.toThrow(`chmod 600 ${path}`);
    chmodSync(path, 0o600);
    await expect(loadOrCreateRootKey(dir, undefined)).resolves.toMatchObject({ created: false });
  });

  it('refuses a root key file that is a symbolic link', async () => {
    await loadOrCreateRootKey(dir, undefined);
    const path = join(dir, ROOT_KEY_FILE);
    renameSync(path, join(dir, 'elsewhere.json'));
    symlinkSync(join(dir, 'elsewhere.json'), path);
    await expect(loadOrCreateRootKey(dir, undefined)).rejects.toThrow(/must not be a symbolic link/);
  });

  it.runIf(process.getuid?.() === 0)(
    "refuses a root key file and a data directory owned by another user (run as root: CI's case)",
    async () => {
      await loadOrCreateRootKey(dir, undefined);
      const path = join(dir, ROOT_KEY_FILE);
      chownSync(path, 65534, 65534);
      await expect(loadOrCreateRootKey(dir, undefined)).rejects.toThrow(/owned by uid 65534.*chown 0/);
      chownSync(path, 0, 0);
      chownSync(dir, 65534, 65534);
      expect(() => ensurePrivateDirectory(dir)).toThrow(/owned by uid 65534/);
    },
  );

  it('binds wrapped material to its key id and version', async () => {
    const { key } = await loadOrCreateRootKey(dir, undefined);
    const store = new SoftwareRootKeyStore(key);
    const material = Buffer.alloc(32, 9);
    const wrapped = await store.wrapKeyMaterial(material, 'k', 1);
    expect(wrapped.includes(material)).toBe(false);
    expect((await store.unwrapKeyMaterial(wrapped, 'k', 1)).equals(material)).toBe(true);
    await expect(store.unwrapKeyMaterial(wrapped, 'k', 2)).rejects.toMatchObject({ code: 'Unavailable' });
    await expect(store.unwrapKeyMaterial(wrapped, 'other', 1)).rejects.toMatchObject({ code: 'Unavailable' });
  });
});
