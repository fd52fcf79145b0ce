// `keyhaven keys export|backup|restore` against real server processes: a backup file written on
// server A with the passphrase from the environment restores into server B with the passphrase from
// a file; the exported JSON opens with node:crypto; refusals exit 1 with the server's code.
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyMetadata } from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { runCli, type CliResult, type CliRunOptions } from './run-cli.js';

const PASSPHRASE = 'a passphrase for the cli test';
let a: TestServer;
let b: TestServer;
let workDir: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startServer(), startServer()]);
  workDir = mkdtempSync(join(tmpdir(), 'keyhaven-cli-transfer-'));
});
afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const on =
  (server: TestServer) =>
  (args: string[], options: CliRunOptions = {}) =>
    runCli(args, {
      ...options,
      env: { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token, ...options.env },
    });

function ok(result: CliResult): CliResult {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return result;
}

const file = (name: string) => join(workDir, name);

describe('keyhaven keys export, backup, restore', () => {
  it('backs up to a file on A and restores it into B; the ciphertext from A decrypts on B', async () => {
    const khA = on(a);
    const khB = on(b);
    const key = JSON.parse(
      ok(await khA(['--json', 'keys', 'create', '--description', 'cli backup'])).out,
    ) as {
      key: KeyMetadata;
    };
    const keyId = key.key.keyId;
    writeFileSync(file('plain.txt'), 'secret data');
    ok(await khA(['encrypt', '--key-id', keyId, '--in', file('plain.txt'), '--out', file('plain.enc')]));

    ok(
      await khA(['keys', 'backup', '--key-id', keyId, '--out', file('keys.bundle')], {
        env: { KEYHAVEN_BACKUP_PASSPHRASE: PASSPHRASE },
      }),
    );
    expect(statSync(file('keys.bundle')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('keys.bundle')).subarray(0, 4).toString()).toBe('KHKB');

    writeFileSync(file('wrong.txt'), 'not the passphrase at all\n');
    const wrong = await khB(['keys', 'restore', file('keys.bundle'), '--passphrase-file', file('wrong.txt')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: InvalidCiphertext: /);

    writeFileSync(file('pass.txt'), `${PASSPHRASE}\n`, { mode: 0o600 });
    const restored = ok(
      await khB(['keys', 'restore', file('keys.bundle'), '--passphrase-file', file('pass.txt')]),
    ).out;
    expect(restored).toContain(keyId);
    ok(await khB(['decrypt', '--in', file('plain.enc'), '--out', file('plain.out')]));
    expect(readFileSync(file('plain.out'), 'utf8')).toBe('secret data');

    const again = await khB(['keys', 'restore', file('keys.bundle'), '--passphrase-file', file('pass.txt')]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: Conflict: /);
  });

  it('refuses a passphrase given as an argument, and a backup without any passphrase (exit 2)', async () => {
    const khA = on(a);
    const noPassphrase = await khA(['keys', 'backup', '--key-id', 'alias/none', '--out', file('x.bundle')]);
    expect(noPassphrase.code).toBe(2);
    expect(noPassphrase.stderr).toContain('KEYHAVEN_BACKUP_PASSPHRASE');
    const asArgument = await khA([
      'keys',
      'backup',
      '--key-id',
      'alias/none',
      '--passphrase',
      PASSPHRASE,
      '--out',
      file('x.bundle'),
    ]);
    expect(asArgument.code).toBe(2);
  });

  it('exports an exportable key as JSON whose material opens with the RSA private key', async () => {
    const khA = on(a);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(file('wrap.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const created = JSON.parse(
      ok(
        await khA([
          '--json',
          'keys',
          'create',
          '--key-spec',
          'HMAC_256',
          '--key-usage',
          'GENERATE_VERIFY_MAC',
          '--exportable',
        ]),
      ).out,
    ) as { key: KeyMetadata };
    const exported = JSON.parse(
      ok(
        await khA([
          '--json',
          'keys',
          'export',
          created.key.keyId,
          '--wrapping-key',
          file('wrap.pem'),
          '--algorithm',
          'RSAES_OAEP_SHA_256',
        ]),
      ).out,
    ) as { versions: { encryptedKeyMaterial: string; keyMaterialType: string }[] };
    expect(exported.versions[0]!.keyMaterialType).toBe('SYMMETRIC');
    const material = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(exported.versions[0]!.encryptedKeyMaterial, 'base64'),
    );
    expect(material.length).toBe(32);

    const plain = JSON.parse(ok(await khA(['--json', 'keys', 'create'])).out) as { key: KeyMetadata };
    const refused = await khA(['keys', 'export', plain.key.keyId, '--wrapping-key', file('wrap.pem')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Conflict: .*not created exportable/);
  });
});
