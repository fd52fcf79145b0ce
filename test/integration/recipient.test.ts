// Recipient-bound results over real HTTP, on a server that trusts the test's own attestation root:
// REST's decrypt to a public key or an attestation document, AWS's Decrypt, GenerateDataKey and
// GenerateRandom with Recipient through @aws-sdk/client-kms. Every CiphertextForRecipient is opened
// by `openssl cms -decrypt` and by an independent DER reader; no plaintext is answered or audited;
// bad recipients are 4xx before any key is touched; key policies require a recipient
// (keyhaven:RecipientBound, recipientBound) or an attested image (kms:RecipientAttestation:*).
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateRandomCommand,
  PutKeyPolicyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyhavenClient, KeyhavenError } from '../../src/client/index.js';
import type { AuditRecord } from '../../src/domain/audit-record.js';
import {
  attestationDocument,
  createAttestationPki,
  openEnvelopedData,
  type AttestationPki,
} from '../helpers/nitro-attestation.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { accessKeyOf, clientFor, failure, signedFetch, type AccessKey } from './aws-fixtures.js';
import { Api, b64, expectError, expectSuccess, unb64 } from './http.js';
import { createActor, createTenant, statement, type Actor } from './identity-fixtures.js';
import { OpensslWorkspace } from './openssl.js';
import { createKey } from './suite-server.js';

const IMAGE = Buffer.alloc(48, 0x11);
const OTHER_IMAGE = Buffer.alloc(48, 0x22);
const PCRS = new Map([
  [0, IMAGE],
  [1, Buffer.alloc(48, 0x01)],
  [8, Buffer.alloc(48, 0x08)],
]);

interface RecipientKey {
  publicKey: KeyObject;
  privateKey: KeyObject;
  spki: Buffer;
  pemPath: string;
}

