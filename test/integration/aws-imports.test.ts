// Importing key material through @aws-sdk/client-kms, over real HTTP to a real server process: the
// client wraps its material itself as AWS's "Importing key material" guide tells customers to
// (node:crypto RSA-OAEP and AES-KWP, and the openssl commands of that guide), and the server's use of
// the imported material is checked against node:crypto and against REST.
import {
  constants,
  createCipheriv,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify as nodeVerify,
} from 'node:crypto';
import { join } from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type CreateKeyCommandInput,
  type GetParametersForImportCommandInput,
  type GetParametersForImportCommandOutput,
  type ImportKeyMaterialCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessKeyOf, clientFor, failure, signedFetch, type AccessKey } from './aws-fixtures.js';
import { HELPER_WRAPPING_KEY_SPEC } from './byok.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError, unb64 } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { OpensslWorkspace } from './openssl.js';
import { serverErrorLines } from './suite-server.js';

type WrappingAlgorithm =
  'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';
type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

const DAY_MS = 24 * 60 * 60 * 1000;

/** AWS's guide: RSAES_OAEP_* encrypt the material; RSA_AES_KEY_WRAP_* an AES-256 key, then AES-KWP. */
function wrapMaterial(publicKeyDer: Uint8Array, algorithm: WrappingAlgorithm, material: Buffer): Buffer {
  const oaepHash = algorithm.endsWith('SHA_1') ? 'sha1' : 'sha256';
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const oaep = (data: Buffer) =>
    publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, data);
  if (algorithm.startsWith('RSAES_OAEP')) return oaep(material);
  const aesKey = randomBytes(32);
  const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([oaep(aesKey), kwp.update(material), kwp.final()]);
}

