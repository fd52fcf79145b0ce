// @keyhaven/secrets and `keyhaven secrets` against a real Keyhaven server process over loopback
// HTTP: round trips of .env, JSON and YAML files through the CLI and the library, tampered, moved
// and disabled values failing by name, rotation, and the runtime store's options.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSecretStore,
  decryptText,
  encryptText,
  keyhavenKms,
  parseSecretDocument,
  parseToken,
  SEALED_MATERIAL,
  SecretsError,
  type SecretFormat,
  type SecretKms,
  type SecretStore,
} from '../../packages/secrets/src/index.js';
import { runCli } from '../cli/run-cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from '../integration/http.js';
import { createKey } from '../integration/suite-server.js';
import { DOTENV, DOTENV_VALUES, JSON_TEXT, JSON_VALUES, YAML_TEXT, YAML_VALUES } from './fixtures.js';

let server: TestServer;
let api: Api;
let dir: string;
let keyId: string;
let otherKeyId: string;
let env: Record<string, string>;
/**
 * The library's client for this file's tests. Each client makes an RSA-3072 recipient key pair at
 * its first decrypt (most of a second of CPU), so the tests share one; the client holds no other
 * state. The `keyhaven` option of createSecretStore, which makes a client of its own, is used by
 * the tests of each format below.
 */
let kms: SecretKms;

const valuesOf = (text: string, format: SecretFormat) =>
  Object.fromEntries(parseSecretDocument(text, format).entries.map((entry) => [entry.name, entry.value]));

const cli = (...args: string[]) => runCli(['secrets', ...args], { env });

function writeFixture(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The error a promise rejects with. */
async function rejection(work: Promise<unknown>): Promise<SecretsError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'it succeeded').toBeInstanceOf(SecretsError);
  return error as SecretsError;
}

beforeAll(async () => {
  server = await startServer();
  api = new Api(server.url, server.token);
  keyId = (await createKey(api, { alias: 'alias/app-secrets' })).keyId;
  otherKeyId = (await createKey(api)).keyId;
  env = { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token };
  kms = keyhavenKms({ endpoint: server.url, token: server.token });
  dir = mkdtempSync(join(tmpdir(), 'keyhaven-secrets-'));
});
afterAll(async () => {
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The folded YAML value is written back on one line: the same value, not the same bytes.
const YAML_DECRYPTED = YAML_TEXT.replace(
  'folded text that is\n  written on two lines',
  'folded text that is written on two lines',
);

const files: [string, SecretFormat, string, Record<string, string>, string][] = [
  ['.env', 'dotenv', DOTENV, DOTENV_VALUES, DOTENV],
  ['config.json', 'json', JSON_TEXT, JSON_VALUES, JSON_TEXT],
  ['config.yaml', 'yaml', YAML_TEXT, YAML_VALUES, YAML_DECRYPTED],
];

describe.each(files)('%s through the CLI and the library', (name, format, text, values, decrypted) => {
  let path: string;

  it('encrypts every value in place, keeping comments and layout, and decrypts back', async () => {
    path = writeFixture(`all-${name}`, text);
    const encrypted = await cli('encrypt', path, '--key-id', 'alias/app-secrets');
    expect(encrypted.code, encrypted.stderr).toBe(0);
    const cipherText = readFileSync(path, 'utf8');
    const encryptedValues = valuesOf(cipherText, format);
    for (const [entry, value] of Object.entries(values)) {
      if (value === '') expect(encryptedValues[entry]).toBe('');
      else expect(encryptedValues[entry]).toMatch(/^ENC\[kh1:[A-Za-z0-9+/=]+\]$/);
      if (value.length > 3) expect(cipherText).not.toContain(value);
    }
    for (const comment of [
      '# Database settings',
      '# trailing comment',
      '// settings for',
      '/* block comment */',
      '# the login',
    ]) {
      if (text.includes(comment)) expect(cipherText).toContain(comment);
    }

    const again = await cli('encrypt', path, '--key-id', 'alias/app-secrets');
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(path, 'utf8'), 'values already encrypted are left alone').toBe(cipherText);

    const plain = await cli('decrypt', path);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.out).toBe(decrypted);
  });

  it('round-trips through the library: encryptText, then decryptText', async () => {
    const encrypted = await encryptText(text, format, { kms, keyId, concurrency: 2 });
    expect(encrypted.changed).toEqual(Object.keys(values).filter((entry) => values[entry] !== ''));
    const back = await decryptText(encrypted.text, format, { kms });
    expect(back.changed).toEqual(encrypted.changed);
    expect(back.text).toBe(decrypted);
  });

  it('serves the encrypted file through the runtime store, never through process.env', async () => {
    const before = { ...process.env };
    const store = await createSecretStore(path, { keyhaven: { endpoint: server.url, token: server.token } });
    try {
      expect(store.names().sort()).toEqual(Object.keys(values).sort());
      for (const [entry, value] of Object.entries(values)) expect(store.get(entry)).toBe(value);
      expect(process.env).toEqual(before);
      for (const value of Object.values(values).filter((v) => v.length > 3)) {
        expect(Object.values(process.env)).not.toContain(value);
      }
    } finally {
      store.destroy();
    }
  });
});

