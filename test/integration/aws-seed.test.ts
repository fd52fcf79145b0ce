// The development conveniences of the AWS dialect, on a real server process: the bootstrap admin's
// access key pair from KEYHAVEN_ADMIN_ACCESS_KEY_ID / _SECRET_ACCESS_KEY, and the seed file
// (KEYHAVEN_SEED_FILE) whose keys have fixed ids, aliases and fixed material, created once.
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { clientFor, failure } from './aws-fixtures.js';
import { Api, b64 } from './http.js';

const ADMIN_PAIR = {
  accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString('base64'),
};

describe('the bootstrap admin access key pair', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      env: {
        KEYHAVEN_ADMIN_ACCESS_KEY_ID: ADMIN_PAIR.accessKeyId,
        KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: ADMIN_PAIR.secretAccessKey,
      },
    });
  });
  afterAll(async () => server?.dispose());

  it('signs AWS requests as the bootstrap admin from the first start', async () => {
    const kms = clientFor(server, ADMIN_PAIR);
    const created = await kms.send(new CreateKeyCommand({ Description: 'by the bootstrap pair' }));
    const listed = await kms.send(new ListKeysCommand({}));
    expect(listed.Keys!.map((k) => k.KeyId)).toContain(created.KeyMetadata!.KeyId);
    // The same admin as the bootstrap API key: the key is in the default tenant.
    const rest = await new Api(server.url, server.token).get<{ key: { tenant: string } }>(
      `/v1/keys/${created.KeyMetadata!.KeyId}`,
    );
    expect(rest.status).toBe(200);
    expect(server.output()).toContain(`bootstrap admin access key ${ADMIN_PAIR.accessKeyId} created`);
    expect(server.output()).not.toContain(ADMIN_PAIR.secretAccessKey);
    kms.destroy();
  });

  it('is only taken on first start: another pair later is ignored, said aloud, and refused', async () => {
    const other = {
      accessKeyId: 'AKIAOTHERPAIR0000001',
      secretAccessKey: randomBytes(30).toString('base64'),
    };
    await server.restart({
      KEYHAVEN_ADMIN_ACCESS_KEY_ID: other.accessKeyId,
      KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: other.secretAccessKey,
    });
    expect(server.output()).toContain('KEYHAVEN_ADMIN_ACCESS_KEY_ID is ignored');
    const refused = clientFor(server, other);
    expect(await failure(refused.send(new ListKeysCommand({})))).toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const kept = clientFor(server, ADMIN_PAIR);
    expect((await kept.send(new ListKeysCommand({}))).Keys!.length).toBeGreaterThan(0);
    refused.destroy();
    kept.destroy();
  });

  it('refuses to start with half a pair or a malformed id', async () => {
    await expect(
      startServer({ env: { KEYHAVEN_ADMIN_ACCESS_KEY_ID: 'AKIAHALFAPAIR00001' } }),
    ).rejects.toThrow(/set both KEYHAVEN_ADMIN_ACCESS_KEY_ID and KEYHAVEN_ADMIN_SECRET_ACCESS_KEY/);
    await expect(
      startServer({
        env: {
          KEYHAVEN_ADMIN_ACCESS_KEY_ID: 'not-an-id',
          KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: ADMIN_PAIR.secretAccessKey,
        },
      }),
    ).rejects.toThrow(/adminAccessKey.accessKeyId: must be 16 to 128 capital letters/);
  });
});

