// The `keyhaven` CLI against a real server process: key commands, envelope encryption of files and
// pipes (5 MiB, with context, tampering), sign/verify, datakey, random, --json and exit codes.
import { createHash, createPublicKey, randomBytes, verify as localVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyMetadata } from '../../src/client/index.js';
import { TAG_LENGTH, decodeEnvelopeHeader } from '../../src/cli/envelope-format.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { runCli, type CliResult, type CliRunOptions } from './run-cli.js';

let server: TestServer;
let workDir: string;

beforeAll(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'keyhaven-cli-'));
});

afterAll(async () => {
  await server?.dispose();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const kh = (args: string[], options: CliRunOptions = {}) =>
  runCli(args, {
    ...options,
    env: { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token, ...options.env },
  });

function ok(result: CliResult): CliResult {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return result;
}

async function json<T>(args: string[], options?: CliRunOptions): Promise<T> {
  return JSON.parse(ok(await kh(['--json', ...args], options)).out) as T;
}

const createKey = async (...args: string[]) =>
  (await json<{ key: KeyMetadata }>(['keys', 'create', ...args])).key;
const file = (name: string) => join(workDir, name);
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

describe('keyhaven keys', () => {
  it('create, describe, list, rotate, versions, disable, enable, delete, cancel-deletion', async () => {
    const alias = `alias/${unique('cli')}`;
    const key = await createKey('--alias', alias, '--description', 'cli test', '--tag', 'env=test');
    expect(key).toMatchObject({ keySpec: 'SYMMETRIC_DEFAULT', state: 'Enabled', tags: { env: 'test' } });

    const described = ok(await kh(['keys', 'describe', alias])).out;
    expect(described).toMatch(new RegExp(`^Key ID: +${key.keyId}$`, 'm'));
    expect(described).toMatch(/^Description: +cli test$/m);

    const table = ok(await kh(['keys', 'list'])).out;
    expect(table.split('\n')[0]).toMatch(/^KEY ID +ALIAS +SPEC +USAGE +STATE +VER +CREATED +DESCRIPTION$/);
    expect(table).toContain(key.keyId);
    const listed = await json<{ keys: KeyMetadata[] }>(['keys', 'list', '--alias', alias]);
    expect(listed.keys.map((k) => k.keyId)).toEqual([key.keyId]);
    const page = await json<{ keys: KeyMetadata[]; nextCursor: string | null }>([
      'keys',
      'list',
      '--limit',
      '1',
    ]);
    expect(page.keys).toHaveLength(1);

    expect((await json<{ key: KeyMetadata }>(['keys', 'rotate', key.keyId])).key.currentVersion).toBe(2);
    const { versions } = await json<{ versions: { version: number }[] }>(['keys', 'versions', key.keyId]);
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(ok(await kh(['keys', 'versions', key.keyId])).out).toMatch(/^VERSION +STATE +CREATED\n1 +Enabled/);

    expect((await json<{ key: KeyMetadata }>(['keys', 'disable', key.keyId])).key.state).toBe('Disabled');
    const refused = await kh(['encrypt', '--key-id', key.keyId], { input: 'data' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: KeyDisabled: /);
    expect((await json<{ key: KeyMetadata }>(['keys', 'enable', key.keyId])).key.state).toBe('Enabled');

    const deleted = await json<{ key: KeyMetadata }>([
      'keys',
      'delete',
      key.keyId,
      '--pending-window-days',
      '7',
    ]);
    expect(deleted.key.state).toBe('PendingDeletion');
    expect(deleted.key.deletionDate).toBeTruthy();
    expect((await json<{ key: KeyMetadata }>(['keys', 'cancel-deletion', key.keyId])).key.state).toBe(
      'Disabled',
    );
  });

  it('update changes description and tags; usage counts operations', async () => {
    const key = await createKey();
    const updated = await json<{ key: KeyMetadata }>([
      'keys',
      'update',
      key.keyId,
      '--description',
      'new words',
      '--tag',
      'a=1',
    ]);
    expect(updated.key).toMatchObject({ description: 'new words', tags: { a: '1' } });
    ok(await kh(['datakey', '--key-id', key.keyId]));
    const usage = await json<Record<string, unknown>>(['keys', 'usage', key.keyId]);
    expect(usage.generateDataKey).toBe(1);
  });

  it('public-key prints PEM and writes DER', async () => {
    const key = await createKey('--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY');
    const pem = ok(await kh(['keys', 'public-key', key.keyId])).out;
    expect(pem).toContain('-----BEGIN PUBLIC KEY-----');
    ok(await kh(['keys', 'public-key', key.keyId, '--der', '--out', file('pub.der')]));
    expect(
      createPublicKey(pem)
        .export({ format: 'der', type: 'spki' })
        .equals(readFileSync(file('pub.der'))),
    ).toBe(true);
  });

  it('import brings your own symmetric key (BYOK)', async () => {
    const key = await createKey('--origin', 'EXTERNAL');
    expect(key.state).toBe('PendingImport');
    writeFileSync(file('material.bin'), randomBytes(32));
    const imported = await json<{ key: KeyMetadata }>([
      'keys',
      'import',
      key.keyId,
      '--material',
      file('material.bin'),
    ]);
    expect(imported.key.state).toBe('Enabled');
  });

  it('an unknown key fails with exit 1 and "error: NotFound:", no stack trace', async () => {
    const result = await kh(['keys', 'describe', '00000000-0000-4000-8000-000000000000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: NotFound: .+\nrequest id: \S+\n$/);
    expect(result.stdout).toHaveLength(0);
  });

  it('a wrong token fails with Unauthenticated', async () => {
    const result = await kh(['keys', 'list'], { env: { KEYHAVEN_TOKEN: 'khk_not_the_token_00000000' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Unauthenticated: /);
  });
});

describe('keyhaven aliases', () => {
  it('set, list, delete', async () => {
    const key = await createKey();
    const alias = `alias/${unique('named')}`;
    expect(ok(await kh(['aliases', 'set', alias, key.keyId])).out).toBe(`${alias} -> ${key.keyId}\n`);
    const { aliases } = await json<{ aliases: { alias: string; keyId: string }[] }>(['aliases', 'list']);
    expect(aliases).toContainEqual(expect.objectContaining({ alias, keyId: key.keyId }));
    // --create-only does not move an alias that exists.
    const other = await createKey();
    const refused = await kh(['aliases', 'set', '--create-only', alias, other.keyId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Conflict: alias .+ already exists\n/);
    expect((await json<{ key: KeyMetadata }>(['keys', 'describe', alias])).key.keyId).toBe(key.keyId);
    ok(await kh(['aliases', 'delete', alias]));
    expect((await kh(['keys', 'describe', alias])).code).toBe(1);
  });
});

describe('keyhaven encrypt / decrypt', () => {
  let keyId: string;
  const plaintext = randomBytes(5 * 1024 * 1024 + 333);

  beforeAll(async () => {
    keyId = (await createKey()).keyId;
    writeFileSync(file('big.bin'), plaintext);
  });

  it('round-trips 5 MiB through stdin and stdout with a context', async () => {
    const encrypted = ok(
      await kh(['encrypt', '--key-id', keyId, '--context', 'app=billing'], { input: plaintext }),
    );
    const header = decodeEnvelopeHeader(encrypted.stdout)!;
    expect(header.header.segmentSize).toBe(64 * 1024);
    expect(encrypted.stdout.length).toBe(
      header.length + plaintext.length + Math.ceil(plaintext.length / (64 * 1024)) * TAG_LENGTH,
    );
    const decrypted = ok(await kh(['decrypt', '--context', 'app=billing'], { input: encrypted.stdout }));
    expect(decrypted.stdout.equals(plaintext)).toBe(true);
    expect(decrypted.stderr).toBe('');
  });

  it('round-trips 5 MiB through files, the plaintext file private to the user', async () => {
    ok(
      await kh([
        'encrypt',
        '--key-id',
        keyId,
        '--in',
        file('big.bin'),
        '--out',
        file('big.kh'),
        '--context',
        'a=1',
        '--context',
        'b=2',
      ]),
    );
    ok(
      await kh([
        'decrypt',
        '--in',
        file('big.kh'),
        '--out',
        file('big.out'),
        '--context',
        'b=2',
        '--context',
        'a=1',
      ]),
    );
    expect(readFileSync(file('big.out')).equals(plaintext)).toBe(true);
    expect(statSync(file('big.out')).mode & 0o777).toBe(0o600);
    expect(readdirSync(workDir).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('round-trips an empty input and an exact multiple of the segment size', async () => {
    for (const data of [Buffer.alloc(0), randomBytes(3 * 1024)]) {
      const encrypted = ok(
        await kh(['encrypt', '--key-id', keyId, '--segment-size', '1024'], { input: data }),
      );
      expect(ok(await kh(['decrypt'], { input: encrypted.stdout })).stdout.equals(data)).toBe(true);
    }
  });

  it('accepts --key-id on decrypt and refuses a file wrapped by another key', async () => {
    const other = (await createKey()).keyId;
    const encrypted = ok(await kh(['encrypt', '--key-id', keyId], { input: 'hello' }));
    expect(ok(await kh(['decrypt', '--key-id', keyId], { input: encrypted.stdout })).out).toBe('hello');
    const refused = await kh(['decrypt', '--key-id', other], { input: encrypted.stdout });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: IncorrectKey: /);
  });

  describe('tampering fails with exit 1 and leaves no output file', () => {
    let envelope: Buffer;
    let start: number;
    const sealed = 64 * 1024 + TAG_LENGTH;

    beforeAll(async () => {
      envelope = ok(
        await kh(['encrypt', '--key-id', keyId, '--context', 'x=y'], {
          input: plaintext.subarray(0, 300_000),
        }),
      ).stdout;
      start = decodeEnvelopeHeader(envelope)!.length;
    });

    const expectRefused = async (tampered: Buffer, message: RegExp, context = 'x=y') => {
      writeFileSync(file('tampered.kh'), tampered);
      const result = await kh([
        'decrypt',
        '--in',
        file('tampered.kh'),
        '--out',
        file('tampered.out'),
        '--context',
        context,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(file('tampered.out'))).toBe(false);
      expect(readdirSync(workDir).filter((name) => name.endsWith('.partial'))).toEqual([]);
    };
    const flip = (offset: number) => {
      const copy = Buffer.from(envelope);
      copy[offset]! ^= 0x10;
      return copy;
    };

    it('a wrong context', async () => {
      await expectRefused(envelope, /^error: InvalidCiphertext: /, 'x=z');
    });

    it('a flipped bit in the header, the wrapped key or a segment', async () => {
      await expectRefused(flip(12), /^error: InvalidCiphertext: segment 0 failed authentication/);
      await expectRefused(flip(start - 3), /^error: InvalidCiphertext: /);
      await expectRefused(
        flip(start + sealed + 5),
        /^error: InvalidCiphertext: segment 1 failed authentication/,
      );
    });

    it('a truncated or reordered file', async () => {
      const segments = Math.ceil(300_000 / (64 * 1024));
      await expectRefused(envelope.subarray(0, start + (segments - 1) * sealed), /failed authentication/);
      await expectRefused(envelope.subarray(0, envelope.length - 1), /failed authentication/);
      const swapped = Buffer.concat([
        envelope.subarray(0, start),
        envelope.subarray(start + sealed, start + 2 * sealed),
        envelope.subarray(start, start + sealed),
        envelope.subarray(start + 2 * sealed),
      ]);
      await expectRefused(swapped, /segment 0 failed authentication/);
    });

    it('on stdout, writes only the segments verified before the tampered one', async () => {
      const result = await kh(['decrypt', '--context', 'x=y'], { input: flip(start + 2 * sealed + 7) });
      expect(result.code).toBe(1);
      expect(result.stdout.equals(plaintext.subarray(0, 2 * 64 * 1024))).toBe(true);
    });
  });
});

describe('keyhaven sign / verify', () => {
  let keyId: string;
  let publicKeyPem: string;
  const message = Buffer.from('ship it');

  beforeAll(async () => {
    keyId = (await createKey('--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY')).keyId;
    publicKeyPem = ok(await kh(['keys', 'public-key', keyId])).out;
    writeFileSync(file('message.txt'), message);
  });

  it('signs stdin (base64 on stdout) and verifies with --signature-base64', async () => {
    const signature = ok(
      await kh(['sign', '--key-id', keyId, '--algorithm', 'ECDSA_SHA_256'], { input: message }),
    ).out.trim();
    expect(localVerify('sha256', message, publicKeyPem, Buffer.from(signature, 'base64'))).toBe(true);
    const valid = await kh(
      ['verify', '--key-id', keyId, '--algorithm', 'ECDSA_SHA_256', '--signature-base64', signature],
      {
        input: message,
      },
    );
    expect([valid.code, valid.out]).toEqual([0, 'valid\n']);
    const invalid = await kh(
      ['verify', '--key-id', keyId, '--algorithm', 'ECDSA_SHA_256', '--signature-base64', signature],
      { input: 'ship it not' },
    );
    expect([invalid.code, invalid.out]).toEqual([1, 'invalid\n']);
  });

  it('--hash signs a file of any size by its digest; the signature file may be raw or base64', async () => {
    writeFileSync(file('large.bin'), randomBytes(200_000));
    const args = ['--key-id', keyId, '--algorithm', 'ECDSA_SHA_256', '--in', file('large.bin'), '--hash'];
    ok(await kh(['sign', ...args, '--out', file('large.sig')]));
    expect(
      localVerify('sha256', readFileSync(file('large.bin')), publicKeyPem, readFileSync(file('large.sig'))),
    ).toBe(true);
    expect(ok(await kh(['verify', ...args, '--signature', file('large.sig')])).out).toBe('valid\n');
    writeFileSync(file('large.sig.b64'), ok(await kh(['sign', ...args])).out);
    expect(ok(await kh(['verify', ...args, '--signature', file('large.sig.b64')])).out).toBe('valid\n');
  });

  it('--digest signs a precomputed digest (message type DIGEST)', async () => {
    writeFileSync(file('message.sha256'), createHash('sha256').update(message).digest());
    const result = await json<{ signature: string; algorithm: string; keyVersion: number }>([
      'sign',
      '--key-id',
      keyId,
      '--algorithm',
      'ECDSA_SHA_256',
      '--digest',
      '--in',
      file('message.sha256'),
    ]);
    expect(result).toMatchObject({ algorithm: 'ECDSA_SHA_256', keyVersion: 1 });
    expect(localVerify('sha256', message, publicKeyPem, Buffer.from(result.signature, 'base64'))).toBe(true);
    const verdict = await json<{ valid: boolean }>([
      'verify',
      '--key-id',
      keyId,
      '--algorithm',
      'ECDSA_SHA_256',
      '--in',
      file('message.txt'),
      '--signature-base64',
      result.signature,
    ]);
    expect(verdict.valid).toBe(true);
  });
});

describe('keyhaven datakey / random / status', () => {
  it('datakey prints the wrapped and plain key, as text or JSON', async () => {
    const keyId = (await createKey()).keyId;
    const text = ok(await kh(['datakey', '--key-id', keyId, '--context', 'k=v'])).out;
    expect(text).toMatch(/^ciphertext: +\S+$/m);
    const plain = /^plaintext: +(\S+)$/m.exec(text)?.[1];
    expect(Buffer.from(plain!, 'base64')).toHaveLength(32);

    const dataKey = await json<{ keyId: string; ciphertext: string; plaintext: string }>([
      'datakey',
      '--key-id',
      keyId,
      '--key-spec',
      'AES_128',
    ]);
    expect(dataKey.keyId).toBe(keyId);
    expect(Buffer.from(dataKey.plaintext, 'base64')).toHaveLength(16);
    const blind = await json<Record<string, unknown>>(['datakey', '--key-id', keyId, '--without-plaintext']);
    expect(blind.plaintext).toBeUndefined();
    expect(typeof blind.ciphertext).toBe('string');
  });

  it('datakey-pair prints a public key and the wrapped private key', async () => {
    const keyId = (await createKey()).keyId;
    const pair = await json<{ publicKey: string; privateKeyCiphertext: string; privateKeyPlaintext: string }>(
      ['datakey-pair', '--key-id', keyId, '--key-pair-spec', 'ECC_NIST_P256'],
    );
    expect(
      createPublicKey({ key: Buffer.from(pair.publicKey, 'base64'), format: 'der', type: 'spki' })
        .asymmetricKeyType,
    ).toBe('ec');
    expect(pair.privateKeyCiphertext.length).toBeGreaterThan(0);
  });

  it('random prints base64, hex, raw, and splits requests over 1024 bytes', async () => {
    expect(Buffer.from(ok(await kh(['random', '--bytes', '32'])).out.trim(), 'base64')).toHaveLength(32);
    expect(ok(await kh(['random', '--bytes', '16', '--encoding', 'hex'])).out).toMatch(/^[0-9a-f]{32}\n$/);
    expect(ok(await kh(['random', '--bytes', '3000', '--encoding', 'raw'])).stdout).toHaveLength(3000);
    const { random } = await json<{ random: string }>(['random', '--bytes', '8']);
    expect(Buffer.from(random, 'base64')).toHaveLength(8);
  });

  it('status reports a healthy, ready server', async () => {
    const result = ok(await kh(['status']));
    expect(result.out).toMatch(/^health: +ok$/m);
    expect(result.out).toMatch(/^ready: +yes$/m);
  });
});
