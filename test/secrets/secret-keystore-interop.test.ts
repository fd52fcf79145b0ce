// Interop with @faizahmed/secret-keystore (from npm, unchanged) through Keyhaven's AWS dialect on a
// real server process: a file this CLI encrypts with --aws --context none is read by that package's
// keystore pointed at the same endpoint, and files that package writes are read by this keystore
// and CLI. That package binds no encryption context, hence the no-context mode on both sides.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envWithoutKeyhaven } from '../../bench/processes.js';
import {
  createSecretStore,
  parseSecretDocument,
  type SecretFormat,
} from '../../packages/secrets/src/index.js';
import { runCli } from '../cli/run-cli.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { REGION, accessKeyOf, type AccessKey } from '../integration/aws-fixtures.js';
import { Api } from '../integration/http.js';
import { createActor, createTenant } from '../integration/identity-fixtures.js';
import { createKey } from '../integration/suite-server.js';

const DOTENV = `# written by one tool, read by the other
DB_PASSWORD=pässwörd-密码-🔑
API_TOKEN="token with spaces"
PORT=5432
`;
const DOTENV_VALUES = { DB_PASSWORD: 'pässwörd-密码-🔑', API_TOKEN: 'token with spaces', PORT: '5432' };

const JSON_TEXT = `{
  "db": { "password": "jsön-🔑-secret", "host": "db.internal" },
  "apiToken": "tok-123"
}
`;
const JSON_VALUES = { 'db.password': 'jsön-🔑-secret', 'db.host': 'db.internal', apiToken: 'tok-123' };

// Runs in a child process so that the AWS SDK inside the package reads its endpoint and credentials
// from the environment (the package takes no endpoint option), not from the test runner's.
const CHILD = `
const [, , modulePath, action, file, keyId, names] = process.argv;
const keystore = require(modulePath);
const fs = require('node:fs');
const aws = { aws: { region: process.env.AWS_REGION } };
(async () => {
  const content = fs.readFileSync(file, 'utf8');
  let out;
  if (action === 'read-env') {
    const store = await keystore.createSecretKeyStore({ type: 'env', content }, keyId, aws);
    out = { values: Object.fromEntries(JSON.parse(names).map((name) => [name, store.get(name)])) };
    store.destroy?.();
  } else if (action === 'decrypt-json') {
    const result = await keystore.decryptKMSJsonContent(content, keyId, aws);
    out = { content: result.content, failed: result.failed.map((f) => f.key) };
  } else {
    const encrypt = action === 'encrypt-env' ? keystore.encryptKMSEnvContent : keystore.encryptKMSJsonContent;
    const result = await encrypt(content, keyId, aws);
    fs.writeFileSync(file, result.content);
    out = { encrypted: result.encrypted, failed: result.failed.map((f) => f.key) };
  }
  process.stdout.write('\\n@@result ' + JSON.stringify(out));
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
`;

let server: TestServer;
let dir: string;
let keyId: string;
let rsaKeyId: string;
let credentials: AccessKey;
let awsEnv: Record<string, string>;
const keystoreModule = createRequire(import.meta.url).resolve('@faizahmed/secret-keystore');