describe('recipient-bound decryption', () => {
  const openssl = new OpensslWorkspace();
  let pki: AttestationPki;
  let untrusted: AttestationPki;
  let server: TestServer;
  let system: Api;
  let tenantId: string;
  let account: string;
  let admin: Actor;
  let user: Actor;
  let kms: KMSClient;
  let userAccessKey: AccessKey;
  let recipient: RecipientKey;
  const clients: KMSClient[] = [];

  function recipientKey(name: string, bits = 2048): RecipientKey {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const pemPath = openssl.write(`${name}.key`, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return { publicKey, privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }), pemPath };
  }

  /** The envelope opened twice, independently: by openssl and by the test's own DER reader. */
  function open(envelope: Buffer, key: RecipientKey = recipient): Buffer {
    const name = `resp-${randomBytes(4).toString('hex')}.der`;
    openssl.write(name, envelope);
    const byOpenssl = openssl.run(['cms', '-decrypt', '-inform', 'DER', '-in', name, '-inkey', key.pemPath]);
    expect(openEnvelopedData(envelope, key.privateKey).content).toEqual(byOpenssl);
    return byOpenssl;
  }

  const document = (pcrs = PCRS, key: RecipientKey = recipient, from = pki) =>
    attestationDocument(from, { publicKey: key.spki, pcrs });

  async function encrypt(api: Api, keyId: string, plaintext: Buffer): Promise<string> {
    const response = await api.post<{ ciphertext: string }>('/v1/encrypt', {
      keyId,
      plaintext: b64(plaintext),
    });
    expectSuccess(response);
    return response.body.ciphertext;
  }

  /** The audit records of one request, by its id, as a system auditor reads them. */
  async function auditOf(requestId: string): Promise<AuditRecord[]> {
    const page = await system.get<{ records: AuditRecord[] }>('/v1/logs?limit=1000');
    expectSuccess(page);
    return page.body.records.filter((record) => record.requestId === requestId);
  }

  /** A principal of type user (AWS policies name it user/<name>), with an API key and an AWS client. */
  async function awsUser(name: string, roles: string[]): Promise<{ id: string; api: Api; aws: KMSClient }> {
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

  beforeAll(async () => {
    pki = createAttestationPki(openssl.dir, 'trusted');
    untrusted = createAttestationPki(openssl.dir, 'untrusted');
    recipient = recipientKey('recipient');
    server = await startServer({ env: { KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS: pki.rootPemPath } });
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    admin = await createActor(system, tenantId, ['admin']);
    user = await createActor(system, tenantId, ['crypto-user']);
    userAccessKey = await accessKeyOf(system, user.principal.principalId);
    kms = clientFor(server, userAccessKey);
    clients.push(kms);
    const arn = (
      await kms.send(
        new EncryptCommand({ KeyId: (await createKey(admin.api)).keyId, Plaintext: Buffer.from('x') }),
      )
    ).KeyId!;
    account = arn.split(':')[4]!;
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await server?.dispose();
    openssl.dispose();
  });

  describe('REST POST /v1/decrypt with a recipient', () => {
    it('answers ciphertextForRecipient, which openssl cms -decrypt opens to the plaintext, and no plaintext', async () => {
      const key = await createKey(admin.api);
      const plaintext = Buffer.from('the enclave alone may read this');
      const ciphertext = await encrypt(user.api, key.keyId, plaintext);
      const response = await user.api.post<Record<string, unknown>>('/v1/decrypt', {
        ciphertext,
        recipient: { publicKey: b64(recipient.spki), keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' },
      });
      expectSuccess(response);
      expect(Object.keys(response.body).sort()).toEqual(['ciphertextForRecipient', 'keyId', 'keyVersion']);
      expect(response.body).toMatchObject({ keyId: key.keyId, keyVersion: 1 });
      expect(response.text).not.toContain(b64(plaintext));
      expect(open(unb64(response.body.ciphertextForRecipient as string))).toEqual(plaintext);

      // The audit record says the result went to a recipient, and holds nothing of the data.
      const [record, ...more] = await auditOf(response.headers.get('x-request-id')!);
      expect(more).toEqual([]);
      expect(record).toMatchObject({ action: 'DecryptForRecipient', keyId: key.keyId, result: 'allow' });
      expect(JSON.stringify(record)).not.toContain(b64(plaintext));
      // Without a recipient, the same ciphertext decrypts as ever, audited as a plain Decrypt.
      const plain = await user.api.post<{ plaintext: string }>('/v1/decrypt', { ciphertext });
      expect(unb64(plain.body.plaintext)).toEqual(plaintext);
      expect((await auditOf(plain.headers.get('x-request-id')!))[0]).toMatchObject({ action: 'Decrypt' });
    });

    it('takes an attestation document signed under the configured root as the recipient', async () => {
      const key = await createKey(admin.api);
      const plaintext = randomBytes(32);
      const response = await user.api.post<{ ciphertextForRecipient: string; plaintext?: string }>(
        '/v1/decrypt',
        {
          ciphertext: await encrypt(user.api, key.keyId, plaintext),
          recipient: { attestationDocument: b64(document()) },
        },
      );
      expectSuccess(response);
      expect(response.body.plaintext).toBeUndefined();
      expect(open(unb64(response.body.ciphertextForRecipient))).toEqual(plaintext);
    });

    it('refuses bad recipients with 400 ValidationError before touching the key', async () => {
      const key = await createKey(admin.api);
      const ciphertext = await encrypt(user.api, key.keyId, Buffer.from('not for them'));
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      const refusals: [unknown, string | undefined][] = [
        [{ publicKey: b64(ec) }, 'not an RSA key'],
        [{ publicKey: b64(small) }, '1024 bits'],
        [{ publicKey: b64('not a key at all') }, 'SubjectPublicKeyInfo'],
        [{ publicKey: '%%%not base64%%%' }, undefined],
        [{}, undefined],
        [{ publicKey: b64(recipient.spki), attestationDocument: b64(document()) }, 'exactly one'],
        [{ publicKey: b64(recipient.spki), keyEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }, undefined],
        [{ attestationDocument: b64(document(PCRS, recipient, untrusted)) }, 'configured attestation root'],
        [
          {
            attestationDocument: b64(
              attestationDocument(pki, { publicKey: recipient.spki, pcrs: PCRS, unsigned: true }),
            ),
          },
          'signature',
        ],
        [
          { attestationDocument: b64(attestationDocument(pki, { publicKey: null, pcrs: PCRS })) },
          'no public_key',
        ],
        [{ attestationDocument: b64(document(PCRS, recipientKey('small-attested', 1024))) }, '1024 bits'],
        [{ attestationDocument: b64(randomBytes(64)) }, 'not valid'],
      ];
      for (const [body, message] of refusals) {
        const response = await user.api.post('/v1/decrypt', { ciphertext, recipient: body });
        const error = expectError(response, 400, 'ValidationError');
        if (message) expect(error.message).toContain(message);
        expect(response.text).not.toContain(b64('not for them'));
        const [record] = await auditOf(response.headers.get('x-request-id')!);
        // Refused before the key was resolved: the record names no key.
        expect(record).toMatchObject({ result: 'error', errorCode: 'ValidationError' });
        expect(record!.keyId).toBeUndefined();
      }
      // Nothing was left half done: the key still decrypts.
      expect((await user.api.post('/v1/decrypt', { ciphertext })).status).toBe(200);
    });

    it('POST /v1/datakey with a recipient answers the data key sealed to it, beside its ciphertext', async () => {
      const key = await createKey(admin.api);
      const response = await user.api.post<Record<string, string>>('/v1/datakey', {
        keyId: key.keyId,
        keySpec: 'AES_256',
        recipient: { publicKey: b64(recipient.spki) },
      });
      expectSuccess(response);
      expect(Object.keys(response.body).sort()).toEqual([
        'ciphertext',
        'ciphertextForRecipient',
        'keyId',
        'keyVersion',
      ]);
      const dataKey = open(unb64(response.body.ciphertextForRecipient!));
      expect(dataKey).toHaveLength(32);
      const decrypted = await user.api.post<{ plaintext: string }>('/v1/decrypt', {
        ciphertext: response.body.ciphertext,
      });
      expect(unb64(decrypted.body.plaintext)).toEqual(dataKey);
      expect((await auditOf(response.headers.get('x-request-id')!))[0]).toMatchObject({
        action: 'GenerateDataKeyForRecipient',
      });
      expectError(
        await user.api.post('/v1/datakey', {
          keyId: key.keyId,
          withoutPlaintext: true,
          recipient: { publicKey: b64(recipient.spki) },
        }),
        400,
        'ValidationError',
      );
    });

    it('a key policy with recipientBound: false denies plain decryption and lets recipient-bound decryption through', async () => {
      const key = await createKey(admin.api);
      const plaintext = Buffer.from('only ever sealed');
      const ciphertext = await encrypt(user.api, key.keyId, plaintext);
      const put = await admin.api.put(`/v1/keys/${key.keyId}/policy`, {
        document: {
          statements: [
            statement('deny', user.principal.principalId, ['Decrypt'], {
              sid: 'recipient-only',
              conditions: { recipientBound: false },
            }),
          ],
        },
      });
      expectSuccess(put);
      const denied = expectError(await user.api.post('/v1/decrypt', { ciphertext }), 403, 'AccessDenied');
      expect(denied.message).toContain('recipient-only');
      const bound = await user.api.post<{ ciphertextForRecipient: string }>('/v1/decrypt', {
        ciphertext,
        recipient: { publicKey: b64(recipient.spki) },
      });
      expectSuccess(bound);
      expect(open(unb64(bound.body.ciphertextForRecipient))).toEqual(plaintext);
    });
  });

  describe('the SDK and the OpenAPI document', () => {
    it('KeyhavenClient.decryptForRecipient answers the envelope, and a bad recipient as KeyhavenError', async () => {
      const key = await createKey(admin.api);
      const client = new KeyhavenClient({ endpoint: server.url, token: server.token });
      const plaintext = Buffer.from('through the SDK');
      const { ciphertext } = await client.encrypt({ keyId: key.keyId, plaintext });
      const bound = await client.decryptForRecipient({
        ciphertext,
        recipient: { publicKey: recipient.spki },
      });
      expect(bound).toMatchObject({ keyId: key.keyId, keyVersion: 1 });
      expect(open(bound.ciphertextForRecipient)).toEqual(plaintext);
      const attested = await client.decryptForRecipient({
        ciphertext,
        recipient: { attestationDocument: document() },
      });
      expect(open(attested.ciphertextForRecipient)).toEqual(plaintext);
      const error = await client
        .decryptForRecipient({ ciphertext, recipient: { publicKey: Buffer.from('garbage') } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyhavenError);
      expect(error).toMatchObject({ code: 'ValidationError', status: 400 });
    });

    it('KeyhavenClient.decryptSealed decrypts through its own ephemeral key: the reply carries no plaintext', async () => {
      const key = await createKey(admin.api);
      const client = new KeyhavenClient({ endpoint: server.url, token: server.token });
      const plaintext = Buffer.from('never on the wire in the clear');
      const { ciphertext } = await client.encrypt({ keyId: key.keyId, plaintext });
      for (let i = 0; i < 2; i++) {
        expect(await client.decryptSealed({ ciphertext })).toMatchObject({ keyId: key.keyId, plaintext });
      }
      const records = (await system.get<{ records: AuditRecord[] }>(`/v1/logs?limit=1000&keyId=${key.keyId}`))
        .body.records;
      expect(records.filter((r) => r.action === 'DecryptForRecipient')).toHaveLength(2);
      expect(records.filter((r) => r.action === 'Decrypt')).toHaveLength(0);
    });

    it('/openapi.json declares the recipient member and ciphertextForRecipient on /v1/decrypt', async () => {
      const spec = await system.get<{
        paths: Record<string, { post: { requestBody: unknown; responses: unknown } }>;
      }>('/openapi.json', { token: null });
      const decrypt = JSON.stringify(spec.body.paths['/v1/decrypt']!.post);
      expect(decrypt).toContain('"recipient"');
      expect(decrypt).toContain('"attestationDocument"');
      expect(decrypt).toContain('"ciphertextForRecipient"');
    });
  });

  describe('AWS Decrypt, GenerateDataKey and GenerateRandom with Recipient', () => {
    const awsRecipient = (doc = document()) => ({
      KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const,
      AttestationDocument: doc,
    });

    it('Decrypt answers CiphertextForRecipient and no Plaintext', async () => {
      const key = await createKey(admin.api);
      const plaintext = Buffer.from('sealed to the enclave over the AWS dialect');
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext }),
      );
      const answer = await kms.send(new DecryptCommand({ CiphertextBlob, Recipient: awsRecipient() }));
      expect(answer.Plaintext).toBeUndefined();
      expect(answer.KeyId).toBe(`arn:aws:kms:us-east-1:${account}:key/${key.keyId}`);
      expect(answer.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      expect(open(Buffer.from(answer.CiphertextForRecipient!))).toEqual(plaintext);
    });

    it('Decrypt of an RSAES-OAEP ciphertext under an RSA key seals its plaintext too', async () => {
      const key = await createKey(admin.api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
      const plaintext = Buffer.from('asymmetric, then sealed');
      const EncryptionAlgorithm = 'RSAES_OAEP_SHA_256' as const;
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext, EncryptionAlgorithm }),
      );
      const answer = await kms.send(
        new DecryptCommand({
          KeyId: key.keyId,
          CiphertextBlob,
          EncryptionAlgorithm,
          Recipient: awsRecipient(),
        }),
      );
      expect(answer.Plaintext).toBeUndefined();
      expect(answer.EncryptionAlgorithm).toBe(EncryptionAlgorithm);
      expect(open(Buffer.from(answer.CiphertextForRecipient!))).toEqual(plaintext);
    });

    it('GenerateDataKey seals the data key to the recipient; CiphertextBlob decrypts to the same key', async () => {
      const key = await createKey(admin.api);
      const answer = await kms.send(
        new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256', Recipient: awsRecipient() }),
      );
      expect(answer.Plaintext).toBeUndefined();
      const dataKey = open(Buffer.from(answer.CiphertextForRecipient!));
      expect(dataKey).toHaveLength(32);
      const again = await kms.send(new DecryptCommand({ CiphertextBlob: answer.CiphertextBlob }));
      expect(Buffer.from(again.Plaintext!)).toEqual(dataKey);
    });

    it('GenerateDataKeyPair seals the private key (PKCS#8) to the recipient, beside its ciphertext and public key', async () => {
      const key = await createKey(admin.api);
      const answer = await kms.send(
        new GenerateDataKeyPairCommand({
          KeyId: key.keyId,
          KeyPairSpec: 'ECC_NIST_P256',
          Recipient: awsRecipient(),
        }),
      );
      expect(answer.PrivateKeyPlaintext).toBeUndefined();
      const privateKey = createPrivateKey({
        key: open(Buffer.from(answer.CiphertextForRecipient!)),
        format: 'der',
        type: 'pkcs8',
      });
      expect(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })).toEqual(
        Buffer.from(answer.PublicKey!),
      );
      const again = await kms.send(new DecryptCommand({ CiphertextBlob: answer.PrivateKeyCiphertextBlob }));
      expect(
        createPrivateKey({ key: Buffer.from(again.Plaintext!), format: 'der', type: 'pkcs8' }).equals(
          privateKey,
        ),
      ).toBe(true);
    });

    it('Recipient on an action that has no such member (Encrypt) is UnsupportedOperationException', async () => {
      const key = await createKey(admin.api);
      const answer = await signedFetch(
        server,
        userAccessKey,
        'Encrypt',
        JSON.stringify({
          KeyId: key.keyId,
          Plaintext: b64('x'),
          Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: b64(document()) },
        }),
      );
      expect(answer).toMatchObject({ status: 400, body: { __type: 'UnsupportedOperationException' } });
    });

    it('GenerateRandom seals the random bytes to the recipient', async () => {
      const answer = await kms.send(
        new GenerateRandomCommand({ NumberOfBytes: 48, Recipient: awsRecipient() }),
      );
      expect(answer.Plaintext).toBeUndefined();
      expect(open(Buffer.from(answer.CiphertextForRecipient!))).toHaveLength(48);
    });

    it('refuses an attestation document of an untrusted root, or tampered, with ValidationException', async () => {
      const key = await createKey(admin.api);
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') }),
      );
      const tampered = attestationDocument(pki, {
        publicKey: recipient.spki,
        pcrs: PCRS,
        tamper: (payload) => {
          const changed = Buffer.from(payload);
          const at = changed.indexOf(IMAGE);
          changed[at] = changed[at]! ^ 1;
          return changed;
        },
      });
      for (const doc of [document(PCRS, recipient, untrusted), tampered]) {
        expect(
          await failure(kms.send(new DecryptCommand({ CiphertextBlob, Recipient: awsRecipient(doc) }))),
        ).toMatchObject({
          name: 'ValidationException',
          status: 400,
        });
      }
    });

    it('key policies: Bool keyhaven:RecipientBound and kms:RecipientAttestation:ImageSha384 / PCR<n> decide', async () => {
      const name = `enclave-${process.pid}`;
      const enclave = await awsUser(name, []);
      const key = await createKey(admin.api);
      const plaintext = Buffer.from('image-bound secret');
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: key.keyId, Plaintext: plaintext }),
      );
      const adminAws = clientFor(server, await accessKeyOf(system, admin.principal.principalId));
      clients.push(adminAws);
      const principal = { AWS: `arn:aws:iam::${account}:user/${name}` };
      const policy = {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Enable IAM User Permissions',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${account}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
          {
            Sid: 'AttestedImageOnly',
            Effect: 'Allow',
            Principal: principal,
            Action: 'kms:Decrypt',
            Resource: '*',
            Condition: {
              StringEqualsIgnoreCase: {
                'kms:RecipientAttestation:ImageSha384': IMAGE.toString('hex').toUpperCase(),
                'kms:RecipientAttestation:PCR8': PCRS.get(8)!.toString('hex'),
              },
            },
          },
          {
            Sid: 'NeverInTheClear',
            Effect: 'Deny',
            Principal: principal,
            Action: 'kms:Decrypt',
            Resource: '*',
            Condition: { Bool: { 'keyhaven:RecipientBound': 'false' } },
          },
        ],
      };
      await adminAws.send(new PutKeyPolicyCommand({ KeyId: key.keyId, Policy: JSON.stringify(policy) }));

      const decrypt = (Recipient?: ReturnType<typeof awsRecipient>) =>
        enclave.aws.send(new DecryptCommand({ CiphertextBlob, ...(Recipient ? { Recipient } : {}) }));
      // Plain: denied by NeverInTheClear (explicitly, not by the default deny).
      const plain = await failure(decrypt());
      expect(plain).toMatchObject({ name: 'AccessDeniedException' });
      expect(plain.message).toContain('NeverInTheClear');
      // Attested with the right image and PCR8: allowed.
      const allowed = await decrypt(awsRecipient());
      expect(open(Buffer.from(allowed.CiphertextForRecipient!))).toEqual(plaintext);
      // Another image, or PCR8 missing: not allowed.
      const otherImage = new Map(PCRS).set(0, OTHER_IMAGE);
      expect(await failure(decrypt(awsRecipient(document(otherImage))))).toMatchObject({
        name: 'AccessDeniedException',
      });
      const noPcr8 = new Map(PCRS);
      noPcr8.delete(8);
      expect(await failure(decrypt(awsRecipient(document(noPcr8))))).toMatchObject({
        name: 'AccessDeniedException',
      });
      // A plain public key is recipient-bound but attests no image: not allowed either.
      const viaRest = await enclave.api.post('/v1/decrypt', {
        ciphertext: CiphertextBlob ? b64(Buffer.from(CiphertextBlob)) : '',
        recipient: { publicKey: b64(recipient.spki) },
      });
      expectError(viaRest, 403, 'AccessDenied');
    });

    it('refuses a policy naming an unknown PCR, or keyhaven:RecipientBound with another operator', async () => {
      const key = await createKey(admin.api);
      const adminAws = clientFor(server, await accessKeyOf(system, admin.principal.principalId));
      clients.push(adminAws);
      const root = {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      };
      for (const Condition of [
        { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR32': 'aa'.repeat(48) } },
        { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': 'not hex' } },
        { StringEquals: { 'keyhaven:RecipientBound': 'true' } },
      ]) {
        const Policy = JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            root,
            { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition },
          ],
        });
        expect(
          await failure(adminAws.send(new PutKeyPolicyCommand({ KeyId: key.keyId, Policy }))),
        ).toMatchObject({
          name: 'MalformedPolicyDocumentException',
        });
      }
    });
  });
});