describe('selection', () => {
  it('encrypts only the names matching --only, less --except', async () => {
    const path = writeFixture('only.env', DOTENV);
    const result = await cli(
      'encrypt',
      path,
      '--key-id',
      keyId,
      '--only',
      '*PASSWORD*',
      '--only',
      '*_KEY',
      '--except',
      'PRIVATE_*',
    );
    expect(result.code, result.stderr).toBe(0);
    const after = valuesOf(readFileSync(path, 'utf8'), 'dotenv');
    expect(
      Object.entries(after)
        .filter(([, v]) => v.startsWith('ENC['))
        .map(([k]) => k),
    ).toEqual(['DB_PASSWORD']);
    expect(after.API_TOKEN).toBe(DOTENV_VALUES.API_TOKEN);
  });

  it('takes JSON paths for JSON files', async () => {
    const path = writeFixture('paths.json', JSON_TEXT);
    const result = await cli(
      'encrypt',
      path,
      '--key-id',
      keyId,
      '--only',
      '$.db.password',
      '--only',
      '**.token',
    );
    expect(result.code, result.stderr).toBe(0);
    const after = valuesOf(readFileSync(path, 'utf8'), 'json');
    expect(
      Object.entries(after)
        .filter(([, v]) => v.startsWith('ENC['))
        .map(([k]) => k),
    ).toEqual(['db.password', 'servers[0].token', 'servers[1].token']);
  });
});

describe('a value that is not what was encrypted fails by name, never with garbage', () => {
  let encrypted: string;
  const storeOf = (text: string) => createSecretStore({ text, format: 'dotenv' }, { decryptor: kms });

  beforeAll(async () => {
    encrypted = (await encryptText(DOTENV, 'dotenv', { kms, keyId })).text;
  });

  const replaceValue = (text: string, name: string, value: string) =>
    parseSecretDocument(text, 'dotenv').render(new Map([[name, value]]));

  it('a tampered ENC[...] value', async () => {
    const token = valuesOf(encrypted, 'dotenv').API_TOKEN!;
    const ciphertext = parseToken(token).ciphertext;
    ciphertext[ciphertext.length - 5]! ^= 0x01;
    const tampered = replaceValue(encrypted, 'API_TOKEN', `ENC[kh1:${ciphertext.toString('base64')}]`);

    const error = await rejection(storeOf(tampered));
    expect(error.code).toBe('InvalidCiphertext');
    expect(error.variable).toBe('API_TOKEN');
    expect(error.message).toContain('API_TOKEN');

    const path = writeFixture('tampered.env', tampered);
    const result = await cli('decrypt', path);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: InvalidCiphertext: cannot decrypt API_TOKEN:/);
    expect(result.out).toBe('');
  });

  it('a tampered value in JSON and YAML files, named by its path', async () => {
    for (const [format, text, name] of [
      ['json', JSON_TEXT, 'servers[1].token'],
      ['yaml', YAML_TEXT, 'certificate'],
    ] as const) {
      const sealed = (await encryptText(text, format, { kms, keyId })).text;
      const ciphertext = parseToken(valuesOf(sealed, format)[name]!).ciphertext;
      ciphertext[ciphertext.length - 1]! ^= 0x80;
      const tampered = parseSecretDocument(sealed, format).render(
        new Map([[name, `ENC[kh1:${ciphertext.toString('base64')}]`]]),
      );
      const error = await rejection(createSecretStore({ text: tampered, format }, { decryptor: kms }));
      expect(error).toMatchObject({ code: 'InvalidCiphertext', variable: name });
      const result = await cli('decrypt', writeFixture(`tampered.${format}`, tampered));
      expect(result.stderr).toContain(`cannot decrypt ${name}:`);
      expect(result.out).toBe('');
    }
  });

  it('a value moved to another variable name', async () => {
    const moved = replaceValue(encrypted, 'DB_PASSWORD', valuesOf(encrypted, 'dotenv').API_TOKEN!);
    const error = await rejection(storeOf(moved));
    expect(error).toMatchObject({ code: 'InvalidCiphertext', variable: 'DB_PASSWORD' });

    const result = await cli('decrypt', writeFixture('moved.env', moved));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot decrypt DB_PASSWORD');
    expect(result.out).toBe('');
  });

  it('a value encrypted without context where the name must be bound, and a malformed token', async () => {
    const unbound = (await encryptText('X=1\n', 'dotenv', { kms, keyId, context: 'none' })).text;
    const withUnbound = replaceValue(encrypted, 'DB_PASSWORD', valuesOf(unbound, 'dotenv').X!);
    const refused = await rejection(storeOf(withUnbound));
    expect(refused).toMatchObject({ code: 'InvalidToken', variable: 'DB_PASSWORD' });
    expect(refused.message).toContain('encrypted without encryption context');
    expect(await rejection(storeOf(replaceValue(encrypted, 'PLAIN', 'ENC[kh1:not*base64]')))).toMatchObject({
      code: 'InvalidToken',
      variable: 'PLAIN',
    });
  });

  it('a disabled key', async () => {
    const disabledKey = (await createKey(api)).keyId;
    const text = (await encryptText(DOTENV, 'dotenv', { kms, keyId: disabledKey })).text;
    expect((await api.post(`/v1/keys/${disabledKey}/disable`)).status).toBe(200);

    const error = await rejection(storeOf(text));
    expect(error).toMatchObject({ code: 'KeyDisabled', variable: 'DB_HOST' });

    const result = await cli('decrypt', writeFixture('disabled.env', text));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: KeyDisabled: cannot decrypt DB_HOST: KeyDisabled/);
    expect(result.out).toBe('');
  });
});

