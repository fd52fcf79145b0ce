// The AWS dialect's cryptographic actions through the real @aws-sdk/client-kms against a real
// server: RSA encryption, ReEncrypt, data keys and data key pairs, Sign/Verify (checked by outside
// verifiers: node:crypto, @noble/curves, RFC 8032), MACs and public keys, with AWS's error types,
// and interop with the REST routes that call the same service methods.
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  ReEncryptCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
  type DataKeyPairSpec,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEcdsaSignature, encodeEcdsaSignature } from '../../src/crypto/ecdsa-der.js';
import { accessKeyOf, clientFor, failure } from './aws-fixtures.js';
import { createImportedKey } from './byok.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, b64, expectError, unb64 } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

/** secp256k1's group order: s and n - s are both valid ECDSA signatures (malleability). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// RFC 8032 §7.3 ("TEST abc"): an Ed25519 key whose Ed25519ph signatures are known.
const RFC8032_SECRET = Buffer.from('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42', 'hex');
const RFC8032_PUBLIC = Buffer.from('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'hex');

const sha = (name: string, data: Buffer) => createHash(name).update(data).digest();
const bytes = (value: Uint8Array | undefined) => Buffer.from(value ?? new Uint8Array());

describe('AWS KMS cryptographic actions, through @aws-sdk/client-kms', () => {
  let server: TestServer;
  let tenantAdmin: Actor;
  let rest: Api;
  let kms: KMSClient;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServer();
    const system = new Api(server.url, server.token);
    const tenantId = (await createTenant(system)).tenantId;
    tenantAdmin = await createActor(system, tenantId, ['admin']);
    const user = await createActor(system, tenantId, ['crypto-user']);
    rest = user.api;
    kms = clientFor(server, await accessKeyOf(system, user.principal.principalId));
    const admin = tenantAdmin.api;
    const specs: Record<string, { keySpec?: string; keyUsage?: string }> = {
      aes: {},
      aes2: {},
      rsa: { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' },
      rsaSign: { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' },
      p256: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
      k1: { keySpec: 'ECC_SECG_P256K1', keyUsage: 'SIGN_VERIFY' },
      ed: { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' },
      hmac: { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' },
    };
    for (const [name, input] of Object.entries(specs)) keys[name] = (await createKey(admin, input)).keyId;
  });
  afterAll(async () => {
    kms?.destroy();
    await server?.dispose();
  });

  const arnOf = (keyId: string) =>
    expect.stringMatching(new RegExp(`^arn:aws:kms:[^:]+:\\d{12}:key/${keyId}$`));

  async function publicKeyOf(keyId: string) {
    const answer = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    return createPublicKey({ key: bytes(answer.PublicKey), format: 'der', type: 'spki' });
  }

  describe('Encrypt and Decrypt with RSA keys', () => {
    it('round-trips RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256, and decrypts what node:crypto encrypted with the public key', async () => {
      for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const) {
        const plaintext = randomBytes(100);
        const encrypted = await kms.send(
          new EncryptCommand({ KeyId: keys.rsa, Plaintext: plaintext, EncryptionAlgorithm: algorithm }),
        );
        expect(encrypted).toMatchObject({ KeyId: arnOf(keys.rsa!), EncryptionAlgorithm: algorithm });
        expect(encrypted.CiphertextBlob).toHaveLength(256);
        const decrypted = await kms.send(
          new DecryptCommand({
            CiphertextBlob: encrypted.CiphertextBlob,
            KeyId: keys.rsa,
            EncryptionAlgorithm: algorithm,
          }),
        );
        expect(bytes(decrypted.Plaintext).equals(plaintext)).toBe(true);
        expect(decrypted).toMatchObject({ KeyId: arnOf(keys.rsa!), EncryptionAlgorithm: algorithm });
      }
      const outside = publicEncrypt(
        { key: await publicKeyOf(keys.rsa!), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from('sealed outside'),
      );
      const opened = await kms.send(
        new DecryptCommand({
          CiphertextBlob: outside,
          KeyId: keys.rsa,
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      );
      expect(bytes(opened.Plaintext).toString()).toBe('sealed outside');
    });

    it('takes plaintexts up to k - 2hLen - 2 bytes (RSA_2048: 214 with SHA-1, 190 with SHA-256), no more', async () => {
      for (const [algorithm, max] of [
        ['RSAES_OAEP_SHA_1', 214],
        ['RSAES_OAEP_SHA_256', 190],
      ] as const) {
        const at = await kms.send(
          new EncryptCommand({
            KeyId: keys.rsa,
            Plaintext: randomBytes(max),
            EncryptionAlgorithm: algorithm,
          }),
        );
        expect(at.CiphertextBlob).toHaveLength(256);
        expect(
          await failure(
            kms.send(
              new EncryptCommand({
                KeyId: keys.rsa,
                Plaintext: randomBytes(max + 1),
                EncryptionAlgorithm: algorithm,
              }),
            ),
          ),
        ).toMatchObject({ name: 'ValidationException' });
      }
    });

    it('answers algorithm and key mismatches as AWS: InvalidKeyUsageException, and ValidationException or InvalidCiphertextException for bad requests', async () => {
      const plaintext = Buffer.from('x');
      const usage = { name: 'InvalidKeyUsageException', status: 400 };
      // A symmetric key with an RSA algorithm, an RSA key with SYMMETRIC_DEFAULT (or none).
      expect(
        await failure(
          kms.send(
            new EncryptCommand({
              KeyId: keys.aes,
              Plaintext: plaintext,
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(usage);
      expect(
        await failure(kms.send(new EncryptCommand({ KeyId: keys.rsa, Plaintext: plaintext }))),
      ).toMatchObject(usage);
      // A signing key used to encrypt.
      for (const keyId of [keys.p256, keys.rsaSign]) {
        expect(
          await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }))),
        ).toMatchObject(usage);
      }
      expect(
        await failure(
          kms.send(
            new EncryptCommand({
              KeyId: keys.rsaSign,
              Plaintext: plaintext,
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(usage);
      const ciphertext = (
        await kms.send(
          new EncryptCommand({
            KeyId: keys.rsa,
            Plaintext: plaintext,
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
          }),
        )
      ).CiphertextBlob;
      // RSA decryption needs the key (the ciphertext names none) and the right algorithm.
      expect(
        await failure(
          kms.send(
            new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }),
          ),
        ),
      ).toMatchObject({ name: 'ValidationException' });
      expect(
        await failure(
          kms.send(
            new DecryptCommand({
              CiphertextBlob: ciphertext,
              KeyId: keys.rsa,
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidCiphertextException' });
      expect(
        await failure(
          kms.send(
            new DecryptCommand({
              CiphertextBlob: ciphertext,
              KeyId: keys.aes,
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
            }),
          ),
        ),
      ).toMatchObject(usage);
      // An RSA ciphertext binds no encryption context: one given is refused, not ignored.
      expect(
        await failure(
          kms.send(
            new EncryptCommand({
              KeyId: keys.rsa,
              Plaintext: plaintext,
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
              EncryptionContext: { purpose: 'test' },
            }),
          ),
        ),
      ).toMatchObject({ name: 'ValidationException' });
    });

    it('answers a symmetric ciphertext decrypted with another KeyId with IncorrectKeyException', async () => {
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: keys.aes, Plaintext: Buffer.from('x') }),
      );
      expect(await failure(kms.send(new DecryptCommand({ CiphertextBlob, KeyId: keys.aes2 })))).toMatchObject(
        {
          name: 'IncorrectKeyException',
        },
      );
    });
  });

  describe('ReEncrypt', () => {
    it('moves a ciphertext to another key and context, answering both ARNs and algorithms', async () => {
      const plaintext = randomBytes(64);
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: keys.aes, Plaintext: plaintext, EncryptionContext: { from: 'a' } }),
      );
      const moved = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob,
          SourceEncryptionContext: { from: 'a' },
          SourceKeyId: keys.aes,
          DestinationKeyId: keys.aes2,
          DestinationEncryptionContext: { to: 'b' },
        }),
      );
      expect(moved).toMatchObject({
        SourceKeyId: arnOf(keys.aes!),
        KeyId: arnOf(keys.aes2!),
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      });
      const opened = await kms.send(
        new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { to: 'b' } }),
      );
      expect(bytes(opened.Plaintext).equals(plaintext)).toBe(true);
      expect(opened.KeyId).toEqual(arnOf(keys.aes2!));
      // SourceKeyId is optional for a symmetric ciphertext, and must be the right key when given.
      const again = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob,
          SourceEncryptionContext: { from: 'a' },
          DestinationKeyId: keys.aes,
        }),
      );
      expect(again.SourceKeyId).toEqual(arnOf(keys.aes!));
      expect(
        await failure(
          kms.send(
            new ReEncryptCommand({
              CiphertextBlob,
              SourceEncryptionContext: { from: 'a' },
              SourceKeyId: keys.aes2,
              DestinationKeyId: keys.aes,
            }),
          ),
        ),
      ).toMatchObject({ name: 'IncorrectKeyException' });
      expect(
        await failure(kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: keys.aes2 }))),
      ).toMatchObject({ name: 'InvalidCiphertextException' });
      expect(
        await failure(
          kms.send(
            new ReEncryptCommand({
              CiphertextBlob,
              SourceEncryptionContext: { from: 'a' },
              DestinationKeyId: keys.p256,
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
    });

    it('re-encrypts from a symmetric key to an RSA key and back, with the algorithms and SourceKeyId AWS requires', async () => {
      const plaintext = randomBytes(150);
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: keys.aes, Plaintext: plaintext }),
      );
      const toRsa = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob,
          DestinationKeyId: keys.rsa,
          DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      );
      expect(toRsa).toMatchObject({
        KeyId: arnOf(keys.rsa!),
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      });
      expect(toRsa.CiphertextBlob).toHaveLength(256);
      const rsaOpened = await kms.send(
        new DecryptCommand({
          CiphertextBlob: toRsa.CiphertextBlob,
          KeyId: keys.rsa,
          EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      );
      expect(bytes(rsaOpened.Plaintext).equals(plaintext)).toBe(true);
      expect(
        await failure(
          kms.send(
            new ReEncryptCommand({
              CiphertextBlob: toRsa.CiphertextBlob,
              SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
              DestinationKeyId: keys.aes,
            }),
          ),
        ),
      ).toMatchObject({ name: 'ValidationException' });
      const back = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob: toRsa.CiphertextBlob,
          SourceKeyId: keys.rsa,
          SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          DestinationKeyId: keys.aes2,
          DestinationEncryptionContext: { back: 'yes' },
        }),
      );
      expect(back).toMatchObject({
        SourceKeyId: arnOf(keys.rsa!),
        KeyId: arnOf(keys.aes2!),
        SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      });
      const opened = await kms.send(
        new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, EncryptionContext: { back: 'yes' } }),
      );
      expect(bytes(opened.Plaintext).equals(plaintext)).toBe(true);
      // A destination algorithm of the wrong family is the key's usage, as on Encrypt.
      expect(
        await failure(
          kms.send(
            new ReEncryptCommand({
              CiphertextBlob,
              DestinationKeyId: keys.aes2,
              DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
    });
  });

  describe('GenerateDataKey and GenerateDataKeyPair', () => {
    it('makes data keys of any NumberOfBytes from 1 to 1024, whose ciphertext decrypts to the plaintext', async () => {
      for (const size of [1, 16, 64, 1024]) {
        const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: keys.aes, NumberOfBytes: size }));
        expect(dataKey.Plaintext).toHaveLength(size);
        expect(dataKey.KeyId).toEqual(arnOf(keys.aes!));
        const opened = await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
        expect(bytes(opened.Plaintext).equals(bytes(dataKey.Plaintext))).toBe(true);
      }
      const without = await kms.send(
        new GenerateDataKeyWithoutPlaintextCommand({
          KeyId: keys.aes,
          NumberOfBytes: 100,
          EncryptionContext: { a: 'b' },
        }),
      );
      expect(without).not.toHaveProperty('Plaintext');
      const opened = await kms.send(
        new DecryptCommand({ CiphertextBlob: without.CiphertextBlob, EncryptionContext: { a: 'b' } }),
      );
      expect(opened.Plaintext).toHaveLength(100);
      const spec = await kms.send(new GenerateDataKeyCommand({ KeyId: keys.aes, KeySpec: 'AES_128' }));
      expect(spec.Plaintext).toHaveLength(16);
    });

    it('refuses both KeySpec and NumberOfBytes, neither, and sizes outside 1..1024 (ValidationException), an RSA key (InvalidKeyUsageException)', async () => {
      for (const input of [
        { KeySpec: 'AES_256' as const, NumberOfBytes: 32 },
        {},
        { NumberOfBytes: 1025 },
        { NumberOfBytes: 0 },
      ]) {
        expect(
          await failure(kms.send(new GenerateDataKeyCommand({ KeyId: keys.aes, ...input }))),
        ).toMatchObject({
          name: 'ValidationException',
        });
      }
      expect(
        await failure(kms.send(new GenerateDataKeyCommand({ KeyId: keys.rsa, KeySpec: 'AES_256' }))),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
    });

    it('REST /v1/datakey takes numberOfBytes too, instead of keySpec', async () => {
      const dataKey = await rest.ok<{ plaintext: string; ciphertext: string }>('POST', '/v1/datakey', {
        keyId: keys.aes,
        numberOfBytes: 48,
      });
      expect(unb64(dataKey.plaintext)).toHaveLength(48);
      expectError(
        await rest.post('/v1/datakey', { keyId: keys.aes, numberOfBytes: 48, keySpec: 'AES_256' }),
        400,
        'ValidationError',
      );
      expectError(
        await rest.post('/v1/datakey', { keyId: keys.aes, numberOfBytes: 1025 }),
        400,
        'ValidationError',
      );
    });

    const PAIR_SPECS: DataKeyPairSpec[] = [
      'RSA_2048',
      'RSA_3072',
      'RSA_4096',
      'ECC_NIST_P256',
      'ECC_NIST_P384',
      'ECC_NIST_P521',
      'ECC_SECG_P256K1',
      'ECC_NIST_EDWARDS25519',
    ];

    it('makes key pairs of every spec: SPKI public key, PKCS#8 private key, whose ciphertext Decrypts to the same PKCS#8', async () => {
      for (const spec of PAIR_SPECS) {
        const pair = await kms.send(
          new GenerateDataKeyPairCommand({
            KeyId: keys.aes,
            KeyPairSpec: spec,
            EncryptionContext: { pair: spec },
          }),
        );
        expect(pair).toMatchObject({ KeyId: arnOf(keys.aes!), KeyPairSpec: spec });
        const publicKey = createPublicKey({ key: bytes(pair.PublicKey), format: 'der', type: 'spki' });
        const privateKey = createPrivateKey({
          key: bytes(pair.PrivateKeyPlaintext),
          format: 'der',
          type: 'pkcs8',
        });
        expect(
          createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(bytes(pair.PublicKey)),
          spec,
        ).toBe(true);
        // The two halves work together (sign with one, verify with the other).
        const hash = spec === 'ECC_NIST_EDWARDS25519' ? null : 'sha256';
        const signature = sign(hash, Buffer.from(spec), privateKey);
        expect(verify(hash, Buffer.from(spec), publicKey, signature), spec).toBe(true);
        const opened = await kms.send(
          new DecryptCommand({
            CiphertextBlob: pair.PrivateKeyCiphertextBlob,
            EncryptionContext: { pair: spec },
          }),
        );
        expect(bytes(opened.Plaintext).equals(bytes(pair.PrivateKeyPlaintext)), spec).toBe(true);
      }
    });

    it('without plaintext: no PrivateKeyPlaintext, and the ciphertext Decrypts to the private half of PublicKey', async () => {
      const pair = await kms.send(
        new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keys.aes, KeyPairSpec: 'ECC_SECG_P256K1' }),
      );
      expect(pair).not.toHaveProperty('PrivateKeyPlaintext');
      expect(pair.KeyPairSpec).toBe('ECC_SECG_P256K1');
      const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob }));
      const privateKey = createPrivateKey({ key: bytes(opened.Plaintext), format: 'der', type: 'pkcs8' });
      expect(
        createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).equals(bytes(pair.PublicKey)),
      ).toBe(true);
      expect(
        await failure(
          kms.send(new GenerateDataKeyPairCommand({ KeyId: keys.rsa, KeyPairSpec: 'ECC_NIST_P256' })),
        ),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
      expect(
        await failure(kms.send(new GenerateDataKeyPairCommand({ KeyId: keys.aes, KeyPairSpec: 'SM2' }))),
      ).toMatchObject({ name: 'ValidationException' });
    });
  });

  describe('Sign and Verify', () => {
    async function signWith(keyId: string, message: Buffer, algorithm: SigningAlgorithmSpec, digest = false) {
      const signed = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: message,
          SigningAlgorithm: algorithm,
          ...(digest ? { MessageType: 'DIGEST' as const } : {}),
        }),
      );
      expect(signed).toMatchObject({ KeyId: arnOf(keyId), SigningAlgorithm: algorithm });
      return bytes(signed.Signature);
    }

    it('secp256k1 ECDSA_SHA_256 over a DIGEST: a DER signature that @noble/curves and node:crypto accept, not low-s normalised', async () => {
      const publicKey = await publicKeyOf(keys.k1!);
      const point = Buffer.from(publicKey.export({ format: 'der', type: 'spki' })).subarray(-65);
      let highS = 0;
      for (let i = 0; i < 24; i++) {
        const message = randomBytes(40);
        const digest = sha('sha256', message);
        const signature = await signWith(keys.k1!, digest, 'ECDSA_SHA_256', true);
        expect(
          secp256k1.verify(signature, digest, point, { prehash: false, lowS: false, format: 'der' }),
        ).toBe(true);
        expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
        const { s } = decodeEcdsaSignature(signature)!;
        if (s > SECP256K1_N / 2n) highS++;
      }
      // As AWS KMS (and OpenSSL): s is not normalised, so about half the signatures are high-s.
      expect(highS).toBeGreaterThan(0);
    });

    it('verifies a high-s secp256k1 signature, as AWS does', async () => {
      const digest = sha('sha256', Buffer.from('malleable'));
      const signature = await signWith(keys.k1!, digest, 'ECDSA_SHA_256', true);
      const { r, s } = decodeEcdsaSignature(signature)!;
      for (const variant of [encodeEcdsaSignature(r, s), encodeEcdsaSignature(r, SECP256K1_N - s)]) {
        const verified = await kms.send(
          new VerifyCommand({
            KeyId: keys.k1,
            Message: digest,
            MessageType: 'DIGEST',
            Signature: variant,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        );
        expect(verified).toMatchObject({
          SignatureValid: true,
          KeyId: arnOf(keys.k1!),
          SigningAlgorithm: 'ECDSA_SHA_256',
        });
      }
    });

    it('ED25519_SHA_512 over a RAW message: node:crypto verifies it; DIGEST is refused as AWS refuses it', async () => {
      const message = Buffer.from('an Ed25519 message');
      const signature = await signWith(keys.ed!, message, 'ED25519_SHA_512');
      expect(verify(null, message, await publicKeyOf(keys.ed!), signature)).toBe(true);
      expect(
        await failure(
          kms.send(
            new SignCommand({
              KeyId: keys.ed,
              Message: sha('sha512', message),
              MessageType: 'DIGEST',
              SigningAlgorithm: 'ED25519_SHA_512',
            }),
          ),
        ),
      ).toMatchObject({ name: 'ValidationException' });
    });

    it('ED25519_PH_SHA_512 with the RFC 8032 key: DIGEST only, the bytes @noble/curves computes, verified over AWS and REST', async () => {
      const pkcs8 = createPrivateKey({
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          d: RFC8032_SECRET.toString('base64url'),
          x: RFC8032_PUBLIC.toString('base64url'),
        },
        format: 'jwk',
      }).export({ format: 'der', type: 'pkcs8' });
      const key = await createImportedKey(
        tenantAdmin.api,
        { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' },
        pkcs8,
        'PRIVATE_KEY',
      );
      const published = await kms.send(new GetPublicKeyCommand({ KeyId: key.keyId }));
      expect(bytes(published.PublicKey).subarray(-32).equals(RFC8032_PUBLIC)).toBe(true);
      expect(published.SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
      // The 64-byte digest is hashed again by Ed25519ph itself (AWS: "hashed twice").
      const digest = sha('sha512', Buffer.from('abc'));
      const signature = await signWith(key.keyId, digest, 'ED25519_PH_SHA_512', true);
      expect(signature.equals(bytes(ed25519ph.sign(digest, RFC8032_SECRET)))).toBe(true);
      expect(ed25519ph.verify(signature, digest, RFC8032_PUBLIC, { zip215: false })).toBe(true);
      const verified = await kms.send(
        new VerifyCommand({
          KeyId: key.keyId,
          Message: digest,
          MessageType: 'DIGEST',
          Signature: signature,
          SigningAlgorithm: 'ED25519_PH_SHA_512',
        }),
      );
      expect(verified.SignatureValid).toBe(true);
      const overRest = await rest.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: key.keyId,
        message: b64(digest),
        messageType: 'DIGEST',
        signature: b64(signature),
        algorithm: 'ED25519_PH_SHA_512',
      });
      expect(overRest.valid).toBe(true);
      for (const input of [
        { Message: Buffer.from('abc') },
        { Message: randomBytes(32), MessageType: 'DIGEST' as const },
      ]) {
        expect(
          await failure(
            kms.send(new SignCommand({ KeyId: key.keyId, SigningAlgorithm: 'ED25519_PH_SHA_512', ...input })),
          ),
        ).toMatchObject({ name: 'ValidationException' });
      }
    });

    it('RSA and P-256 signatures verify outside (node:crypto) and over AWS; a wrong message answers KMSInvalidSignatureException', async () => {
      const message = randomBytes(500);
      for (const [keyId, algorithm, options] of [
        [keys.rsaSign, 'RSASSA_PSS_SHA_384', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }],
        [keys.rsaSign, 'RSASSA_PKCS1_V1_5_SHA_256', { padding: constants.RSA_PKCS1_PADDING }],
        [keys.p256, 'ECDSA_SHA_256', { dsaEncoding: 'der' }],
      ] as const) {
        const signature = await signWith(keyId!, message, algorithm);
        const hash = `sha${algorithm.slice(-3)}`;
        expect(
          verify(hash, message, { key: await publicKeyOf(keyId!), ...options }, signature),
          algorithm,
        ).toBe(true);
        const ok = await kms.send(
          new VerifyCommand({
            KeyId: keyId,
            Message: message,
            Signature: signature,
            SigningAlgorithm: algorithm,
          }),
        );
        expect(ok.SignatureValid).toBe(true);
        const viaDigest = await kms.send(
          new VerifyCommand({
            KeyId: keyId,
            Message: sha(hash, message),
            MessageType: 'DIGEST',
            Signature: signature,
            SigningAlgorithm: algorithm,
          }),
        );
        expect(viaDigest.SignatureValid).toBe(true);
        expect(
          await failure(
            kms.send(
              new VerifyCommand({
                KeyId: keyId,
                Message: Buffer.from('other'),
                Signature: signature,
                SigningAlgorithm: algorithm,
              }),
            ),
          ),
        ).toMatchObject({ name: 'KMSInvalidSignatureException', status: 400 });
      }
    });

    it('refuses a digest of the wrong length and a signature over 6144 bytes (ValidationException), a wrong algorithm or key usage (InvalidKeyUsageException)', async () => {
      const validation = { name: 'ValidationException' };
      expect(
        await failure(
          kms.send(
            new SignCommand({
              KeyId: keys.p256,
              Message: randomBytes(31),
              MessageType: 'DIGEST',
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(validation);
      expect(
        await failure(
          kms.send(
            new VerifyCommand({
              KeyId: keys.k1,
              Message: randomBytes(48),
              MessageType: 'DIGEST',
              Signature: randomBytes(70),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(validation);
      expect(
        await failure(
          kms.send(
            new VerifyCommand({
              KeyId: keys.p256,
              Message: Buffer.from('m'),
              Signature: randomBytes(6145),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(validation);
      // 6144 bytes is within AWS's bound: it is simply not a valid signature.
      expect(
        await failure(
          kms.send(
            new VerifyCommand({
              KeyId: keys.p256,
              Message: Buffer.from('m'),
              Signature: randomBytes(6144),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject({ name: 'KMSInvalidSignatureException' });
      expect(
        await failure(
          kms.send(
            new SignCommand({
              KeyId: keys.p256,
              Message: Buffer.from('m'),
              SigningAlgorithm: 'ECDSA_SHA_384',
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
      expect(
        await failure(
          kms.send(
            new SignCommand({
              KeyId: keys.aes,
              Message: Buffer.from('m'),
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidKeyUsageException' });
      expect(
        await failure(
          kms.send(
            new SignCommand({
              KeyId: keys.p256,
              Message: Buffer.from('m'),
              MessageType: 'EXTERNAL_MU',
              SigningAlgorithm: 'ECDSA_SHA_256',
            }),
          ),
        ),
      ).toMatchObject(validation);
    });

    it('interoperates with REST: a signature made over AWS verifies over /v1/verify, and one made over /v1/sign verifies over AWS', async () => {
      const message = Buffer.from('both dialects');
      const overAws = await signWith(keys.k1!, message, 'ECDSA_SHA_256');
      const verified = await rest.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: keys.k1,
        message: b64(message),
        signature: b64(overAws),
        algorithm: 'ECDSA_SHA_256',
      });
      expect(verified.valid).toBe(true);
      const overRest = await rest.ok<{ signature: string }>('POST', '/v1/sign', {
        keyId: keys.ed,
        message: b64(message),
        algorithm: 'ED25519_SHA_512',
      });
      const answer = await kms.send(
        new VerifyCommand({
          KeyId: keys.ed,
          Message: message,
          Signature: unb64(overRest.signature),
          SigningAlgorithm: 'ED25519_SHA_512',
        }),
      );
      expect(answer.SignatureValid).toBe(true);
      // REST's signature bound is AWS's: 6144 bytes verify (as false), 6145 are refused.
      const at = await rest.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: keys.k1,
        message: b64(message),
        signature: b64(randomBytes(6144)),
        algorithm: 'ECDSA_SHA_256',
      });
      expect(at.valid).toBe(false);
      expectError(
        await rest.post('/v1/verify', {
          keyId: keys.k1,
          message: b64(message),
          signature: b64(randomBytes(6145)),
          algorithm: 'ECDSA_SHA_256',
        }),
        400,
        'ValidationError',
      );
    });
  });

  describe('GenerateMac and VerifyMac', () => {
    it('MACs with an imported HMAC key equal node:crypto HMACs; a wrong MAC answers KMSInvalidMacException', async () => {
      const secret = randomBytes(32);
      const key = await createImportedKey(
        tenantAdmin.api,
        { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' },
        secret,
      );
      const message = Buffer.from('authenticate me');
      const generated = await kms.send(
        new GenerateMacCommand({ KeyId: key.keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
      );
      expect(generated).toMatchObject({ KeyId: arnOf(key.keyId), MacAlgorithm: 'HMAC_SHA_256' });
      expect(bytes(generated.Mac).equals(createHmac('sha256', secret).update(message).digest())).toBe(true);
      const verified = await kms.send(
        new VerifyMacCommand({
          KeyId: key.keyId,
          Message: message,
          Mac: generated.Mac,
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      );
      expect(verified).toMatchObject({
        MacValid: true,
        KeyId: arnOf(key.keyId),
        MacAlgorithm: 'HMAC_SHA_256',
      });
      const overRest = await rest.ok<{ valid: boolean }>('POST', '/v1/mac/verify', {
        keyId: key.keyId,
        message: b64(message),
        mac: b64(bytes(generated.Mac)),
        algorithm: 'HMAC_SHA_256',
      });
      expect(overRest.valid).toBe(true);
      const wrong = bytes(generated.Mac);
      wrong[0]! ^= 1;
      for (const mac of [wrong, wrong.subarray(0, 16)]) {
        expect(
          await failure(
            kms.send(
              new VerifyMacCommand({
                KeyId: key.keyId,
                Message: message,
                Mac: mac,
                MacAlgorithm: 'HMAC_SHA_256',
              }),
            ),
          ),
        ).toMatchObject({ name: 'KMSInvalidMacException', status: 400 });
      }
    });

    it('refuses an algorithm the key does not have and a key that is not an HMAC key (InvalidKeyUsageException)', async () => {
      for (const [keyId, algorithm] of [
        [keys.hmac, 'HMAC_SHA_512'],
        [keys.aes, 'HMAC_SHA_256'],
      ] as const) {
        expect(
          await failure(
            kms.send(
              new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('m'), MacAlgorithm: algorithm }),
            ),
          ),
        ).toMatchObject({ name: 'InvalidKeyUsageException' });
      }
    });
  });

  describe('GetPublicKey', () => {
    it('answers the SPKI public key with its spec, usage and algorithms; a symmetric key is UnsupportedOperationException', async () => {
      const rsa = await kms.send(new GetPublicKeyCommand({ KeyId: keys.rsa }));
      expect(rsa).toMatchObject({
        KeyId: arnOf(keys.rsa!),
        KeySpec: 'RSA_2048',
        CustomerMasterKeySpec: 'RSA_2048',
        KeyUsage: 'ENCRYPT_DECRYPT',
        EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
      });
      expect(rsa).not.toHaveProperty('SigningAlgorithms');
      const k1 = await kms.send(new GetPublicKeyCommand({ KeyId: keys.k1 }));
      expect(k1).toMatchObject({
        KeySpec: 'ECC_SECG_P256K1',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ECDSA_SHA_256'],
      });
      expect(
        createPublicKey({ key: bytes(k1.PublicKey), format: 'der', type: 'spki' }).asymmetricKeyDetails,
      ).toMatchObject({
        namedCurve: 'secp256k1',
      });
      for (const keyId of [keys.aes, keys.hmac]) {
        expect(await failure(kms.send(new GetPublicKeyCommand({ KeyId: keyId })))).toMatchObject({
          name: 'UnsupportedOperationException',
        });
      }
    });
  });

  describe('members decided once for every action of the group', () => {
    // Recipient: recipient.test.ts.
    it('refuses DryRun with UnsupportedOperationException; a DryRun of false is no dry run', async () => {
      const unsupported = { name: 'UnsupportedOperationException', status: 400 };
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: keys.aes, Plaintext: Buffer.from('x') }),
      );
      for (const work of [
        kms.send(new EncryptCommand({ KeyId: keys.aes, Plaintext: Buffer.from('x'), DryRun: true })),
        kms.send(
          new SignCommand({
            KeyId: keys.p256,
            Message: Buffer.from('m'),
            SigningAlgorithm: 'ECDSA_SHA_256',
            DryRun: true,
          }),
        ),
        kms.send(
          new GenerateMacCommand({
            KeyId: keys.hmac,
            Message: Buffer.from('m'),
            MacAlgorithm: 'HMAC_SHA_256',
            DryRun: true,
          }),
        ),
      ]) {
        expect(await failure(work)).toMatchObject(unsupported);
      }
      const notDry = await kms.send(new DecryptCommand({ CiphertextBlob, DryRun: false }));
      expect(bytes(notDry.Plaintext).toString()).toBe('x');
    });

    it('checks GrantTokens on every action of the group: one not in the form this server issues is InvalidGrantTokenException', async () => {
      const forged = { name: 'InvalidGrantTokenException', status: 400 };
      const GrantTokens = ['not-a-token-this-server-issued'];
      const { CiphertextBlob } = await kms.send(
        new EncryptCommand({ KeyId: keys.aes, Plaintext: Buffer.from('x') }),
      );
      for (const work of [
        kms.send(new EncryptCommand({ KeyId: keys.aes, Plaintext: Buffer.from('x'), GrantTokens })),
        kms.send(new DecryptCommand({ CiphertextBlob, GrantTokens })),
        kms.send(new GenerateDataKeyCommand({ KeyId: keys.aes, KeySpec: 'AES_256', GrantTokens })),
        kms.send(
          new SignCommand({
            KeyId: keys.p256,
            Message: Buffer.from('m'),
            SigningAlgorithm: 'ECDSA_SHA_256',
            GrantTokens,
          }),
        ),
        kms.send(
          new GenerateMacCommand({
            KeyId: keys.hmac,
            Message: Buffer.from('m'),
            MacAlgorithm: 'HMAC_SHA_256',
            GrantTokens,
          }),
        ),
      ]) {
        expect(await failure(work)).toMatchObject(forged);
      }
    });
  });
});
