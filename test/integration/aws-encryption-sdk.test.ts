// The AWS Encryption SDK for JavaScript (@aws-crypto/client-node), unchanged but for its KMS
// client's endpoint and credentials, against a real Keyhaven server: a KMS keyring whose generator
// and additional keys are Keyhaven keys, referenced by ARN as the SDK requires. It calls
// GenerateDataKey, Encrypt and Decrypt over the AWS dialect, and checks every KeyId answered.
import { randomBytes } from 'node:crypto';
import { CommitmentPolicy, KMS, KmsKeyringNode, buildClient, getClient } from '@aws-crypto/client-node';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { REGION, accessKeyOf, clientFor, type AccessKey } from './aws-fixtures.js';
import { Api } from './http.js';
import { createActor, createTenant } from './identity-fixtures.js';

const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

describe('the AWS Encryption SDK with a KMS keyring on Keyhaven', () => {
  let server: TestServer;
  let credentials: AccessKey;
  let adminApi: Api;
  let generatorArn: string;
  let secondArn: string;
  let keyringOf: (keys: { generatorKeyId?: string; keyIds?: string[] }) => KmsKeyringNode;

  beforeAll(async () => {
    server = await startServer();
    const system = new Api(server.url, server.token);
    const tenantId = (await createTenant(system)).tenantId;
    const admin = await createActor(system, tenantId, ['admin']);
    credentials = await accessKeyOf(system, admin.principal.principalId);
    adminApi = admin.api;
    const kms = clientFor(server, credentials);
    generatorArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    secondArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    kms.destroy();
    const clientProvider = getClient(KMS, { credentials, endpoint: server.url, maxAttempts: 1 });
    keyringOf = (keys) => new KmsKeyringNode({ clientProvider, ...keys });
  });
  afterAll(async () => server?.dispose());

  it('encrypts under a generator and a second key; either key alone decrypts, with the context', async () => {
    const plaintext = randomBytes(10_000);
    const context = { purpose: 'esdk-test', tenant: 'acme' };
    const { result } = await encrypt(
      keyringOf({ generatorKeyId: generatorArn, keyIds: [secondArn] }),
      plaintext,
      {
        encryptionContext: context,
      },
    );
    // One encrypted data key per KMS key, each naming its key's ARN.
    for (const keyId of [generatorArn, secondArn]) {
      const { plaintext: opened, messageHeader } = await decrypt(keyringOf({ keyIds: [keyId] }), result);
      expect(Buffer.compare(opened, plaintext)).toBe(0);
      expect(messageHeader.encryptionContext).toMatchObject(context);
      expect(messageHeader.encryptedDataKeys.map((k) => k.providerInfo).sort()).toEqual(
        [generatorArn, secondArn].sort(),
      );
      expect(messageHeader.encryptedDataKeys.every((k) => k.providerId === 'aws-kms')).toBe(true);
    }
    expect(generatorArn).toMatch(new RegExp(`^arn:aws:kms:${REGION}:\\d{12}:key/`));
  });

  it('fails to decrypt with a keyring of another key, a tampered message, or a disabled key', async () => {
    const { result } = await encrypt(keyringOf({ generatorKeyId: generatorArn }), Buffer.from('hello'));
    // No data key of this message is under the second key: nothing can decrypt it.
    await expect(decrypt(keyringOf({ keyIds: [secondArn] }), result)).rejects.toThrow(
      /unencryptedDataKey has not been set/,
    );
    const tampered = Buffer.from(result);
    tampered[tampered.length - 40]! ^= 1;
    await expect(decrypt(keyringOf({ keyIds: [generatorArn] }), tampered)).rejects.toThrow(
      /Invalid Signature/,
    );
    const disabled = await adminApi.post(`/v1/keys/${generatorArn.split('/')[1]}/disable`, {});
    expect(disabled.status, disabled.text).toBe(200);
    await expect(decrypt(keyringOf({ keyIds: [generatorArn] }), result)).rejects.toThrow(
      /DisabledException: key .* is disabled/,
    );
    expect(await adminApi.post(`/v1/keys/${generatorArn.split('/')[1]}/enable`, {})).toMatchObject({
      status: 200,
    });
    const { plaintext } = await decrypt(keyringOf({ keyIds: [generatorArn] }), result);
    expect(plaintext.toString()).toBe('hello');
  });
});