describe('rotate', () => {
  const versionOf = async (token: string, name: string) => {
    const answer = await api.post<{ keyId: string; keyVersion: number }>('/v1/decrypt', {
      ciphertext: parseToken(token).ciphertext.toString('base64'),
      context: { 'keyhaven:secret': name },
    });
    expect(answer.status, answer.text).toBe(200);
    return answer.body;
  };

  it("re-encrypts under the key's current version, then under another key", async () => {
    const key = (await createKey(api)).keyId;
    const path = writeFixture('rotate.yaml', YAML_TEXT);
    expect((await cli('encrypt', path, '--key-id', key)).code).toBe(0);
    const first = valuesOf(readFileSync(path, 'utf8'), 'yaml');
    expect(await versionOf(first['db.password']!, 'db.password')).toMatchObject({
      keyId: key,
      keyVersion: 1,
    });

    expect((await api.post(`/v1/keys/${key}/rotate`)).status).toBe(200);
    const rotated = await cli('rotate', path, '--key-id', key);
    expect(rotated.code, rotated.stderr).toBe(0);
    const second = valuesOf(readFileSync(path, 'utf8'), 'yaml');
    expect(second['db.password']).not.toBe(first['db.password']);
    expect(await versionOf(second['db.password']!, 'db.password')).toMatchObject({
      keyId: key,
      keyVersion: 2,
    });

    const moved = await cli('rotate', path, '--key-id', otherKeyId);
    expect(moved.code, moved.stderr).toBe(0);
    const third = valuesOf(readFileSync(path, 'utf8'), 'yaml');
    expect(await versionOf(third['tokens[1]']!, 'tokens[1]')).toMatchObject({ keyId: otherKeyId });
    expect((await cli('decrypt', path)).out).toBe(YAML_DECRYPTED);
  });
});

describe('check', () => {
  it('lists plaintext values that look like secrets and exits 1; an encrypted file passes', async () => {
    const path = writeFixture('check.env', DOTENV);
    const found = await cli('check', path);
    expect(found.code).toBe(1);
    expect(found.out).toContain('DB_PASSWORD: its name suggests a secret');
    expect(found.out).toContain('API_TOKEN:');
    expect(found.out).toContain('PRIVATE_KEY: looks like a PEM private key');
    expect(found.out).not.toContain('DB_HOST');
    expect(found.stderr).toContain('error: PlaintextSecrets:');

    expect(
      (
        await cli(
          'encrypt',
          path,
          '--key-id',
          keyId,
          '--only',
          '*PASSWORD*',
          '--only',
          '*TOKEN*',
          '--only',
          '*KEY*',
        )
      ).code,
    ).toBe(0);
    const clean = await cli('check', path);
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toBe('');
  });
});