describe('recipient-bound decryption without configured attestation roots', () => {
  let server: TestServer;
  afterAll(async () => server?.dispose());

  it('refuses attestation documents with a clear 400, and still takes public keys', async () => {
    const openssl = new OpensslWorkspace();
    try {
      const pki = createAttestationPki(openssl.dir, 'lonely');
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      server = await startServer();
      const api = new Api(server.url, server.token);
      const key = await createKey(api);
      const ciphertext = (
        await api.post<{ ciphertext: string }>('/v1/encrypt', { keyId: key.keyId, plaintext: b64('hi') })
      ).body.ciphertext;
      const refused = expectError(
        await api.post('/v1/decrypt', {
          ciphertext,
          recipient: { attestationDocument: b64(attestationDocument(pki, { publicKey: spki, pcrs: PCRS })) },
        }),
        400,
        'ValidationError',
      );
      expect(refused.message).toContain('attestationRoots');
      const bound = await api.post<{ ciphertextForRecipient: string }>('/v1/decrypt', {
        ciphertext,
        recipient: { publicKey: b64(spki) },
      });
      expectSuccess(bound);
      expect(openEnvelopedData(unb64(bound.body.ciphertextForRecipient), privateKey).content.toString()).toBe(
        'hi',
      );
    } finally {
      openssl.dispose();
    }
  });
});