describe('AWS KMS dialect: importing key material', () => {
  let server: TestServer;
  let system: Api;
  let tenantAdmin: Actor;
  let admin: KMSClient;
  let cryptoUser: KMSClient;
  let adminKeys: AccessKey;

  beforeAll(async () => {
    server = await startServer();
    system = new Api(server.url, server.token);
    const { tenantId } = await createTenant(system);
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    const user = await createActor(system, tenantId, ['crypto-user']);
    adminKeys = await accessKeyOf(system, tenantAdmin.principal.principalId);
    admin = clientFor(server, adminKeys);
    cryptoUser = clientFor(server, await accessKeyOf(system, user.principal.principalId));
  });
  afterAll(async () => {
    admin?.destroy();
    cryptoUser?.destroy();
    await server?.dispose();
  });

  const createExternalKey = async (input: { KeySpec?: string; KeyUsage?: string } = {}) => {
    const created = await admin.send(
      new CreateKeyCommand({ Origin: 'EXTERNAL', ...input } as CreateKeyCommandInput),
    );
    return created.KeyMetadata!;
  };

  const parametersFor = (
    KeyId: string,
    WrappingAlgorithm: WrappingAlgorithm,
    WrappingKeySpec: WrappingKeySpec,
  ) => admin.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm, WrappingKeySpec }));

  const importInto = (
    KeyId: string,
    parameters: GetParametersForImportCommandOutput,
    EncryptedKeyMaterial: Uint8Array,
    extra: Partial<ImportKeyMaterialCommandInput> = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
  ) =>
    admin.send(
      new ImportKeyMaterialCommand({
        KeyId,
        ImportToken: parameters.ImportToken,
        EncryptedKeyMaterial,
        ...extra,
      }),
    );

  // Sign and GenerateMac belong to another group of AWS actions: the imported material's use is
  // checked over REST, which calls the same crypto service.
  const signOverRest = (keyId: string, message: Buffer, algorithm: string) =>
    tenantAdmin.api.ok<{ signature: string }>('POST', '/v1/sign', {
      keyId,
      message: b64(message),
      algorithm,
    });
  const macOverRest = (keyId: string, message: Buffer) =>
    tenantAdmin.api.ok<{ mac: string }>('POST', '/v1/mac', {
      keyId,
      message: b64(message),
      algorithm: 'HMAC_SHA_256',
    });

  /**
   * GetParametersForImport, wrap, ImportKeyMaterial (the material does not expire). The wrapping
   * key is RSA_2048 unless a test names another (as byok.ts's helpers do): each token costs the
   * server a key generation, an RSA_3072 one about twice as long, and the tests of every wrapping
   * key spec name theirs.
   */
  async function importMaterial(
    KeyId: string,
    material: Buffer,
    algorithm: WrappingAlgorithm = 'RSAES_OAEP_SHA_256',
    spec: WrappingKeySpec = HELPER_WRAPPING_KEY_SPEC,
  ) {
    const parameters = await parametersFor(KeyId, algorithm, spec);
    return importInto(KeyId, parameters, wrapMaterial(parameters.PublicKey!, algorithm, material));
  }

  describe('GetParametersForImport and ImportKeyMaterial, every wrapping algorithm', () => {
    it.each([
      ['RSAES_OAEP_SHA_1', 'RSA_2048', 2048],
      ['RSAES_OAEP_SHA_256', 'RSA_3072', 3072],
      ['RSA_AES_KEY_WRAP_SHA_1', 'RSA_4096', 4096],
      ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048', 2048],
    ] as const)(
      '%s with an %s wrapping key: SYMMETRIC_DEFAULT material encrypts over AWS and decrypts over REST, and back',
      async (algorithm, spec, bits) => {
        const key = await createExternalKey();
        expect(key).toMatchObject({ KeyState: 'PendingImport', Origin: 'EXTERNAL', Enabled: false });
        const parameters = await parametersFor(key.KeyId!, algorithm, spec);
        expect(parameters.KeyId).toBe(key.Arn);
        const wrappingKey = createPublicKey({
          key: Buffer.from(parameters.PublicKey!),
          format: 'der',
          type: 'spki',
        });
        expect(wrappingKey.asymmetricKeyDetails?.modulusLength).toBe(bits);
        // AWS: the public key and token are valid for 24 hours.
        expect(Math.abs(parameters.ParametersValidTo!.getTime() - (Date.now() + DAY_MS))).toBeLessThan(
          60_000,
        );

        const imported = await importInto(
          key.KeyId!,
          parameters,
          wrapMaterial(parameters.PublicKey!, algorithm, randomBytes(32)),
        );
        expect(imported.KeyId).toBe(key.Arn);
        expect(imported.KeyMaterialId).toMatch(/^[a-f0-9]{64}$/);

        const described = (await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
        expect(described).toMatchObject({
          KeyState: 'Enabled',
          Origin: 'EXTERNAL',
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        });
        expect(described.ValidTo).toBeUndefined();

        const plaintext = Buffer.from(`sealed under material wrapped with ${algorithm}`);
        const sealed = await cryptoUser.send(
          new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: { a: 'b' } }),
        );
        const overRest = await tenantAdmin.api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
          ciphertext: b64(Buffer.from(sealed.CiphertextBlob!)),
          context: { a: 'b' },
        });
        expect(unb64(overRest.plaintext)).toEqual(plaintext);
        const restSealed = await tenantAdmin.api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
          keyId: key.KeyId,
          plaintext: b64(plaintext),
        });
        const opened = await cryptoUser.send(
          new DecryptCommand({ CiphertextBlob: unb64(restSealed.ciphertext) }),
        );
        expect(Buffer.from(opened.Plaintext!)).toEqual(plaintext);
        expect(opened.KeyId).toBe(key.Arn);
      },
    );

    it('HMAC_256 material: its MAC (over REST) equals node:crypto HMAC-SHA-256 of the same material', async () => {
      const material = randomBytes(32);
      const key = await createExternalKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
      await importMaterial(key.KeyId!, material, 'RSAES_OAEP_SHA_1', 'RSA_2048');
      const message = Buffer.from('mac me independently');
      const { mac } = await macOverRest(key.KeyId!, message);
      expect(unb64(mac)).toEqual(createHmac('sha256', material).update(message).digest());
    });

    it('an RSA_2048 PKCS#8 private key with RSA_AES_KEY_WRAP_SHA_256: its signatures verify with node:crypto; RSAES_OAEP cannot carry it', async () => {
      const pair = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
        publicKeyEncoding: { type: 'spki', format: 'der' },
      });
      const key = await createExternalKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
      // AWS: "To import an RSA private key, you must use an RSA_AES wrapping algorithm": a PKCS#8
      // RSA key does not fit one OAEP block, and the client cannot even wrap it.
      const oaep = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      expect(() => wrapMaterial(oaep.PublicKey!, 'RSAES_OAEP_SHA_256', pair.privateKey)).toThrow();
      await importMaterial(key.KeyId!, pair.privateKey, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_3072');
      const message = Buffer.from('signed by an imported RSA key');
      const { signature } = await signOverRest(key.KeyId!, message, 'RSASSA_PSS_SHA_256');
      const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
      expect(
        nodeVerify(
          'sha256',
          message,
          { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          unb64(signature),
        ),
      ).toBe(true);
    });

    it("an ECC_NIST_P256 private key wrapped by the openssl commands of AWS's guide (RSAES_OAEP_SHA_256, then RSA_AES_KEY_WRAP_SHA_256)", async () => {
      const openssl = new OpensslWorkspace();
      try {
        const pair = generateKeyPairSync('ec', {
          namedCurve: 'prime256v1',
          privateKeyEncoding: { type: 'pkcs8', format: 'der' },
          publicKeyEncoding: { type: 'spki', format: 'der' },
        });
        const material = openssl.write('PrivateKey.der', pair.privateKey);
        const oaepArgs = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256'];
        const mgfArgs = ['-pkeyopt', 'rsa_mgf1_md:sha256'];

        // RSAES_OAEP_SHA_256: the material itself, under the wrapping public key (DER).
        const first = await createExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
        const oaep = await parametersFor(first.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_3072');
        const wrappingKey = openssl.write('WrappingPublicKey.der', Buffer.from(oaep.PublicKey!));
        openssl.run([
          'pkeyutl', '-encrypt', '-in', material, '-out', 'EncryptedKeyMaterial.bin',
          '-inkey', wrappingKey, '-keyform', 'DER', '-pubin', ...oaepArgs, ...mgfArgs,
        ]); // prettier-ignore
        await importInto(first.KeyId!, oaep, openssl.read('EncryptedKeyMaterial.bin'));

        // RSA_AES_KEY_WRAP_SHA_256: a random AES-256 key wraps the material (AES-KWP, RFC 5649),
        // the wrapping public key encrypts the AES key, and the two are concatenated.
        const second = await createExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
        const kw = await parametersFor(second.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096');
        const kwWrappingKey = openssl.write('WrappingPublicKey4096.der', Buffer.from(kw.PublicKey!));
        openssl.run(['rand', '-out', 'aes-key.bin', '32']);
        const aesKeyHex = openssl.read('aes-key.bin').toString('hex');
        openssl.run([
          'enc', '-id-aes256-wrap-pad', '-K', aesKeyHex, '-iv', 'A65959A6',
          '-in', material, '-out', 'key-material-wrapped.bin',
        ]); // prettier-ignore
        openssl.run([
          'pkeyutl', '-encrypt', '-in', 'aes-key.bin', '-out', 'aes-key-wrapped.bin',
          '-inkey', kwWrappingKey, '-keyform', 'DER', '-pubin', ...oaepArgs, ...mgfArgs,
        ]); // prettier-ignore
        const encrypted = Buffer.concat([
          openssl.read('aes-key-wrapped.bin'),
          openssl.read('key-material-wrapped.bin'),
        ]);
        await importInto(second.KeyId!, kw, encrypted);

        const message = Buffer.from('signed by an openssl-wrapped P-256 key');
        const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
        for (const key of [first, second]) {
          const { signature } = await signOverRest(key.KeyId!, message, 'ECDSA_SHA_256');
          expect(nodeVerify('sha256', message, publicKey, unb64(signature))).toBe(true);
        }
      } finally {
        openssl.dispose();
      }
    });

    it('KEY_MATERIAL_EXPIRES (the default) with ValidTo: DescribeKey shows both', async () => {
      const key = await createExternalKey();
      const validTo = new Date(Math.floor((Date.now() + 30 * DAY_MS) / 1000) * 1000);
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      await importInto(
        key.KeyId!,
        parameters,
        wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32)),
        {
          ValidTo: validTo,
        },
      );
      const described = (await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
      expect(described).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
      expect(described.ValidTo).toEqual(validTo);
    });
  });

  describe("refusals, with AWS's exception types", () => {
    it('a spent token, and a token of another key, are InvalidImportTokenException; the other key keeps its token', async () => {
      const [a, b] = [await createExternalKey(), await createExternalKey()];
      const parameters = await parametersFor(a.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const wrapped = wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32));
      const other = await failure(importInto(b.KeyId!, parameters, wrapped));
      expect(other).toMatchObject({ name: 'InvalidImportTokenException', status: 400 });
      await importInto(a.KeyId!, parameters, wrapped);
      // Spent, even for a key back in PendingImport.
      await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: a.KeyId }));
      const reused = await failure(importInto(a.KeyId!, parameters, wrapped));
      expect(reused.name).toBe('InvalidImportTokenException');
    });

    it('an expired token is ExpiredImportTokenException', async () => {
      const key = await createExternalKey();
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const id = Buffer.from(parameters.ImportToken!).toString('utf8');
      // Ages the token in the server's own database: its 24 hours are over.
      const db = new Database(join(server.dataDir, 'keyhaven.db'));
      try {
        expect(
          db.prepare('update import_tokens set expires_at = ? where id = ?').run(Date.now() - 1000, id)
            .changes,
        ).toBe(1);
      } finally {
        db.close();
      }
      const expired = await failure(
        importInto(
          key.KeyId!,
          parameters,
          wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32)),
        ),
      );
      expect(expired).toMatchObject({ name: 'ExpiredImportTokenException', status: 400 });
    });

    it('material wrapped with another algorithm than the token was issued for is InvalidCiphertextException', async () => {
      const key = await createExternalKey();
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const wrongHash = wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_1', randomBytes(32));
      expect((await failure(importInto(key.KeyId!, parameters, wrongHash))).name).toBe(
        'InvalidCiphertextException',
      );
      const kw = await parametersFor(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048');
      const oaepOnly = wrapMaterial(kw.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32));
      expect((await failure(importInto(key.KeyId!, kw, oaepOnly))).name).toBe('InvalidCiphertextException');
      const described = await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(described.KeyMetadata!.KeyState).toBe('PendingImport');
    });

    it('ExpirationModel and ValidTo as AWS constrains them: ValidationException, and the token is not spent', async () => {
      const key = await createExternalKey();
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const wrapped = wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32));
      const cases: Partial<ImportKeyMaterialCommandInput>[] = [
        {},
        { ExpirationModel: 'KEY_MATERIAL_EXPIRES' },
        { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: new Date(Date.now() + DAY_MS) },
        { ValidTo: new Date(Date.now() - 60_000) },
        { ValidTo: new Date(Date.now() + 366 * DAY_MS) },
      ];
      for (const extra of cases) {
        const refused = await failure(importInto(key.KeyId!, parameters, wrapped, extra));
        expect(refused.name, JSON.stringify(extra)).toBe('ValidationException');
      }
      await importInto(key.KeyId!, parameters, wrapped, { ValidTo: new Date(Date.now() + 364 * DAY_MS) });
    });

    it('RSAES_PKCS1_V1_5 is refused (ValidationException), SM2 (UnsupportedOperationException), and both members are required', async () => {
      const key = await createExternalKey();
      const send = (input: Record<string, string>) =>
        failure(
          admin.send(
            new GetParametersForImportCommand({
              KeyId: key.KeyId,
              ...input,
            } as GetParametersForImportCommandInput),
          ),
        );
      expect((await send({ WrappingAlgorithm: 'RSAES_PKCS1_V1_5', WrappingKeySpec: 'RSA_2048' })).name).toBe(
        'ValidationException',
      );
      expect((await send({ WrappingAlgorithm: 'SM2PKE', WrappingKeySpec: 'SM2' })).name).toBe(
        'UnsupportedOperationException',
      );
      expect((await send({ WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'SM2' })).name).toBe(
        'UnsupportedOperationException',
      );
      expect((await send({ WrappingKeySpec: 'RSA_2048' })).name).toBe('ValidationException');
      expect(
        (await send({ WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_1024' })).name,
      ).toBe('ValidationException');
    });

    it('an AWS_KMS-origin key answers UnsupportedOperationException to all three actions', async () => {
      const key = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!;
      const parameters = await failure(parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048'));
      expect(parameters.name).toBe('UnsupportedOperationException');
      const imported = await failure(
        importInto(key.KeyId!, { ImportToken: Buffer.from('x'), $metadata: {} }, randomBytes(256)),
      );
      expect(imported.name).toBe('UnsupportedOperationException');
      const deleted = await failure(admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId })));
      expect(deleted.name).toBe('UnsupportedOperationException');
    });

    it('KeyMaterialDescription is refused (UnsupportedOperationException) rather than dropped', async () => {
      const key = await createExternalKey();
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const wrapped = wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', randomBytes(32));
      const refused = await failure(
        importInto(key.KeyId!, parameters, wrapped, {
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          KeyMaterialDescription: 'q3 material',
        }),
      );
      expect(refused.name).toBe('UnsupportedOperationException');
    });

    it('a crypto-user may not delete imported material (AccessDeniedException)', async () => {
      const key = await createExternalKey();
      await importMaterial(key.KeyId!, randomBytes(32));
      const denied = await failure(
        cryptoUser.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId })),
      );
      expect(denied.name).toBe('AccessDeniedException');
    });
  });

  describe('DeleteImportedKeyMaterial and re-import', () => {
    it('makes the key PendingImport (Encrypt and Decrypt: KMSInvalidStateException); only the same material restores it, and old ciphertexts decrypt again', async () => {
      const material = randomBytes(32);
      const key = await createExternalKey();
      const first = await importMaterial(key.KeyId!, material, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const sealed = await admin.send(
        new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('kept') }),
      );

      const deleted = await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.Arn }));
      expect(deleted).toMatchObject({ KeyId: key.Arn, KeyMaterialId: first.KeyMaterialId });
      const described = await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
      expect(described.KeyMetadata).toMatchObject({ KeyState: 'PendingImport', Enabled: false });
      const encrypt = await failure(
        admin.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })),
      );
      expect(encrypt.name).toBe('KMSInvalidStateException');
      const decrypt = await failure(
        admin.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob })),
      );
      expect(decrypt.name).toBe('KMSInvalidStateException');
      // Again: nothing left to delete, the key stays as it is.
      await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));

      // Other material: IncorrectKeyMaterialException, the key stays PendingImport.
      const other = await failure(importMaterial(key.KeyId!, randomBytes(32)));
      expect(other).toMatchObject({ name: 'IncorrectKeyMaterialException', status: 400 });
      // NEW_KEY_MATERIAL into a key that had material would be a rotation: not for imported keys.
      const fresh = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const asNew = await failure(
        importInto(key.KeyId!, fresh, wrapMaterial(fresh.PublicKey!, 'RSAES_OAEP_SHA_256', material), {
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          ImportType: 'NEW_KEY_MATERIAL',
        }),
      );
      expect(asNew.name).toBe('UnsupportedOperationException');
      expect((await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState).toBe(
        'PendingImport',
      );

      // The same material, under another wrapping algorithm and key size, naming its KeyMaterialId.
      const again = await parametersFor(key.KeyId!, 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_4096');
      const restored = await importInto(
        key.KeyId!,
        again,
        wrapMaterial(again.PublicKey!, 'RSA_AES_KEY_WRAP_SHA_1', material),
        {
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
          ImportType: 'EXISTING_KEY_MATERIAL',
          KeyMaterialId: first.KeyMaterialId,
        },
      );
      expect(restored.KeyMaterialId).toBe(first.KeyMaterialId);
      const opened = await admin.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('kept');
      await admin.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('new') }));
    });

    it('a KeyMaterialId the key does not hold: NotFoundException on delete, IncorrectKeyMaterialException on import', async () => {
      const material = randomBytes(32);
      const key = await createExternalKey();
      await importMaterial(key.KeyId!, material);
      const wrongId = 'ab'.repeat(32);
      const notHeld = await failure(
        admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId, KeyMaterialId: wrongId })),
      );
      expect(notHeld.name).toBe('NotFoundException');
      const badPattern = await failure(
        admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId, KeyMaterialId: 'XYZ' })),
      );
      expect(badPattern.name).toBe('ValidationException');
      expect((await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState).toBe(
        'Enabled',
      );
      await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
      const parameters = await parametersFor(key.KeyId!, 'RSAES_OAEP_SHA_256', 'RSA_2048');
      const refused = await failure(
        importInto(
          key.KeyId!,
          parameters,
          wrapMaterial(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', material),
          {
            ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
            KeyMaterialId: wrongId,
          },
        ),
      );
      expect(refused.name).toBe('IncorrectKeyMaterialException');
    });

    it('a key whose material was deleted comes back from a cancelled deletion as PendingImport (AWS), not Disabled', async () => {
      const material = randomBytes(32);
      const key = await createExternalKey();
      await importMaterial(key.KeyId!, material);
      await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
      await tenantAdmin.api.ok('DELETE', `/v1/keys/${key.KeyId}?pendingWindowDays=7`);
      const cancelled = await tenantAdmin.api.ok<{ key: { state: string; currentVersion: number } }>(
        'POST',
        `/v1/keys/${key.KeyId}/cancel-deletion`,
      );
      expect(cancelled.key).toMatchObject({ state: 'PendingImport', currentVersion: 0 });
      expectError(await tenantAdmin.api.post(`/v1/keys/${key.KeyId}/enable`), 409, 'Conflict');
      await importMaterial(key.KeyId!, material);
      expect((await admin.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState).toBe(
        'Enabled',
      );
    });

    it('an asymmetric key re-imports only its own private key', async () => {
      const ec = (curve: string) =>
        generateKeyPairSync('ec', {
          namedCurve: curve,
          privateKeyEncoding: { type: 'pkcs8', format: 'der' },
          publicKeyEncoding: { type: 'spki', format: 'der' },
        }).privateKey;
      const own = ec('prime256v1');
      const key = await createExternalKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
      await importMaterial(key.KeyId!, own, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048');
      await admin.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.KeyId }));
      const sign = () =>
        tenantAdmin.api.post<{ signature: string }>('/v1/sign', {
          keyId: key.KeyId,
          message: b64('m'),
          algorithm: 'ECDSA_SHA_256',
        });
      expectError(await sign(), 409, 'Conflict');
      expect(
        (await failure(importMaterial(key.KeyId!, ec('prime256v1'), 'RSA_AES_KEY_WRAP_SHA_256'))).name,
      ).toBe('IncorrectKeyMaterialException');
      await importMaterial(key.KeyId!, own, 'RSAES_OAEP_SHA_256', 'RSA_3072');
      expect((await sign()).status).toBe(200);
    });
  });

  describe('over REST, the same service', () => {
    it('DELETE /v1/keys/{keyId}/material, then a re-import over REST; other material answers 400 ValidationError', async () => {
      const material = randomBytes(32);
      const key = await createExternalKey();
      const imported = await importMaterial(key.KeyId!, material);
      const sealed = await tenantAdmin.api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
        keyId: key.KeyId,
        plaintext: b64('rest'),
      });
      const deleted = await tenantAdmin.api.ok<{ key: { state: string }; keyMaterialId: string }>(
        'DELETE',
        `/v1/keys/${key.KeyId}/material`,
      );
      expect(deleted).toMatchObject({
        key: { state: 'PendingImport' },
        keyMaterialId: imported.KeyMaterialId,
      });
      expectError(
        await tenantAdmin.api.post('/v1/decrypt', { ciphertext: sealed.ciphertext }),
        409,
        'Conflict',
      );

      const restImport = async (bytes: Buffer) => {
        const parameters = await tenantAdmin.api.ok<{ importToken: string; wrappingPublicKey: string }>(
          'GET',
          `/v1/keys/import-parameters?keyId=${key.KeyId}&wrappingAlgorithm=RSAES_OAEP_SHA_1&wrappingKeySpec=RSA_2048`,
        );
        const wrapped = publicEncrypt(
          { key: parameters.wrappingPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
          bytes,
        );
        return tenantAdmin.api.post<{ keyMaterialId: string }>(`/v1/keys/${key.KeyId}/import`, {
          importToken: parameters.importToken,
          encryptedKeyMaterial: b64(wrapped),
        });
      };
      expectError(await restImport(randomBytes(32)), 400, 'ValidationError');
      const again = await restImport(material);
      expect(again.status, again.text).toBe(200);
      expect(again.body.keyMaterialId).toBe(imported.KeyMaterialId);
      const opened = await tenantAdmin.api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
        ciphertext: sealed.ciphertext,
      });
      expect(unb64(opened.plaintext).toString()).toBe('rest');
    });

    it('a REST token bound to an algorithm refuses another one (400 ValidationError); a KEYHAVEN key refuses DELETE material (409)', async () => {
      const key = await createExternalKey();
      const parameters = await tenantAdmin.api.ok<{ importToken: string; wrappingAlgorithm: string }>(
        'GET',
        `/v1/keys/import-parameters?keyId=${key.KeyId}&wrappingAlgorithm=RSA_AES_KEY_WRAP_SHA_256`,
      );
      expect(parameters.wrappingAlgorithm).toBe('RSA_AES_KEY_WRAP_SHA_256');
      const response = await tenantAdmin.api.post(`/v1/keys/${key.KeyId}/import`, {
        importToken: parameters.importToken,
        encryptedKeyMaterial: b64(randomBytes(384)),
        wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      });
      expectError(response, 400, 'ValidationError');
      const generated = await tenantAdmin.api.ok<{ key: { keyId: string } }>('POST', '/v1/keys', {});
      expectError(await tenantAdmin.api.delete(`/v1/keys/${generated.key.keyId}/material`), 409, 'Conflict');
    });
  });

  it('answers the raw protocol as AWS: ImportToken and PublicKey are base64 blobs, ParametersValidTo epoch seconds', async () => {
    const key = await createExternalKey();
    const reply = await signedFetch(
      server,
      adminKeys,
      'GetParametersForImport',
      JSON.stringify({
        KeyId: key.KeyId,
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      }),
    );
    expect(reply.status).toBe(200);
    const body = reply.body as unknown as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['ImportToken', 'KeyId', 'ParametersValidTo', 'PublicKey']);
    expect(typeof body.ParametersValidTo).toBe('number');
    expect(
      createPublicKey({ key: Buffer.from(body.PublicKey as string, 'base64'), format: 'der', type: 'spki' })
        .asymmetricKeyType,
    ).toBe('rsa');
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(system)).toEqual([]);
  });
});