describe('the runtime store', () => {
  let path: string;
  const options = () => ({ decryptor: kms });

  beforeAll(async () => {
    path = writeFixture('store.env', DOTENV);
    expect((await cli('encrypt', path, '--key-id', keyId)).code).toBe(0);
  });

  it('refuses to start without a required name, naming it', async () => {
    const error = await rejection(
      createSecretStore(path, { ...options(), required: ['DB_PASSWORD', 'STRIPE_KEY'] }),
    );
    expect(error).toMatchObject({ code: 'MissingSecret', variable: 'STRIPE_KEY' });
    expect(error.message).toContain('STRIPE_KEY');
    const store = await createSecretStore(path, { ...options(), required: ['DB_PASSWORD', 'API_TOKEN'] });
    expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
    store.destroy();
  });

  it('refreshes from the KMS every ttl, with the source read again', async () => {
    const refreshPath = writeFixture('refresh.env', 'SECRET_A=first value\n');
    expect((await cli('encrypt', refreshPath, '--key-id', keyId)).code).toBe(0);
    let refreshed!: () => void;
    const onRefreshed = new Promise<void>((resolve) => (refreshed = resolve));
    const store = await createSecretStore(refreshPath, {
      ...options(),
      ttlMs: 100,
      onRefresh: () => {
        if (store.has('SECRET_A') && store.get('SECRET_A') === 'second value') refreshed();
      },
    });
    try {
      expect(store.get('SECRET_A')).toBe('first value');
      writeFileSync(refreshPath, 'SECRET_A=second value\n');
      expect((await cli('encrypt', refreshPath, '--key-id', keyId)).code).toBe(0);
      await onRefreshed;
      expect(store.get('SECRET_A')).toBe('second value');
    } finally {
      store.destroy();
    }
  });

  it('stops answering once no refresh has succeeded for ttl + maxStale, and answers again after one', async () => {
    let clock = 1_000_000;
    const store = await createSecretStore(path, {
      ...options(),
      ttlMs: 3_600_000,
      maxStaleMs: 60_000,
      now: () => clock,
    });
    try {
      clock += 3_660_000;
      expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
      clock += 1;
      expect(() => store.get('DB_PASSWORD')).toThrow(
        expect.objectContaining({ code: 'Expired', variable: 'DB_PASSWORD' }),
      );
      await store.refresh();
      expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
    } finally {
      store.destroy();
    }
  });

  it('keeps the old values when a refresh fails, and says why', async () => {
    const failingPath = writeFixture('failing.env', readFileSync(path, 'utf8'));
    const store = await createSecretStore(failingPath, options());
    writeFileSync(failingPath, 'DB_PASSWORD=ENC[kh1:AAAA]\n');
    const error = await rejection(store.refresh());
    expect(error).toMatchObject({ variable: 'DB_PASSWORD' });
    expect(store.get('DB_PASSWORD')).toBe(DOTENV_VALUES.DB_PASSWORD);
    store.destroy();
  });

  it('decrypts at most `concurrency` values at once, through any SecretDecryptor', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `SECRET_${i}`);
    const manyPath = writeFixture('many.env', names.map((name, i) => `${name}=value ${i}\n`).join(''));
    expect((await cli('encrypt', manyPath, '--key-id', keyId)).code).toBe(0);
    let inFlight = 0;
    let most = 0;
    const seen: string[] = [];
    const store = await createSecretStore(manyPath, {
      concurrency: 3,
      decryptor: {
        async decrypt(request) {
          seen.push(request.name);
          most = Math.max(most, ++inFlight);
          try {
            return await kms.decrypt(request);
          } finally {
            inFlight--;
          }
        },
      },
    });
    expect(most).toBe(3);
    expect(seen.sort()).toEqual([...names].sort());
    expect(names.map((name) => store.get(name))).toEqual(names.map((_, i) => `value ${i}`));
    store.destroy();
  });

  it('zeroizes its key and every sealed value on destroy()', async () => {
    const store = (await createSecretStore(path, options())) as SecretStore & {
      [SEALED_MATERIAL](): { key: Buffer; sealed: Buffer[] };
    };
    const { key, sealed } = store[SEALED_MATERIAL]();
    expect(sealed.length).toBe(Object.keys(DOTENV_VALUES).length);
    const allZero = (buffer: Buffer) => buffer.every((byte) => byte === 0);
    expect(allZero(key)).toBe(false);
    expect(sealed.every(allZero)).toBe(false);
    // A sealed value is not its plaintext.
    for (const box of sealed) expect(box.includes(Buffer.from(DOTENV_VALUES.DB_PASSWORD!))).toBe(false);

    store.destroy();
    expect(allZero(key)).toBe(true);
    expect(sealed.every(allZero)).toBe(true);
    expect(() => store.get('DB_PASSWORD')).toThrow(expect.objectContaining({ code: 'StoreClosed' }));
    expect(store.names()).toEqual([]);
  });
});