describe('the seed file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyhaven-seed-'));
  const aesId = randomUUID();
  const hmacId = randomUUID();
  const generatedId = randomUUID();
  const ecId = randomUUID();
  const disabledId = randomUUID();
  const aesMaterial = randomBytes(32);
  const hmacMaterial = randomBytes(32);
  const ecPair = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const seedPath = join(dir, 'seed.yaml');
  const seedYaml = `# keys every test may rely on
keys:
  - keyId: ${aesId}
    description: fixed AES material
    aliases: [alias/seeded-aes, alias/seeded-app]
    material: ${aesMaterial.toString('base64')}
  - keyId: ${hmacId}
    keySpec: HMAC_256
    material: "${hmacMaterial.toString('base64')}"
  - keyId: ${generatedId}
    tags: { team: payments }
    aliases: [alias/seeded-generated]
  - keyId: ${ecId}
    keySpec: ECC_SECG_P256K1
    privateKeyPem: |
${(ecPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
  .trim()
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
  - keyId: ${disabledId}
    enabled: false
`;
  let server: TestServer;
  let api: Api;

  beforeAll(async () => {
    writeFileSync(seedPath, seedYaml);
    server = await startServer({
      env: {
        KEYHAVEN_SEED_FILE: seedPath,
        KEYHAVEN_ADMIN_ACCESS_KEY_ID: ADMIN_PAIR.accessKeyId,
        KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: ADMIN_PAIR.secretAccessKey,
      },
    });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => server?.dispose());

  it('creates its keys with their fixed ids, aliases and material', async () => {
    expect(server.output()).toContain('5 keys and 3 aliases created');
    const kms = clientFor(server, ADMIN_PAIR);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/seeded-app' }));
    expect(described.KeyMetadata).toMatchObject({ KeyId: aesId, Origin: 'EXTERNAL', KeyState: 'Enabled' });
    expect((await kms.send(new DescribeKeyCommand({ KeyId: generatedId }))).KeyMetadata).toMatchObject({
      Origin: 'AWS_KMS',
      KeyState: 'Enabled',
    });
    expect((await kms.send(new DescribeKeyCommand({ KeyId: disabledId }))).KeyMetadata!.KeyState).toBe(
      'Disabled',
    );
    const encrypted = await kms.send(
      new EncryptCommand({ KeyId: 'alias/seeded-aes', Plaintext: Buffer.from('seeded') }),
    );
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
    expect(Buffer.from(decrypted.Plaintext!).toString()).toBe('seeded');
    // The material is the seed's: an HMAC computed here with it equals the server's.
    const message = Buffer.from('known material');
    const mac = await api.post<{ mac: string }>('/v1/mac', {
      keyId: hmacId,
      message: b64(message),
      algorithm: 'HMAC_SHA_256',
    });
    expect(mac.status, mac.text).toBe(200);
    expect(mac.body.mac).toBe(createHmac('sha256', hmacMaterial).update(message).digest('base64'));
    const publicKey = await api.get<{ publicKey: string }>(`/v1/keys/${ecId}/public-key`);
    expect(createPublicKey(publicKey.body.publicKey).export({ type: 'spki', format: 'der' })).toEqual(
      createPublicKey(ecPair.privateKey).export({ type: 'spki', format: 'der' }),
    );
    const tags = await api.get<{ key: { tags: Record<string, string> } }>(`/v1/keys/${generatedId}`);
    expect(tags.body.key.tags).toEqual({ team: 'payments' });
    kms.destroy();
  });

  it('records the seeding in the audit log as the server’s own work', async () => {
    const logs = await api.get<{ records: { action: string; principalId: string; keyId?: string }[] }>(
      `/v1/logs?keyId=${aesId}`,
    );
    expect(logs.status, logs.text).toBe(200);
    const actions = logs.body.records.filter((r) => r.principalId === 'system').map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['CreateKey', 'ImportKeyMaterial', 'PutAlias']));
    expect(JSON.stringify(logs.body)).not.toContain(aesMaterial.toString('base64'));
  });

  it('creates nothing twice: on restart its keys are kept as they are', async () => {
    const before = await api.post<{ ciphertext: string }>('/v1/encrypt', {
      keyId: generatedId,
      plaintext: b64('made before the restart'),
    });
    await server.restart();
    expect(server.output()).toContain('0 keys and 0 aliases created');
    const after = await api.post<{ plaintext: string }>('/v1/decrypt', {
      ciphertext: before.body.ciphertext,
    });
    expect(Buffer.from(after.body.plaintext, 'base64').toString()).toBe('made before the restart');
    const listed = await api.get<{ keys: unknown[] }>('/v1/keys');
    expect(listed.body.keys).toHaveLength(5);
  });

  it('refuses to start when the seed contradicts the database, or cannot be read', async () => {
    await server.stop();
    writeFileSync(
      seedPath,
      seedYaml.replace(`keyId: ${hmacId}\n    keySpec: HMAC_256`, `keyId: ${hmacId}\n    keySpec: HMAC_512`),
    );
    await expect(server.restart()).rejects.toThrow(
      new RegExp(`seed key ${hmacId} is HMAC_512, but the database holds it as HMAC_256`),
    );
    writeFileSync(
      seedPath,
      `keys:\n  - keyId: NOT-A-UUID\n    material: ${aesMaterial.toString('base64')}\n`,
    );
    const refused = await server.restart().then(
      () => '',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/keys\.0\.keyId: must be a lower-case UUID/);
    expect(refused).not.toContain(aesMaterial.toString('base64'));
    writeFileSync(seedPath, '{ keys: [ unclosed');
    await expect(server.restart()).rejects.toThrow(/seed file .* is not valid YAML/);
  });
});
