// The AWS KMS dialect against the real AWS SDK for JavaScript v3 (@aws-sdk/client-kms), unchanged
// but for its endpoint, over real HTTP to a real server process: SigV4 with a principal's access
// key pair, AWS's error types, and the same authorization, tenancy and audit as REST.
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  KMSClient,
  ListKeysCommand,
  paginateListKeys,
  ReplicateKeyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGION, accessKeyOf, clientFor, failure, signedFetch, type AccessKey } from './aws-fixtures.js';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

describe('AWS KMS dialect, through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let system: Api;
  let tenantId: string;
  let tenantAdmin: Actor;
  let user: Actor;
  let admin: KMSClient;
  let crypto: KMSClient;
  let adminKeys: AccessKey;

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    user = await createActor(system, tenantId, ['crypto-user']);
    adminKeys = await accessKeyOf(system, tenantAdmin.principal.principalId);
    admin = clientFor(server, adminKeys);
    crypto = clientFor(server, await accessKeyOf(system, user.principal.principalId));
  });
  afterAll(async () => {
    admin?.destroy();
    crypto?.destroy();
    await server?.dispose();
  });

  it('creates and describes a key with AWS KeyMetadata', async () => {
    const created = await admin.send(
      new CreateKeyCommand({
        Description: 'from the AWS SDK',
        Tags: [{ TagKey: 'team', TagValue: 'payments' }],
      }),
    );
    const metadata = created.KeyMetadata!;
    expect(metadata).toMatchObject({
      KeyId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Description: 'from the AWS SDK',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyState: 'Enabled',
      Enabled: true,
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      MultiRegion: false,
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(metadata.Arn).toBe(`arn:aws:kms:${REGION}:${metadata.AWSAccountId}:key/${metadata.KeyId}`);
    expect(metadata.AWSAccountId).toMatch(/^\d{12}$/);
    // The SDK parsed CreationDate (epoch seconds) into a Date.
    expect(Math.abs(metadata.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    const described = await admin.send(new DescribeKeyCommand({ KeyId: metadata.Arn }));
    expect(described.KeyMetadata).toEqual(metadata);
    // The same key over REST, in the same tenant.
    const rest = await tenantAdmin.api.get<{ key: { tags: Record<string, string> } }>(
      `/v1/keys/${metadata.KeyId}`,
    );
    expect(rest.body.key.tags).toEqual({ team: 'payments' });
  });

  it('encrypts and decrypts with an encryption context; the context binds', async () => {
    const key = await createKey(tenantAdmin.api);
    const plaintext = Buffer.from('hello from the AWS SDK');
    const context = { tenant: 'acme', purpose: 'test' };
    const encrypted = await crypto.send(
      new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext, EncryptionContext: context }),
    );
    expect(encrypted.KeyId).toMatch(new RegExp(`^arn:aws:kms:${REGION}:\\d{12}:key/${key.keyId}$`));
    expect(encrypted.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const decrypted = await crypto.send(
      new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
    );
    expect(Buffer.from(decrypted.Plaintext!)).toEqual(plaintext);
    expect(decrypted.KeyId).toBe(encrypted.KeyId);
    const wrongContext = await failure(
      crypto.send(
        new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { tenant: 'x' } }),
      ),
    );
    expect(wrongContext).toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    // A REST ciphertext opens over AWS, and the reverse: one key, one format.
    const viaRest = await user.api.post<{ ciphertext: string }>('/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('via rest'),
    });
    const opened = await crypto.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(viaRest.body.ciphertext, 'base64') }),
    );
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('via rest');
  });

  it('generates data keys with and without plaintext, and random bytes', async () => {
    const key = await createKey(tenantAdmin.api);
    const dataKey = await crypto.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256' }));
    expect(dataKey.Plaintext).toHaveLength(32);
    const opened = await crypto.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
    expect(Buffer.from(opened.Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
    const bare = await crypto.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key.keyId, NumberOfBytes: 16 }),
    );
    expect(bare).not.toHaveProperty('Plaintext');
    expect(
      (await crypto.send(new DecryptCommand({ CiphertextBlob: bare.CiphertextBlob }))).Plaintext,
    ).toHaveLength(16);
    const random = await crypto.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    expect(random.Plaintext).toHaveLength(64);
    expect(await failure(crypto.send(new GenerateDataKeyCommand({ KeyId: key.keyId })))).toMatchObject({
      name: 'ValidationException',
    });
  });

  it('lists keys with the paginator, every key once', async () => {
    const made = new Set<string>();
    for (let i = 0; i < 5; i++) made.add((await createKey(tenantAdmin.api)).keyId);
    const seen: string[] = [];
    for await (const page of paginateListKeys({ client: admin, pageSize: 2 }, {})) {
      expect(page.Keys!.length).toBeLessThanOrEqual(2);
      seen.push(...page.Keys!.map((k) => k.KeyId!));
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const keyId of made) expect(seen).toContain(keyId);
    const first = await admin.send(new ListKeysCommand({ Limit: 1 }));
    expect(first).toMatchObject({ Truncated: true, NextMarker: expect.any(String) });
  });

  it('answers each failure with its own AWS exception', async () => {
    const key = await createKey(tenantAdmin.api);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(
      await failure(crypto.send(new EncryptCommand({ KeyId: missing, Plaintext: Buffer.from('x') }))),
    ).toMatchObject({
      name: 'NotFoundException',
      status: 400,
    });
    expect(
      await failure(
        crypto.send(
          new EncryptCommand({
            KeyId: `arn:aws:kms:eu-west-1:111122223333:key/${key.keyId}`,
            Plaintext: Buffer.from('x'),
          }),
        ),
      ),
    ).toMatchObject({ name: 'NotFoundException' });
    expect(await failure(crypto.send(new CreateKeyCommand({})))).toMatchObject({
      name: 'AccessDeniedException',
      status: 400,
    });
    expect((await tenantAdmin.api.post(`/v1/keys/${key.keyId}/disable`)).status).toBe(200);
    expect(
      await failure(crypto.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') }))),
    ).toMatchObject({
      name: 'DisabledException',
    });
    expect(await failure(admin.send(new CreateKeyCommand({ Policy: '{}' })))).toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    expect(
      await failure(admin.send(new ReplicateKeyCommand({ KeyId: key.keyId, ReplicaRegion: 'eu-west-1' }))),
    ).toMatchObject({ name: 'UnsupportedOperationException' });
    expect(
      await failure(
        crypto.send(new DecryptCommand({ CiphertextBlob: Buffer.from('not a ciphertext at all') })),
      ),
    ).toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('refuses a wrong secret, an unknown or revoked access key, another region and a missing signature', async () => {
    const wrongSecret = clientFor(server, { ...adminKeys, secretAccessKey: `${adminKeys.secretAccessKey}x` });
    expect(await failure(wrongSecret.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).toMatchObject({
      name: 'InvalidSignatureException',
      status: 400,
    });
    const unknown = clientFor(server, {
      accessKeyId: 'KHAKUNKNOWN000000000',
      secretAccessKey: 'x'.repeat(40),
    });
    expect(await failure(unknown.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const otherRegion = clientFor(server, adminKeys, 'eu-west-1');
    expect(await failure(otherRegion.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).toMatchObject({
      name: 'InvalidSignatureException',
    });
    // Revoked: refused at once (the signing-key cache is dropped with the credentials).
    const doomed = await accessKeyOf(system, user.principal.principalId);
    const doomedClient = clientFor(server, doomed);
    expect((await doomedClient.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext).toHaveLength(
      8,
    );
    const revoked = await system.delete(
      `/v1/principals/${user.principal.principalId}/access-keys/${doomed.accessKeyId}`,
    );
    expect(revoked.status).toBeLessThan(300);
    expect(await failure(doomedClient.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).toMatchObject({
      name: 'UnrecognizedClientException',
    });
    for (const client of [wrongSecret, unknown, otherRegion, doomedClient]) client.destroy();
    // No signature at all: a bearer token is not a SigV4 signature.
    const unsigned = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.GenerateRandom',
        authorization: `Bearer ${server.token}`,
      },
      body: '{"NumberOfBytes":8}',
    });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  it('refuses a request whose X-Amz-Target or Content-Type was not signed (no replay as another action)', async () => {
    const signedAll = await signedFetch(server, adminKeys, 'ListKeys', '{}');
    expect(signedAll.status).toBe(200);
    for (const header of ['x-amz-target', 'content-type']) {
      const unsigned = await signedFetch(server, adminKeys, 'ListKeys', '{}', { unsigned: [header] });
      expect(unsigned, header).toMatchObject({
        status: 400,
        body: { __type: 'IncompleteSignatureException' },
      });
    }
    // Signed as ListKeys, sent as CreateKey: the signature covers the target, so it fails.
    const swapped = await signedFetch(server, adminKeys, 'ListKeys', '{}', {
      after: (headers) => (headers['x-amz-target'] = 'TrentService.CreateKey'),
    });
    expect(swapped).toMatchObject({ status: 400, body: { __type: 'InvalidSignatureException' } });
  });

  it('answers targets that are no AWS KMS action with UnknownOperationException, and mints no metric for them', async () => {
    const invented = `Invented${Date.now()}`;
    for (const target of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', invented]) {
      const answer = await signedFetch(server, adminKeys, target, '{}');
      expect(answer, target).toMatchObject({ status: 400, body: { __type: 'UnknownOperationException' } });
    }
    const unsupported = await signedFetch(server, adminKeys, 'ReplicateKey', '{}');
    expect(unsupported).toMatchObject({ status: 400, body: { __type: 'UnsupportedOperationException' } });
    const metrics = await system.get('/metrics');
    expect(metrics.text).not.toContain(invented);
    expect(metrics.text).not.toContain('constructor');
  });

  it('keeps a tag named __proto__ as a tag', async () => {
    const created = await admin.send(
      new CreateKeyCommand({ Tags: [{ TagKey: '__proto__', TagValue: 'polluted?' }] }),
    );
    const rest = await tenantAdmin.api.get<{ key: { tags: Record<string, string> } }>(
      `/v1/keys/${created.KeyMetadata!.KeyId}`,
    );
    expect(Object.entries(rest.body.key.tags)).toEqual([['__proto__', 'polluted?']]);
  });

  it('records AWS requests in the audit log as REST ones, allowed and denied, under the action name', async () => {
    const key = await createKey(tenantAdmin.api);
    await crypto.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('audited') }));
    await failure(crypto.send(new CreateKeyCommand({})));
    const records = (
      await tenantAdmin.api.get<{ records: AuditRecord[] }>(
        `/v1/logs?principalId=${user.principal.principalId}&limit=1000`,
      )
    ).body.records;
    expect(records.find((r) => r.action === 'Encrypt' && r.keyId === key.keyId)).toMatchObject({
      result: 'allow',
      tenantId,
      keyVersion: 1,
    });
    expect(records.find((r) => r.action === 'CreateKey' && r.result === 'deny')).toMatchObject({
      errorCode: 'AccessDenied',
    });
    expectError(await user.api.get('/v1/logs'), 403, 'AccessDenied');
  });
});