beforeAll(async () => {
  server = await startServer();
  const system = new Api(server.url, server.token);
  const tenantId = (await createTenant(system)).tenantId;
  const admin = await createActor(system, tenantId, ['admin']);
  credentials = await accessKeyOf(system, admin.principal.principalId);
  keyId = (await createKey(admin.api)).keyId;
  rsaKeyId = (await createKey(admin.api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' })).keyId;
  awsEnv = {
    AWS_ENDPOINT_URL_KMS: server.url,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
  dir = mkdtempSync(join(tmpdir(), 'keyhaven-interop-'));
  writeFileSync(join(dir, 'child.cjs'), CHILD);
});
afterAll(async () => {
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function secretKeystore(
  action: string,
  file: string,
  key: string,
  names: string[] = [],
): Promise<Record<string, unknown>> {
  const child = spawn(
    process.execPath,
    [join(dir, 'child.cjs'), keystoreModule, action, file, key, JSON.stringify(names)],
    {
      env: { ...envWithoutKeyhaven(), ...awsEnv, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, err).toBe(0);
  // The package logs to stdout; the result is the last line.
  return JSON.parse(out.slice(out.lastIndexOf('@@result ') + 9)) as Record<string, unknown>;
}

const valuesOf = (text: string, format: SecretFormat) =>
  Object.fromEntries(parseSecretDocument(text, format).entries.map((entry) => [entry.name, entry.value]));

const cli = (...args: string[]) => runCli(['secrets', ...args], { env: { ...awsEnv, HOME: dir } });

const ourStore = (file: string, rsaKey?: string) =>
  createSecretStore(file, {
    aws: { endpoint: server.url, region: REGION, credentials, keyId: rsaKey },
    accept: 'none',
  });

// secret-keystore 1.1.1 reads every blob that starts with 0x01 as its RSA envelope, and AWS-style
// symmetric ciphertext starts with 0x01 too, so it reads back only values under RSA keys (its own
// symmetric-key files included); this CLI writes its envelope for RSA keys (rsa-envelope.ts).
describe('@faizahmed/secret-keystore through the AWS dialect', () => {
  it('reads a .env file this CLI encrypted with --aws --context none under an RSA key', async () => {
    const file = join(dir, 'ours.env');
    writeFileSync(file, DOTENV);
    const encrypted = await cli('encrypt', file, '--aws', '--context', 'none', '--key-id', rsaKeyId);
    expect(encrypted.code, encrypted.stderr).toBe(0);
    const tokens = valuesOf(readFileSync(file, 'utf8'), 'dotenv');
    for (const token of Object.values(tokens)) expect(token).toMatch(/^ENC\[[A-Za-z0-9+/=]+\]$/);
    expect(readFileSync(file, 'utf8')).toContain('# written by one tool');

    const read = await secretKeystore('read-env', file, rsaKeyId, Object.keys(DOTENV_VALUES));
    expect(read.values).toEqual(DOTENV_VALUES);
    // And this CLI reads its own envelope back, given the key.
    const back = await cli('decrypt', file, '--aws', '--accept', 'none', '--key-id', rsaKeyId);
    expect(back.code, back.stderr).toBe(0);
    expect(back.out).toBe(DOTENV);
  });

  it('reads a JSON file this CLI encrypted with --aws --context none under an RSA key', async () => {
    const file = join(dir, 'ours.json');
    writeFileSync(file, JSON_TEXT);
    const encrypted = await cli(
      'encrypt',
      file,
      '--aws',
      '--context',
      'none',
      '--key-id',
      rsaKeyId,
      '--only',
      '$.db.password',
    );
    expect(encrypted.code, encrypted.stderr).toBe(0);
    expect(valuesOf(readFileSync(file, 'utf8'), 'json')['db.password']).toMatch(/^ENC\[/);
    const read = await secretKeystore('decrypt-json', file, rsaKeyId);
    expect(read.failed).toEqual([]);
    expect(JSON.parse(read.content as string)).toEqual(JSON.parse(JSON_TEXT));
  });

  it.each([
    ['a symmetric key', () => keyId, () => undefined],
    ['an RSA key', () => rsaKeyId, () => rsaKeyId],
  ])('writes .env and JSON files under %s that this keystore and CLI read', async (_, key, storeKey) => {
    const envFile = join(dir, `theirs-${key()}.env`);
    writeFileSync(envFile, DOTENV);
    const written = await secretKeystore('encrypt-env', envFile, key());
    expect(written.failed).toEqual([]);
    const tokens = valuesOf(readFileSync(envFile, 'utf8'), 'dotenv');
    for (const token of Object.values(tokens)) expect(token).toMatch(/^ENC\[[A-Za-z0-9+/=]+\]$/);

    const store = await ourStore(envFile, storeKey());
    for (const [name, value] of Object.entries(DOTENV_VALUES)) expect(store.get(name)).toBe(value);
    store.destroy();

    const decrypted = await cli(
      'decrypt',
      envFile,
      '--aws',
      '--accept',
      'none',
      ...(storeKey() ? ['--key-id', key()] : []),
    );
    expect(decrypted.code, decrypted.stderr).toBe(0);
    expect(valuesOf(decrypted.out, 'dotenv')).toEqual(DOTENV_VALUES);

    const jsonFile = join(dir, `theirs-${key()}.json`);
    writeFileSync(jsonFile, JSON_TEXT);
    expect((await secretKeystore('encrypt-json', jsonFile, key())).failed).toEqual([]);
    expect(readFileSync(jsonFile, 'utf8')).not.toContain('jsön');
    const jsonStore = await ourStore(jsonFile, storeKey());
    for (const [name, value] of Object.entries(JSON_VALUES)) expect(jsonStore.get(name)).toBe(value);
    jsonStore.destroy();
  });

  it('binds names as encryption context through the AWS dialect too (the default mode)', async () => {
    const file = join(dir, 'bound.env');
    writeFileSync(file, DOTENV);
    const encrypted = await cli('encrypt', file, '--aws', '--key-id', keyId);
    expect(encrypted.code, encrypted.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    for (const token of Object.values(valuesOf(text, 'dotenv'))) expect(token).toMatch(/^ENC\[kh1:/);

    const store = await createSecretStore(file, {
      aws: { endpoint: server.url, region: REGION, credentials },
    });
    for (const [name, value] of Object.entries(DOTENV_VALUES)) expect(store.get(name)).toBe(value);
    store.destroy();

    const moved = parseSecretDocument(text, 'dotenv').render(
      new Map([['API_TOKEN', valuesOf(text, 'dotenv').DB_PASSWORD!]]),
    );
    writeFileSync(file, moved);
    const error = await createSecretStore(file, {
      aws: { endpoint: server.url, region: REGION, credentials },
    }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; variable?: string },
    );
    expect(error).toMatchObject({ code: 'InvalidCiphertext', variable: 'API_TOKEN' });
  });

  it('refuses values without context unless asked to accept them', async () => {
    const file = join(dir, 'strict.env');
    writeFileSync(file, DOTENV);
    expect((await secretKeystore('encrypt-env', file, keyId)).failed).toEqual([]);
    const refused = await cli('decrypt', file, '--aws');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: InvalidToken: cannot decrypt DB_PASSWORD:/);
    expect(refused.out).toBe('');
  });
});
