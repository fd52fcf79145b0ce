// Keyhaven's AWS dialect through clients nobody on the team wrote, as Debian ships them: the AWS CLI
// (/usr/bin/aws, v2) and boto3 (/usr/bin/python3 with python3-boto3), installed by .ci/run. Each
// runs unchanged but for its endpoint, signed with a principal's access key pair: create, alias,
// encrypt, decrypt, generate-data-key, sign, verify and list-keys with pagination.
import { execFile } from 'node:child_process';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, type AccessKey } from './aws-fixtures.js';
import { Api } from './http.js';
import { createActor, createTenant } from './identity-fixtures.js';

const run = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';
const PYTHON = '/usr/bin/python3';
const BOTO3_SCRIPT = join(import.meta.dirname, 'clients', 'boto3-kms.py');

describe('Debian AWS CLI and boto3 against the AWS dialect', () => {
  let server: TestServer;
  let admin: Api;
  let credentials: AccessKey;
  let home: string;
  /** The environment of a client that knows nothing but these credentials. */
  let clientEnv: Record<string, string>;

  beforeAll(async () => {
    server = await startServer();
    const system = new Api(server.url, server.token);
    const tenantId = (await createTenant(system)).tenantId;
    const actor = await createActor(system, tenantId, ['admin']);
    admin = actor.api;
    credentials = await accessKeyOf(system, actor.principal.principalId);
    home = mkdtempSync(join(tmpdir(), 'keyhaven-aws-cli-'));
    writeFileSync(join(home, 'config'), '');
    clientEnv = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_MAX_ATTEMPTS: '1',
    };
  });
  afterAll(async () => server?.dispose());

  /** `aws kms <args> --endpoint-url <server> --output json`, parsed. */
  async function aws<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const { stdout } = await run(
      AWS_CLI,
      ['kms', ...args, '--endpoint-url', server.url, '--output', 'json'],
      {
        env: clientEnv,
      },
    );
    return (stdout.trim() === '' ? {} : JSON.parse(stdout)) as T;
  }

  /** The CLI's failure: its exit status and the error it printed. */
  async function awsFailure(...args: string[]): Promise<{ code: number; stderr: string }> {
    return aws(...args).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
  }

  const file = (name: string, content: Buffer | string) => {
    const path = join(home, name);
    writeFileSync(path, content);
    return `fileb://${path}`;
  };

  it('aws kms: create-key, create-alias, encrypt, decrypt and generate-data-key', async () => {
    const { KeyMetadata: key } = await aws<{ KeyMetadata: { KeyId: string; Arn: string } }>(
      'create-key',
      '--description',
      'from the AWS CLI',
    );
    await aws('create-alias', '--alias-name', 'alias/cli-app', '--target-key-id', key.KeyId);
    const encrypted = await aws<{ CiphertextBlob: string; KeyId: string }>(
      'encrypt',
      '--key-id',
      'alias/cli-app',
      '--plaintext',
      file('plain.txt', 'hello from the AWS CLI'),
      '--encryption-context',
      'purpose=cli',
    );
    expect(encrypted.KeyId).toBe(key.Arn);
    const ciphertext = file('cipher.bin', Buffer.from(encrypted.CiphertextBlob, 'base64'));
    const decrypted = await aws<{ Plaintext: string }>(
      'decrypt',
      '--ciphertext-blob',
      ciphertext,
      '--encryption-context',
      'purpose=cli',
    );
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe('hello from the AWS CLI');
    const wrongContext = await awsFailure('decrypt', '--ciphertext-blob', ciphertext);
    expect(wrongContext.code).not.toBe(0);
    expect(wrongContext.stderr).toContain('InvalidCiphertextException');
    const dataKey = await aws<{ Plaintext: string; CiphertextBlob: string }>(
      'generate-data-key',
      '--key-id',
      'alias/cli-app',
      '--key-spec',
      'AES_256',
    );
    expect(Buffer.from(dataKey.Plaintext, 'base64')).toHaveLength(32);
    const opened = await aws<{ Plaintext: string }>(
      'decrypt',
      '--ciphertext-blob',
      file('data-key.bin', Buffer.from(dataKey.CiphertextBlob, 'base64')),
    );
    expect(opened.Plaintext).toBe(dataKey.Plaintext);
  });

  it('aws kms: sign and verify, the signature checked outside Keyhaven too', async () => {
    const { KeyMetadata: key } = await aws<{ KeyMetadata: { KeyId: string } }>(
      'create-key',
      '--key-spec',
      'ECC_NIST_P256',
      '--key-usage',
      'SIGN_VERIFY',
    );
    const message = file('message.txt', 'signed by the AWS CLI');
    const signed = await aws<{ Signature: string; SigningAlgorithm: string }>(
      'sign',
      '--key-id',
      key.KeyId,
      '--message',
      message,
      '--message-type',
      'RAW',
      '--signing-algorithm',
      'ECDSA_SHA_256',
    );
    expect(signed.SigningAlgorithm).toBe('ECDSA_SHA_256');
    const signature = file('signature.bin', Buffer.from(signed.Signature, 'base64'));
    const verified = await aws<{ SignatureValid: boolean }>(
      'verify',
      '--key-id',
      key.KeyId,
      '--message',
      message,
      '--signature',
      signature,
      '--signing-algorithm',
      'ECDSA_SHA_256',
    );
    expect(verified.SignatureValid).toBe(true);
    const forged = await awsFailure(
      'verify',
      '--key-id',
      key.KeyId,
      '--message',
      file('other.txt', 'another message'),
      '--signature',
      signature,
      '--signing-algorithm',
      'ECDSA_SHA_256',
    );
    expect(forged.stderr).toContain('KMSInvalidSignatureException');
    const publicKey = await admin.get<{ publicKey: string }>(`/v1/keys/${key.KeyId}/public-key`);
    expect(
      verifySignature(
        'sha256',
        readFileSync(join(home, 'message.txt')),
        createPublicKey(publicKey.body.publicKey),
        Buffer.from(signed.Signature, 'base64'),
      ),
    ).toBe(true);
  });

  it('aws kms list-keys: pages of --page-size, and --max-items with --starting-token', async () => {
    for (let i = 0; i < 3; i++) await aws('create-key');
    const listed = await admin.get<{ keys: { keyId: string }[] }>('/v1/keys?limit=1000');
    const all = listed.body.keys.map((k) => k.keyId).sort();
    expect(all.length).toBeGreaterThanOrEqual(5);
    const paged = await aws<{ Keys: { KeyId: string }[] }>('list-keys', '--page-size', '2');
    expect(paged.Keys.map((k) => k.KeyId).sort()).toEqual(all);
    const first = await aws<{ Keys: { KeyId: string }[]; NextToken: string }>(
      'list-keys',
      '--max-items',
      '3',
      '--page-size',
      '2',
    );
    expect(first.Keys).toHaveLength(3);
    const rest = await aws<{ Keys: { KeyId: string }[] }>(
      'list-keys',
      '--starting-token',
      first.NextToken,
      '--page-size',
      '2',
    );
    expect([...first.Keys, ...rest.Keys].map((k) => k.KeyId).sort()).toEqual(all);
  });

  it('boto3: the same, with its paginator and its modelled exceptions', async () => {
    const { stdout } = await run(PYTHON, [BOTO3_SCRIPT], {
      env: { ...clientEnv, KEYHAVEN_URL: server.url, PYTHONDONTWRITEBYTECODE: '1' },
    });
    const seen = JSON.parse(stdout) as {
      keyId: string;
      creationDateType: string;
      wrongContext: string;
      badSignature: string;
      pageSizes: number[];
      listedKeyIds: string[];
      aliases: string[];
      unknownAlias: string;
    };
    expect(seen.creationDateType).toBe('datetime');
    expect(seen).toMatchObject({
      wrongContext: 'InvalidCiphertextException',
      badSignature: 'KMSInvalidSignatureException',
      unknownAlias: 'NotFoundException',
      aliases: ['alias/boto3-app'],
    });
    const listed = await admin.get<{ keys: { keyId: string }[] }>('/v1/keys?limit=1000');
    expect([...seen.listedKeyIds].sort()).toEqual(listed.body.keys.map((k) => k.keyId).sort());
    expect(new Set(seen.listedKeyIds).size).toBe(seen.listedKeyIds.length);
    expect(seen.pageSizes.every((size) => size <= 2)).toBe(true);
    expect(seen.pageSizes.length).toBeGreaterThanOrEqual(Math.ceil(seen.listedKeyIds.length / 2));
  });
});
