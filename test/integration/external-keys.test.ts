// EXTERNAL keys (docs/external-keys.md) on three real Keyhaven processes: the server under test
// keeps its EXTERNAL keys at two providers, another Keyhaven reached through its AWS endpoint (the
// real @aws-sdk/client-kms, SigV4) and a third reached through its REST API with the SDK. Over REST
// and the AWS dialect: create, encrypt, decrypt, rotate, disable, with a provider down and back.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  RotateKeyOnDemandCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, clientFor } from './aws-fixtures.js';
import { Api, b64, expectError, unb64 } from './http.js';
import { createActor, createTenant } from './identity-fixtures.js';
import {
  startAwsSide,
  startKeyhavenSide,
  type AwsSide,
  type KeyhavenSide,
} from './kms-integration-fixtures.js';

interface KeyWire {
  keyId: string;
  protectionLevel: string;
  origin: string;
  currentVersion: number;
  state: string;
}

const SECRET = 'a plaintext held under a key no process of this server ever holds';

describe('EXTERNAL keys at two providers (another Keyhaven via its AWS endpoint, a third via REST)', () => {
  let aws: AwsSide;
  let other: KeyhavenSide;
  let server: TestServer;
  let api: Api;
  let tenantApi: Api;
  let kms: KMSClient;

  beforeAll(async () => {
    [aws, other] = await Promise.all([startAwsSide(), startKeyhavenSide()]);
    const credentials = await aws.kms.config.credentials();
    const dataDir = join(aws.server.dataDir, '..');
    const configFile = join(dataDir, `external-${process.pid}-${Date.now()}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        keyStore: {
          external: {
            providers: [
              {
                type: 'aws-kms',
                name: 'aws-b',
                endpoint: aws.server.url,
                region: 'us-east-1',
                accessKeyId: credentials.accessKeyId,
                secretAccessKeyEnv: 'TEST_AWS_B_SECRET',
                failureThreshold: 2,
                recoveryTimeoutMs: 500,
                timeoutMs: 3000,
                retries: 0,
              },
              {
                type: 'keyhaven',
                name: 'keyhaven-c',
                url: other.server.url,
                tokenEnv: 'TEST_KEYHAVEN_C_TOKEN',
                failureThreshold: 2,
                recoveryTimeoutMs: 500,
                retries: 0,
              },
            ],
          },
        },
      }),
    );
    server = await startServer({
      env: {
        KEYHAVEN_CONFIG: configFile,
        TEST_AWS_B_SECRET: credentials.secretAccessKey,
        TEST_KEYHAVEN_C_TOKEN: other.server.token,
      },
    });
    api = new Api(server.url, server.token);
    const tenantId = (await createTenant(api)).tenantId;
    const admin = await createActor(api, tenantId, ['admin']);
    tenantApi = admin.api;
    kms = clientFor(server, await accessKeyOf(api, admin.principal.principalId));
  });
  afterAll(async () => {
    kms?.destroy();
    aws?.kms.destroy();
    await Promise.all([server?.dispose(), aws?.server.dispose(), other?.server.dispose()]);
  });

  const createExternal = async (client = tenantApi) => {
    const created = await client.post<{ key: KeyWire }>('/v1/keys', {
      protectionLevel: 'EXTERNAL',
      description: 'held outside',
    });
    expect(created.status, created.text).toBe(201);
    return created.body.key;
  };
  const encrypt = (keyId: string, plaintext: string, context = { purpose: 'test' }) =>
    tenantApi.post<{ ciphertext: string; keyVersion: number }>('/v1/encrypt', {
      keyId,
      plaintext: b64(plaintext),
      context,
    });
  const decrypt = (ciphertext: string, context: Record<string, string> = { purpose: 'test' }) =>
    tenantApi.post<{ plaintext: string; keyVersion: number }>('/v1/decrypt', { ciphertext, context });
  const readiness = async () =>
    (
      await api.get<{
        ready: boolean;
        backends: { name: string; kind: string; healthy: boolean; circuit?: string }[];
      }>('/ready')
    ).body;
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('creates the key at each provider and stores only their references', async () => {
    const key = await createExternal();
    expect(key).toMatchObject({
      protectionLevel: 'EXTERNAL',
      origin: 'KEYHAVEN',
      currentVersion: 1,
      state: 'Enabled',
    });
    // The third Keyhaven holds a key made for this one's version 1.
    const listed = await new Api(other.server.url, other.server.token).get<{
      keys: { description: string }[];
    }>('/v1/keys?limit=1000');
    expect(listed.body.keys.map((k) => k.description)).toContain(
      `Keyhaven EXTERNAL key ${key.keyId} version 1`,
    );
  });

  it('encrypts and decrypts; the ciphertext is the backend-sealed form and binds the context', async () => {
    const key = await createExternal();
    const encrypted = await encrypt(key.keyId, SECRET);
    expect(encrypted.status, encrypted.text).toBe(200);
    const blob = unb64(encrypted.body.ciphertext);
    expect(blob[0]).toBe(0x01);
    expect(blob[21]).toBe(0x02);
    const decrypted = await decrypt(encrypted.body.ciphertext);
    expect(decrypted.status, decrypted.text).toBe(200);
    expect(unb64(decrypted.body.plaintext).toString()).toBe(SECRET);
    expectError(await decrypt(encrypted.body.ciphertext, { purpose: 'other' }), 400, 'InvalidCiphertext');
    // A flipped bit anywhere: in a wrapped data key, in the payload, in the tag.
    for (const at of [40, blob.length - 30, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[at]! ^= 1;
      expectError(await decrypt(tampered.toString('base64')), 400, 'InvalidCiphertext');
    }
    // An AES-GCM header on the sealed body, as if a SOFTWARE ciphertext.
    const relabelled = Buffer.from(blob);
    relabelled[21] = 0x01;
    expectError(await decrypt(relabelled.toString('base64')), 400, 'InvalidCiphertext');
  });

  it('refuses what EXTERNAL keys do not do, with a 4xx and a code', async () => {
    const rsa = await tenantApi.post('/v1/keys', { protectionLevel: 'EXTERNAL', keySpec: 'RSA_2048' });
    expectError(rsa, 400, 'ValidationError');
    const imported = await tenantApi.post('/v1/keys', { protectionLevel: 'EXTERNAL', origin: 'EXTERNAL' });
    expectError(imported, 400, 'ValidationError');
    // A taken alias is refused before any key is made at the providers.
    const keysAtProvider = async () =>
      (await new Api(other.server.url, other.server.token).get<{ keys: unknown[] }>('/v1/keys?limit=1000'))
        .body.keys.length;
    const aliased = await tenantApi.post('/v1/keys', {
      protectionLevel: 'EXTERNAL',
      alias: 'alias/external-taken',
    });
    expect(aliased.status, aliased.text).toBe(201);
    const before = await keysAtProvider();
    for (let i = 0; i < 3; i++) {
      expectError(
        await tenantApi.post('/v1/keys', { protectionLevel: 'EXTERNAL', alias: 'alias/external-taken' }),
        409,
        'Conflict',
      );
    }
    expect(await keysAtProvider()).toBe(before);
    const exportable = await tenantApi.post('/v1/keys', { protectionLevel: 'EXTERNAL', exportable: true });
    expectError(exportable, 400, 'ValidationError');
    const key = await createExternal();
    expectError(
      await tenantApi.post('/v1/wrap', { keyId: key.keyId, keyMaterial: b64(Buffer.alloc(32, 1)) }),
      409,
      'Conflict',
    );
  });

  it('works through the AWS dialect: CreateKey with Origin EXTERNAL_KEY_STORE, Encrypt, Decrypt, rotate, disable', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE' }));
    const keyId = created.KeyMetadata!.KeyId!;
    expect(created.KeyMetadata).toMatchObject({
      Origin: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreId: 'keyhaven-external',
    });
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata!.Origin).toBe('EXTERNAL_KEY_STORE');
    const context = { tenant: 'orders' };
    const first = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(SECRET), EncryptionContext: context }),
    );
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const second = await kms.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('after rotation'),
        EncryptionContext: context,
      }),
    );
    for (const [blob, expected] of [
      [first.CiphertextBlob!, SECRET],
      [second.CiphertextBlob!, 'after rotation'],
    ] as const) {
      const out = await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context }));
      expect(Buffer.from(out.Plaintext!).toString()).toBe(expected);
    }
    expect(unb64(Buffer.from(second.CiphertextBlob!).toString('base64')).readUInt32BE(17)).toBe(2);
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    await expect(
      kms.send(new DecryptCommand({ CiphertextBlob: first.CiphertextBlob, EncryptionContext: context })),
    ).rejects.toMatchObject({ name: 'DisabledException' });
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await expect(
      kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', XksKeyId: 'outside-1' })),
    ).rejects.toMatchObject({ name: 'UnsupportedOperationException' });
    await expect(
      kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: 'cks-unknown' })),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  it('with the first provider down: create, encrypt, decrypt, rotate and disable go on; its circuit opens and closes again', async () => {
    const key = await createExternal();
    const before = await encrypt(key.keyId, 'written while both were up');
    expect(before.status, before.text).toBe(200);
    expect(unb64(before.body.ciphertext)[35]).toBe(2); // wrapped by both providers
    const awsKeyId = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL_KEY_STORE' }))).KeyMetadata!
      .KeyId!;
    const awsBefore = await kms.send(
      new EncryptCommand({ KeyId: awsKeyId, Plaintext: Buffer.from('aws, both up') }),
    );

    await aws.server.kill();
    // The AWS dialect, the same: decrypt an older message, encrypt, rotate, disable and enable.
    const awsOpened = await kms.send(new DecryptCommand({ CiphertextBlob: awsBefore.CiphertextBlob }));
    expect(Buffer.from(awsOpened.Plaintext!).toString()).toBe('aws, both up');
    const awsDuring = await kms.send(
      new EncryptCommand({ KeyId: awsKeyId, Plaintext: Buffer.from('aws, one down') }),
    );
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: awsKeyId }));
    await kms.send(new DisableKeyCommand({ KeyId: awsKeyId }));
    await expect(
      kms.send(new DecryptCommand({ CiphertextBlob: awsDuring.CiphertextBlob })),
    ).rejects.toMatchObject({ name: 'DisabledException' });
    await kms.send(new EnableKeyCommand({ KeyId: awsKeyId }));
    const awsRotated = await kms.send(
      new EncryptCommand({ KeyId: awsKeyId, Plaintext: Buffer.from('aws, version 2') }),
    );
    for (const [blob, text] of [
      [awsDuring.CiphertextBlob!, 'aws, one down'],
      [awsRotated.CiphertextBlob!, 'aws, version 2'],
    ] as const) {
      const out = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
      expect(Buffer.from(out.Plaintext!).toString()).toBe(text);
    }
    // Encrypts go on at once: the provider that does not answer is left out of the message.
    const during: string[] = [];
    for (let i = 0; i < 6; i++) {
      const out = await encrypt(key.keyId, `written while down ${i}`);
      expect(out.status, out.text).toBe(200);
      during.push(out.body.ciphertext);
    }
    expect(unb64(during.at(-1)!)[35]).toBe(1); // wrapped by the one provider up
    const opened = await decrypt(before.body.ciphertext);
    expect(unb64(opened.body.plaintext).toString()).toBe('written while both were up');
    const created = await createExternal();
    expect(created.state).toBe('Enabled');
    const rotated = await tenantApi.post<{ key: KeyWire }>(`/v1/keys/${key.keyId}/rotate`, {});
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body.key.currentVersion).toBe(2);
    const disabled = await tenantApi.post<{ key: KeyWire }>(`/v1/keys/${key.keyId}/disable`, {});
    expect(disabled.body.key.state).toBe('Disabled');
    expectError(await decrypt(before.body.ciphertext), 409, 'KeyDisabled');
    await tenantApi.post(`/v1/keys/${key.keyId}/enable`, {});

    // The server stays ready (one provider of the group is up), and says which is not.
    await until('the circuit to open', async () => {
      const r = await readiness();
      return r.backends.find((b) => b.name === 'aws-b')?.healthy === false;
    });
    const down = await readiness();
    expect(down.ready).toBe(true);
    // Open, or half-open once its recovery timeout has passed (the next call is its probe).
    expect(down.backends.find((b) => b.name === 'aws-b')?.circuit).toMatch(/^(open|half-open)$/);
    expect(down.backends.find((b) => b.name === 'keyhaven-c')).toMatchObject({ healthy: true });
    const metrics = await api.get('/metrics');
    expect(metrics.text).toMatch(
      /keyhaven_keystore_backend_circuit_state\{backend="aws-b",kind="external:aws-kms",state="(open|half-open)"\} 1/,
    );
    expect(metrics.text).toMatch(/keyhaven_integration_provider_failures_total\{provider="aws-b"/);

    await aws.server.start();
    // The circuit closes after its recovery timeout, on the first call that gets through.
    await until('the circuit to close', async () => {
      await encrypt(key.keyId, 'probe');
      return (await readiness()).backends.find((b) => b.name === 'aws-b')?.circuit === 'closed';
    });
    const after = await encrypt(key.keyId, 'both up again');
    // Version 2 was made while aws-b was down: only keyhaven-c holds a key for it.
    expect(unb64(after.body.ciphertext)[35]).toBe(1);
    for (const [i, ciphertext] of during.entries()) {
      const out = await decrypt(ciphertext);
      expect(out.status, out.text).toBe(200);
      expect(unb64(out.body.plaintext).toString()).toBe(`written while down ${i}`);
    }
    // A version 1 message written now is wrapped by both again.
    const key1 = await createExternal();
    expect(unb64((await encrypt(key1.keyId, 'x')).body.ciphertext)[35]).toBe(2);
  });

  it('with every provider down: 503 Unavailable naming each, and no partial state', async () => {
    const key = await createExternal();
    const ciphertext = (await encrypt(key.keyId, 'kept')).body.ciphertext;
    await Promise.all([aws.server.kill(), other.server.kill()]);
    try {
      const failed = expectError(await encrypt(key.keyId, 'lost'), 503, 'Unavailable');
      expect(failed.message).toMatch(/aws-b: .*keyhaven-c: /);
      expectError(await decrypt(ciphertext), 503, 'Unavailable');
      expectError(await tenantApi.post(`/v1/keys/${key.keyId}/rotate`, {}), 503, 'Unavailable');
      const unchanged = await tenantApi.get<{ key: KeyWire }>(`/v1/keys/${key.keyId}`);
      expect(unchanged.body.key.currentVersion).toBe(1);
      expectError(await tenantApi.post('/v1/keys', { protectionLevel: 'EXTERNAL' }), 503, 'Unavailable');
      // Still ready: the server serves its other keys; /ready says which providers are down.
      await until('both providers to be reported down', async () =>
        (await readiness()).backends.filter((b) => b.kind.startsWith('external:')).every((b) => !b.healthy),
      );
      expect((await readiness()).ready).toBe(true);
      const software = await tenantApi.post<{ key: KeyWire }>('/v1/keys', {});
      expect((await encrypt(software.body.key.keyId, 'software keys go on')).status).toBe(200);
    } finally {
      await Promise.all([aws.server.start(), other.server.start()]);
    }
    await until('a provider to serve again', async () => (await decrypt(ciphertext)).status === 200);
    expect(unb64((await decrypt(ciphertext)).body.plaintext).toString()).toBe('kept');
  });

  it('never lets plaintext reach the providers or the audit trail in the clear', async () => {
    const key = await createExternal();
    await encrypt(key.keyId, SECRET);
    const records = await api.get('/v1/audit?limit=200');
    expect(records.text).not.toContain(SECRET);
    expect(records.text).not.toContain(b64(SECRET));
    expect(server.output()).not.toContain(SECRET);
    expect(other.server.output()).not.toContain(SECRET);
  });
});
