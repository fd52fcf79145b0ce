// Key policies over the AWS dialect, through the real @aws-sdk/client-kms: GetKeyPolicy,
// PutKeyPolicy, ListKeyPolicies and CreateKey's Policy in AWS's policy language, and their parity
// with REST: one policy decides the same over both surfaces, and both audit the same record.
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  ListKeyPoliciesCommand,
  PutKeyPolicyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, clientFor, failure } from './aws-fixtures.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

describe('key policies in AWS policy language, over AWS and REST', () => {
  let server: TestServer;
  let system: Api;
  let tenantId: string;
  let account: string;
  let tenantAdmin: Actor;
  let admin: KMSClient;
  const clients: KMSClient[] = [];

  /** A principal of type user (named so in ARNs as user/<name>), its API key and an AWS client. */
  async function user(name: string, roles: string[]): Promise<{ id: string; api: Api; aws: KMSClient }> {
    const created = await system.post<{ principal: { principalId: string } }>('/v1/principals', {
      name,
      type: 'user',
      tenantId,
      roles,
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.principal.principalId;
    const key = await system.post<{ secret: string }>(`/v1/principals/${id}/api-keys`, {});
    expect(key.status, key.text).toBe(201);
    const aws = clientFor(server, await accessKeyOf(system, id));
    clients.push(aws);
    return { id, api: new Api(server.url, key.body.secret), aws };
  }

  const root = () => ({
    Sid: 'Enable IAM User Permissions',
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${account}:root` },
    Action: 'kms:*',
    Resource: '*',
  });
  const awsPolicy = (...statements: unknown[]) =>
    JSON.stringify({ Version: '2012-10-17', Statement: [root(), ...statements] }, null, 4);

  const encryptOverRest = (api: Api, keyId: string, context?: Record<string, string>) =>
    api.post('/v1/encrypt', { keyId, plaintext: b64('parity'), ...(context ? { context } : {}) });
  const encryptOverAws = (client: KMSClient, keyId: string, context?: Record<string, string>) =>
    client.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('parity'),
        ...(context ? { EncryptionContext: context } : {}),
      }),
    );

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    admin = clientFor(server, await accessKeyOf(system, tenantAdmin.principal.principalId));
    clients.push(admin);
    const probe = await admin.send(new CreateKeyCommand({}));
    account = probe.KeyMetadata!.AWSAccountId!;
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await server?.dispose();
  });

  it('answers AWS default key policy for a key without one, and a put policy as it was written', async () => {
    const key = await createKey(tenantAdmin.api);
    const before = await admin.send(new GetKeyPolicyCommand({ KeyId: key.keyId }));
    expect(before.PolicyName).toBe('default');
    expect(JSON.parse(before.Policy!)).toEqual({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [root()],
    });
    const listed = await admin.send(new ListKeyPoliciesCommand({ KeyId: key.keyId }));
    expect(listed).toMatchObject({ PolicyNames: ['default'], Truncated: false });

    const text = awsPolicy({
      Sid: 'NoDeletion',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:ScheduleKeyDeletion',
      Resource: '*',
    });
    await admin.send(new PutKeyPolicyCommand({ KeyId: key.keyId, Policy: text, PolicyName: 'default' }));
    const after = await admin.send(new GetKeyPolicyCommand({ KeyId: key.keyId }));
    expect(after.Policy).toBe(text);
    // REST shows the translation, in Keyhaven's language.
    const rest = await tenantAdmin.api.get<{ version: number; document: unknown }>(
      `/v1/keys/${key.keyId}/policy`,
    );
    expect(rest.body).toMatchObject({
      version: 1,
      document: {
        statements: [
          { sid: 'NoDeletion', effect: 'deny', principals: ['*'], actions: ['ScheduleKeyDeletion'] },
        ],
      },
    });
    expect(
      await failure(admin.send(new GetKeyPolicyCommand({ KeyId: key.keyId, PolicyName: 'other' }))),
    ).toMatchObject({ name: 'NotFoundException', status: 400 });
    expect(
      await failure(admin.send(new ListKeyPoliciesCommand({ KeyId: key.keyId, Marker: 'abc' }))),
    ).toMatchObject({ name: 'InvalidMarkerException' });
    // A policy written over REST in Keyhaven's language is answered as it is.
    const keyhaven = {
      statements: [{ effect: 'deny', principals: ['*'], actions: ['DisableKey'], resources: ['*'] }],
    };
    expect((await tenantAdmin.api.put(`/v1/keys/${key.keyId}/policy`, { document: keyhaven })).status).toBe(
      200,
    );
    const native = await admin.send(new GetKeyPolicyCommand({ KeyId: key.keyId }));
    expect(JSON.parse(native.Policy!)).toEqual(keyhaven);
  });

  it('creates a key with a Policy, which applies at once', async () => {
    const carol = await user(`carol-${process.pid}`, ['crypto-user']);
    const text = awsPolicy({
      Effect: 'Deny',
      Principal: { AWS: `arn:aws:iam::${account}:user/carol-${process.pid}` },
      Action: 'kms:Encrypt',
      Resource: '*',
    });
    const created = await admin.send(
      new CreateKeyCommand({ Policy: text, BypassPolicyLockoutSafetyCheck: false }),
    );
    const keyId = created.KeyMetadata!.KeyId!;
    expect((await admin.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toBe(text);
    expect(await failure(encryptOverAws(carol.aws, keyId))).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('refuses what it cannot honour with MalformedPolicyDocumentException, and nothing is written', async () => {
    const key = await createKey(tenantAdmin.api);
    const refused = [
      awsPolicy({ Effect: 'Deny', NotPrincipal: { AWS: account }, Action: 'kms:*', Resource: '*' }),
      awsPolicy({ Effect: 'Allow', Principal: '*', Action: 'kms:Frobnicate', Resource: '*' }),
      awsPolicy({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::999999999999:root' },
        Action: 'kms:*',
        Resource: '*',
      }),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }],
      }),
      '{"Version": "2012-10-17", "Statement": [',
    ];
    for (const Policy of refused) {
      expect(await failure(admin.send(new PutKeyPolicyCommand({ KeyId: key.keyId, Policy })))).toMatchObject({
        name: 'MalformedPolicyDocumentException',
        status: 400,
      });
    }
    expect(await failure(admin.send(new CreateKeyCommand({ Policy: refused[0]! })))).toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    const rest = await tenantAdmin.api.put(`/v1/keys/${key.keyId}/policy`, {
      document: JSON.parse(refused[1]!),
    });
    expectError(rest, 400, 'ValidationError');
    expect(
      (await tenantAdmin.api.get<{ version: number }>(`/v1/keys/${key.keyId}/policy`)).body.version,
    ).toBe(0);
  });

  it('a Deny by user ARN stops that principal over AWS and REST, and both audit the same record', async () => {
    const dave = await user(`dave-${process.pid}`, ['crypto-user']);
    const key = await createKey(tenantAdmin.api);
    await encryptOverAws(dave.aws, key.keyId);
    expect((await encryptOverRest(dave.api, key.keyId)).status).toBe(200);
    await admin.send(
      new PutKeyPolicyCommand({
        KeyId: key.keyId,
        Policy: awsPolicy({
          Sid: 'NotDave',
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${account}:user/dave-${process.pid}` },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: `arn:aws:kms:us-east-1:${account}:key/${key.keyId}`,
        }),
      }),
    );
    expect(await failure(encryptOverAws(dave.aws, key.keyId))).toMatchObject({
      name: 'AccessDeniedException',
      status: 400,
    });
    expectError(await encryptOverRest(dave.api, key.keyId), 403, 'AccessDenied');
    // Another principal of the tenant is not concerned.
    const erin = await user(`erin-${process.pid}`, ['crypto-user']);
    await encryptOverAws(erin.aws, key.keyId);

    const records = (
      await tenantAdmin.api.get<{ records: AuditRecord[] }>(`/v1/logs?principalId=${dave.id}&limit=1000`)
    ).body.records;
    const fields = (r: AuditRecord) => ({
      principalId: r.principalId,
      tenantId: r.tenantId,
      action: r.action,
      keyId: r.keyId,
      result: r.result,
      errorCode: r.errorCode,
    });
    const denied = records.filter((r) => r.action === 'Encrypt' && r.result === 'deny').map(fields);
    expect(denied).toHaveLength(2);
    expect(denied[0]).toEqual({
      principalId: dave.id,
      tenantId,
      action: 'Encrypt',
      keyId: key.keyId,
      result: 'deny',
      errorCode: 'AccessDenied',
    });
    expect(denied[1]).toEqual(denied[0]);
    const allowed = records.filter((r) => r.action === 'Encrypt' && r.result === 'allow').map(fields);
    expect(allowed).toHaveLength(2);
    expect(allowed[1]).toEqual(allowed[0]);
  });

  it('a Deny of kms:* leaves no way to the key: RSA decrypt over AWS, unwrap, derive and usage over REST', async () => {
    const gina = await user(`gina-${process.pid}`, ['crypto-user']);
    const rsa = await createKey(tenantAdmin.api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const aes = await createKey(tenantAdmin.api);
    const sealed = await admin.send(
      new EncryptCommand({
        KeyId: rsa.keyId,
        Plaintext: Buffer.from('top secret'),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    const wrapped = await tenantAdmin.api.post<{ wrappedKey: string }>('/v1/wrap', {
      keyId: aes.keyId,
      keyMaterial: b64('0123456789abcdef0123456789abcdef'),
    });
    expect(wrapped.status, wrapped.text).toBe(200);
    const denyAll = (keyId: string) =>
      admin.send(
        new PutKeyPolicyCommand({
          KeyId: keyId,
          Policy: awsPolicy({
            Effect: 'Deny',
            Principal: { AWS: `arn:aws:iam::${account}:user/gina-${process.pid}` },
            Action: 'kms:*',
            Resource: '*',
          }),
        }),
      );
    await denyAll(rsa.keyId);
    await denyAll(aes.keyId);
    expect(
      await failure(
        gina.aws.send(
          new DecryptCommand({
            KeyId: rsa.keyId,
            CiphertextBlob: sealed.CiphertextBlob,
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          }),
        ),
      ),
    ).toMatchObject({ name: 'AccessDeniedException' });
    expectError(
      await gina.api.post('/v1/unwrap', { keyId: aes.keyId, wrappedKey: wrapped.body.wrappedKey }),
      403,
      'AccessDenied',
    );
    expectError(
      await gina.api.post('/v1/derive', { keyId: aes.keyId, context: 'app', length: 32 }),
      403,
      'AccessDenied',
    );
    expectError(await gina.api.get(`/v1/keys/${aes.keyId}/usage`), 403, 'AccessDenied');
    const batch = await gina.api.post<{ results: { error?: { code: string } }[] }>('/v1/encrypt/batch', {
      items: [{ keyId: aes.keyId, plaintext: b64('x') }],
    });
    expect(batch.body.results[0]?.error?.code).toBe('AccessDenied');
  });

  it('an Allow with an encryption-context condition lets a principal without roles encrypt with that context only', async () => {
    const frank = await user(`frank-${process.pid}`, []);
    const key = await createKey(tenantAdmin.api);
    const statement = {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${account}:user/frank-${process.pid}` },
      Action: 'kms:Encrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:app': 'billing' } },
    };
    // Written over REST in AWS's language this time: the same translation.
    const put = await tenantAdmin.api.put(`/v1/keys/${key.keyId}/policy`, {
      document: { Version: '2012-10-17', Statement: [root(), statement] },
    });
    expect(put.status, put.text).toBe(200);
    expect(JSON.parse((await admin.send(new GetKeyPolicyCommand({ KeyId: key.keyId }))).Policy!)).toEqual({
      Version: '2012-10-17',
      Statement: [root(), statement],
    });
    await encryptOverAws(frank.aws, key.keyId, { app: 'billing' });
    expect((await encryptOverRest(frank.api, key.keyId, { app: 'billing' })).status).toBe(200);
    for (const context of [undefined, { app: 'payroll' }]) {
      expect(await failure(encryptOverAws(frank.aws, key.keyId, context))).toMatchObject({
        name: 'AccessDeniedException',
      });
      expectError(await encryptOverRest(frank.api, key.keyId, context), 403, 'AccessDenied');
    }
  });

  it('an aws:SourceIp Deny applies over both surfaces', async () => {
    const grace = await user(`grace-${process.pid}`, ['crypto-user']);
    const key = await createKey(tenantAdmin.api);
    const deny = (operator: string, cidr: string) =>
      admin.send(
        new PutKeyPolicyCommand({
          KeyId: key.keyId,
          Policy: awsPolicy({
            Effect: 'Deny',
            Principal: '*',
            Action: 'kms:Encrypt',
            Resource: '*',
            Condition: { [operator]: { 'aws:SourceIp': cidr } },
          }),
        }),
      );
    // The tests call from the loopback address.
    await deny('NotIpAddress', '10.0.0.0/8');
    expect(await failure(encryptOverAws(grace.aws, key.keyId))).toMatchObject({
      name: 'AccessDeniedException',
    });
    expectError(await encryptOverRest(grace.api, key.keyId), 403, 'AccessDenied');
    await deny('NotIpAddress', '127.0.0.0/8');
    await encryptOverAws(grace.aws, key.keyId);
    expect((await encryptOverRest(grace.api, key.keyId)).status).toBe(200);
    await deny('IpAddress', '127.0.0.1/32');
    expect(await failure(encryptOverAws(grace.aws, key.keyId))).toMatchObject({
      name: 'AccessDeniedException',
    });
    expectError(await encryptOverRest(grace.api, key.keyId), 403, 'AccessDenied');
  });

  it('a principal denied over REST by a Keyhaven-language policy is denied over AWS', async () => {
    const heidi = await user(`heidi-${process.pid}`, ['crypto-user']);
    const key = await createKey(tenantAdmin.api);
    const put = await tenantAdmin.api.put(`/v1/keys/${key.keyId}/policy`, {
      document: {
        statements: [
          { effect: 'deny', principals: [`principal:${heidi.id}`], actions: ['Encrypt'], resources: ['*'] },
        ],
      },
    });
    expect(put.status, put.text).toBe(200);
    expectError(await encryptOverRest(heidi.api, key.keyId), 403, 'AccessDenied');
    expect(await failure(encryptOverAws(heidi.aws, key.keyId))).toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});
