// Asymmetric cryptography over real HTTP: sign/verify for every signing spec and algorithm in RAW and
// DIGEST modes, checked against node:crypto and the openssl CLI; public keys; RSA-OAEP; data key pairs.
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, expectError, unb64, type Api } from './http.js';
import { OpensslWorkspace } from './openssl.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import type {
  DataKeyPairReply,
  DecryptReply,
  EncryptReply,
  KeyView,
  PublicKeyReply,
  SignReply,
  ValidReply,
} from './wire-types.js';

type Hash = 'sha256' | 'sha384' | 'sha512';
type Scheme = 'RSA_PSS' | 'RSA_PKCS1' | 'ECDSA' | 'ED25519';

const ALGORITHMS: Record<string, { scheme: Scheme; hash: Hash }> = {
  RSASSA_PSS_SHA_256: { scheme: 'RSA_PSS', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { scheme: 'RSA_PSS', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { scheme: 'RSA_PSS', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: 'RSA_PKCS1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: 'RSA_PKCS1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: 'RSA_PKCS1', hash: 'sha512' },
  ECDSA_SHA_256: { scheme: 'ECDSA', hash: 'sha256' },
  ECDSA_SHA_384: { scheme: 'ECDSA', hash: 'sha384' },
  ECDSA_SHA_512: { scheme: 'ECDSA', hash: 'sha512' },
  ED25519_SHA_512: { scheme: 'ED25519', hash: 'sha512' },
};
const RSA_ALGORITHMS = Object.keys(ALGORITHMS).filter((a) => a.startsWith('RSASSA_'));

/** AWS KMS's table of signing algorithms per key spec. */
const SIGNING_SPECS: Record<string, string[]> = {
  RSA_2048: RSA_ALGORITHMS,
  RSA_3072: RSA_ALGORITHMS,
  RSA_4096: RSA_ALGORITHMS,
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  ECC_NIST_P521: ['ECDSA_SHA_512'],
  ECC_SECG_P256K1: ['ECDSA_SHA_256'],
  ECC_NIST_EDWARDS25519: ['ED25519_SHA_512'],
};

interface SignCase {
  keySpec: string;
  algorithm: string;
  messageType: 'RAW' | 'DIGEST';
}

const SIGN_CASES: SignCase[] = Object.entries(SIGNING_SPECS).flatMap(([keySpec, algorithms]) =>
  algorithms.flatMap((algorithm) =>
    (ALGORITHMS[algorithm]!.scheme === 'ED25519' ? (['RAW'] as const) : (['RAW', 'DIGEST'] as const)).map(
      (messageType) => ({ keySpec, algorithm, messageType }),
    ),
  ),
);
const RAW_CASES = SIGN_CASES.filter((c) => c.messageType === 'RAW');

const WRONG_ALGORITHMS: [string, string][] = [
  ['ECC_NIST_P256', 'ECDSA_SHA_384'],
  ['ECC_NIST_P384', 'ECDSA_SHA_256'],
  ['ECC_NIST_P521', 'ECDSA_SHA_256'],
  ['ECC_SECG_P256K1', 'ECDSA_SHA_512'],
  ['ECC_NIST_P256', 'RSASSA_PSS_SHA_256'],
  ['RSA_2048', 'ECDSA_SHA_256'],
  ['RSA_2048', 'ED25519_SHA_512'],
  ['ECC_NIST_EDWARDS25519', 'ECDSA_SHA_512'],
];

/** Verification with node:crypto, an implementation independent of the server's signing path. */
function verifyWithNode(
  publicKey: KeyObject,
  algorithm: string,
  message: Buffer,
  signature: Buffer,
): boolean {
  const { scheme, hash } = ALGORITHMS[algorithm]!;
  switch (scheme) {
    case 'ED25519':
      return nodeVerify(null, message, publicKey, signature);
    case 'ECDSA':
      return nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
    case 'RSA_PKCS1':
      return nodeVerify(hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    case 'RSA_PSS':
      // AWS semantics: salt length = hash length, MGF1 with the same hash.
      return nodeVerify(
        hash,
        message,
        {
          key: publicKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: createHash(hash).digest().length,
        },
        signature,
      );
  }
}

describe.each(keyStoreProfiles)('asymmetric cryptography over REST ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;
  let openssl: OpensslWorkspace;
  const signers = new Map<string, { key: KeyView; publicKey: PublicKeyReply }>();
  let rsaEncryption: KeyView;
  let rsaEncryptionPem: string;
  let symmetric: KeyView;

  beforeAll(async () => {
    suite = await startSuiteServer(profile);
    api = suite.api;
    openssl = new OpensslWorkspace();
    await Promise.all(
      Object.keys(SIGNING_SPECS).map(async (keySpec) => {
        const key = await createKey(api, { keySpec, keyUsage: 'SIGN_VERIFY' });
        const publicKey = await api.ok<PublicKeyReply>('GET', `/v1/keys/${key.keyId}/public-key`);
        signers.set(keySpec, { key, publicKey });
      }),
    );
    rsaEncryption = await createKey(api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    rsaEncryptionPem = (await api.ok<PublicKeyReply>('GET', `/v1/keys/${rsaEncryption.keyId}/public-key`))
      .publicKey;
    symmetric = await createKey(api);
  });
  afterAll(async () => {
    openssl?.dispose();
    await suite?.server.dispose();
  });

  const signer = (keySpec: string) => signers.get(keySpec)!;
  const sign = (keyId: string, message: Buffer, algorithm: string, messageType: 'RAW' | 'DIGEST' = 'RAW') =>
    api.ok<SignReply>('POST', '/v1/sign', { keyId, message: b64(message), algorithm, messageType });
  const verify = async (
    keyId: string,
    message: Buffer,
    signature: string,
    algorithm: string,
    messageType: 'RAW' | 'DIGEST' = 'RAW',
  ) =>
    (
      await api.ok<ValidReply>('POST', '/v1/verify', {
        keyId,
        message: b64(message),
        signature,
        algorithm,
        messageType,
      })
    ).valid;

  describe('public keys', () => {
    it.each(Object.keys(SIGNING_SPECS))(
      '%s: the PEM public key is exactly the DER spki field, also for openssl',
      (keySpec) => {
        const { key, publicKey } = signer(keySpec);
        expect(publicKey).toMatchObject({ keyId: key.keyId, keySpec });
        const pemBody = publicKey.publicKey
          .replace('-----BEGIN PUBLIC KEY-----', '')
          .replace('-----END PUBLIC KEY-----', '')
          .replace(/\s+/g, '');
        expect(pemBody).toBe(publicKey.spki);
        const pem = openssl.write(`${keySpec}.pem`, publicKey.publicKey);
        expect(openssl.run(['pkey', '-pubin', '-in', pem, '-outform', 'DER'])).toEqual(unb64(publicKey.spki));
      },
    );

    it('a symmetric key has no public key: 400 KeyUsageMismatch', async () => {
      expectError(await api.get(`/v1/keys/${symmetric.keyId}/public-key`), 400, 'KeyUsageMismatch');
    });
  });

  describe('sign and verify', () => {
    it.each(SIGN_CASES)(
      '$keySpec $algorithm $messageType: verifies via the API and node:crypto; a tampered message or signature does not',
      async ({ keySpec, algorithm, messageType }) => {
        const { key, publicKey } = signer(keySpec);
        const message = Buffer.from(`message for ${keySpec} ${algorithm} ${messageType}`);
        const digest = createHash(ALGORITHMS[algorithm]!.hash).update(message).digest();
        const input = messageType === 'RAW' ? message : digest;
        const signed = await sign(key.keyId, input, algorithm, messageType);
        expect(signed).toMatchObject({ keyId: key.keyId, keyVersion: 1, algorithm });

        const nodeKey = createPublicKey({ key: unb64(publicKey.spki), format: 'der', type: 'spki' });
        expect(verifyWithNode(nodeKey, algorithm, message, unb64(signed.signature))).toBe(true);
        expect(await verify(key.keyId, input, signed.signature, algorithm, messageType)).toBe(true);
        if (ALGORITHMS[algorithm]!.scheme !== 'ED25519') {
          // A signature over a digest is a signature over the message it digests, and vice versa.
          const [otherInput, otherType] =
            messageType === 'RAW' ? [digest, 'DIGEST' as const] : [message, 'RAW' as const];
          expect(await verify(key.keyId, otherInput, signed.signature, algorithm, otherType)).toBe(true);
        }

        const tamperedMessage = Buffer.concat([message, Buffer.from('!')]);
        const tamperedInput =
          messageType === 'RAW'
            ? tamperedMessage
            : createHash(ALGORITHMS[algorithm]!.hash).update(tamperedMessage).digest();
        expect(await verify(key.keyId, tamperedInput, signed.signature, algorithm, messageType)).toBe(false);
        const signature = unb64(signed.signature);
        signature[signature.length - 3]! ^= 0x10;
        expect(await verify(key.keyId, input, b64(signature), algorithm, messageType)).toBe(false);
      },
    );

    it.each(WRONG_ALGORITHMS)(
      '%s with %s: sign and verify answer 400 KeyUsageMismatch',
      async (keySpec, algorithm) => {
        const { key } = signer(keySpec);
        const body = { keyId: key.keyId, message: b64('m'), algorithm };
        expectError(await api.post('/v1/sign', body), 400, 'KeyUsageMismatch');
        expectError(
          await api.post('/v1/verify', { ...body, signature: b64(randomBytes(64)) }),
          400,
          'KeyUsageMismatch',
        );
      },
    );

    it('refuses a DIGEST of the wrong length, and DIGEST mode for Ed25519, with 400 ValidationError', async () => {
      const p256 = signer('ECC_NIST_P256').key;
      const short = {
        keyId: p256.keyId,
        message: b64(randomBytes(31)),
        algorithm: 'ECDSA_SHA_256',
        messageType: 'DIGEST',
      };
      expectError(await api.post('/v1/sign', short), 400, 'ValidationError');
      const ed = signer('ECC_NIST_EDWARDS25519').key;
      const digest = {
        keyId: ed.keyId,
        message: b64(randomBytes(64)),
        algorithm: 'ED25519_SHA_512',
        messageType: 'DIGEST',
      };
      expectError(await api.post('/v1/sign', digest), 400, 'ValidationError');
    });

    it('refuses signing with an ENCRYPT_DECRYPT or symmetric key with 400 KeyUsageMismatch', async () => {
      for (const keyId of [rsaEncryption.keyId, symmetric.keyId]) {
        const body = { keyId, message: b64('m'), algorithm: 'RSASSA_PSS_SHA_256' };
        expectError(await api.post('/v1/sign', body), 400, 'KeyUsageMismatch');
      }
    });

    it('signs a 4096-byte message and refuses 4097 bytes with 400 ValidationError', async () => {
      const { key } = signer('ECC_NIST_P256');
      const signed = await sign(key.keyId, randomBytes(4096), 'ECDSA_SHA_256');
      expect(signed.signature.length).toBeGreaterThan(0);
      const body = { keyId: key.keyId, message: b64(randomBytes(4097)), algorithm: 'ECDSA_SHA_256' };
      expectError(await api.post('/v1/sign', body), 400, 'ValidationError');
    });
  });

  describe('openssl interoperability', () => {
    it.each(RAW_CASES)(
      'a $keySpec $algorithm signature verifies with the openssl CLI against the public PEM',
      async ({ keySpec, algorithm }) => {
        const { key, publicKey } = signer(keySpec);
        const { scheme, hash } = ALGORITHMS[algorithm]!;
        const name = `${keySpec}-${algorithm}`;
        const message = randomBytes(300);
        const signed = await sign(key.keyId, message, algorithm);
        const pem = openssl.write(`${name}.pem`, publicKey.publicKey);
        const msg = openssl.write(`${name}.msg`, message);
        const tampered = openssl.write(`${name}.tampered`, Buffer.concat([message, Buffer.from([0])]));
        const sig = openssl.write(`${name}.sig`, unb64(signed.signature));

        const command = (file: string) =>
          scheme === 'ED25519'
            ? ['pkeyutl', '-verify', '-pubin', '-inkey', pem, '-rawin', '-in', file, '-sigfile', sig]
            : [
                'dgst',
                `-${hash}`,
                '-verify',
                pem,
                '-signature',
                sig,
                ...(scheme === 'RSA_PSS'
                  ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest']
                  : []),
                file,
              ];
        const verified = openssl.attempt(command(msg));
        expect(verified, verified.output).toMatchObject({ ok: true });
        expect(verified.output).toMatch(/Verified OK|Signature Verified Successfully/);
        expect(openssl.attempt(command(tampered)).ok).toBe(false);
      },
    );
  });

  describe('RSA-OAEP', () => {
    it.each(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'])(
      '%s: asymmetric encrypt then decrypt round-trips',
      async (algorithm) => {
        const plaintext = b64(randomBytes(100));
        const sealed = await api.ok<EncryptReply>('POST', '/v1/asymmetric/encrypt', {
          keyId: rsaEncryption.keyId,
          plaintext,
          algorithm,
        });
        expect(unb64(sealed.ciphertext)).toHaveLength(256);
        const opened = await api.ok<DecryptReply>('POST', '/v1/asymmetric/decrypt', {
          keyId: rsaEncryption.keyId,
          ciphertext: sealed.ciphertext,
          algorithm,
        });
        expect(opened.plaintext).toBe(plaintext);
      },
    );

    it.each([
      ['RSAES_OAEP_SHA_1', 'sha1'],
      ['RSAES_OAEP_SHA_256', 'sha256'],
    ])(
      '%s: a ciphertext from node:crypto publicEncrypt with the PEM decrypts via the API',
      async (algorithm, oaepHash) => {
        const plaintext = randomBytes(64);
        const ciphertext = publicEncrypt(
          { key: rsaEncryptionPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          plaintext,
        );
        const opened = await api.ok<DecryptReply>('POST', '/v1/asymmetric/decrypt', {
          keyId: rsaEncryption.keyId,
          ciphertext: b64(ciphertext),
          algorithm,
        });
        expect(unb64(opened.plaintext)).toEqual(plaintext);
      },
    );

    it('RSAES_OAEP_SHA_256: a ciphertext from `openssl pkeyutl -encrypt` decrypts via the API', async () => {
      const plaintext = randomBytes(48);
      const pem = openssl.write('oaep.pem', rsaEncryptionPem);
      const input = openssl.write('oaep.in', plaintext);
      const output = openssl.path('oaep.out');
      openssl.run([
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-inkey',
        pem,
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        'rsa_oaep_md:sha256',
        '-pkeyopt',
        'rsa_mgf1_md:sha256',
        '-in',
        input,
        '-out',
        output,
      ]);
      const opened = await api.ok<DecryptReply>('POST', '/v1/asymmetric/decrypt', {
        keyId: rsaEncryption.keyId,
        ciphertext: b64(openssl.read('oaep.out')),
        algorithm: 'RSAES_OAEP_SHA_256',
      });
      expect(unb64(opened.plaintext)).toEqual(plaintext);
    });

    it('decrypting with the other OAEP hash, or a tampered ciphertext, fails with 400 InvalidCiphertext', async () => {
      const sealed = await api.ok<EncryptReply>('POST', '/v1/asymmetric/encrypt', {
        keyId: rsaEncryption.keyId,
        plaintext: b64('x'),
        algorithm: 'RSAES_OAEP_SHA_256',
      });
      const decrypt = (ciphertext: string, algorithm: string) =>
        api.post('/v1/asymmetric/decrypt', { keyId: rsaEncryption.keyId, ciphertext, algorithm });
      expectError(await decrypt(sealed.ciphertext, 'RSAES_OAEP_SHA_1'), 400, 'InvalidCiphertext');
      const tampered = unb64(sealed.ciphertext);
      tampered[100]! ^= 1;
      expectError(await decrypt(b64(tampered), 'RSAES_OAEP_SHA_256'), 400, 'InvalidCiphertext');
      expectError(
        await decrypt(b64(unb64(sealed.ciphertext).subarray(1)), 'RSAES_OAEP_SHA_256'),
        400,
        'InvalidCiphertext',
      );
    });

    it.each([
      ['RSAES_OAEP_SHA_1', 214],
      ['RSAES_OAEP_SHA_256', 190],
    ] as const)(
      '%s on RSA_2048 takes at most %i bytes (k - 2hLen - 2) and refuses one more with 400',
      async (algorithm, max) => {
        const encrypt = (length: number) =>
          api.post('/v1/asymmetric/encrypt', {
            keyId: rsaEncryption.keyId,
            plaintext: b64(randomBytes(length)),
            algorithm,
          });
        expect((await encrypt(max)).status).toBe(200);
        expectError(await encrypt(max + 1), 400, 'ValidationError');
      },
    );

    it('refuses RSA-OAEP with a signing or symmetric key with 400 KeyUsageMismatch', async () => {
      for (const keyId of [signer('RSA_2048').key.keyId, symmetric.keyId]) {
        const body = { keyId, plaintext: b64('x'), algorithm: 'RSAES_OAEP_SHA_256' };
        expectError(await api.post('/v1/asymmetric/encrypt', body), 400, 'KeyUsageMismatch');
      }
    });
  });

  describe('rotation of asymmetric keys', () => {
    // Verify and RSA decrypt take no key version, so whatever rotate does with an asymmetric key, what
    // the key signed or had encrypted to it before must keep verifying and decrypting.
    it('rotate on an asymmetric key answers 400 KeyUsageMismatch and keeps version 1 (AWS rotates only symmetric and HMAC keys)', async () => {
      for (const keySpec of ['ECC_NIST_P256', 'ECC_NIST_EDWARDS25519']) {
        const { key } = signer(keySpec);
        expectError(await api.post(`/v1/keys/${key.keyId}/rotate`), 400, 'KeyUsageMismatch');
        expect((await api.ok<{ key: KeyView }>('GET', `/v1/keys/${key.keyId}`)).key.currentVersion).toBe(1);
      }
      expectError(await api.post(`/v1/keys/${rsaEncryption.keyId}/rotate`), 400, 'KeyUsageMismatch');
    });

    it('a signature made before a rotate request still verifies after it', async () => {
      const key = await createKey(api, { keySpec: 'ECC_NIST_P256' });
      const message = Buffer.from('signed before rotation');
      const signed = await sign(key.keyId, message, 'ECDSA_SHA_256');
      expect((await api.post(`/v1/keys/${key.keyId}/rotate`)).status).not.toBe(500);
      expect(await verify(key.keyId, message, signed.signature, 'ECDSA_SHA_256')).toBe(true);
    });

    it('an RSA-OAEP ciphertext made before a rotate request still decrypts after it', async () => {
      const key = await createKey(api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
      const plaintext = b64('encrypted before rotation');
      const sealed = await api.ok<EncryptReply>('POST', '/v1/asymmetric/encrypt', {
        keyId: key.keyId,
        plaintext,
        algorithm: 'RSAES_OAEP_SHA_256',
      });
      expect((await api.post(`/v1/keys/${key.keyId}/rotate`)).status).not.toBe(500);
      const opened = await api.ok<DecryptReply>('POST', '/v1/asymmetric/decrypt', {
        keyId: key.keyId,
        ciphertext: sealed.ciphertext,
        algorithm: 'RSAES_OAEP_SHA_256',
      });
      expect(opened.plaintext).toBe(plaintext);
    });
  });

  describe('data key pairs', () => {
    it.each([
      ['RSA_2048', { asymmetricKeyType: 'rsa', modulusLength: 2048 }, 'RSASSA_PSS_SHA_256'],
      ['ECC_NIST_P256', { asymmetricKeyType: 'ec', namedCurve: 'prime256v1' }, 'ECDSA_SHA_256'],
      ['ECC_NIST_EDWARDS25519', { asymmetricKeyType: 'ed25519' }, 'ED25519_SHA_512'],
    ] as const)(
      '%s: the private key ciphertext decrypts via /v1/decrypt to the returned PKCS#8, whose public half is publicKey',
      async (keyPairSpec, shape, algorithm) => {
        const context = { purpose: 'data-key-pair' };
        const pair = await api.ok<DataKeyPairReply>('POST', '/v1/datakey-pair', {
          keyId: symmetric.keyId,
          keyPairSpec,
          context,
        });
        expect(pair).toMatchObject({ keyId: symmetric.keyId, keyPairSpec });
        const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', {
          ciphertext: pair.privateKeyCiphertext,
          context,
        });
        expect(opened.plaintext).toBe(pair.privateKeyPlaintext);

        const privateKey = createPrivateKey({
          key: unb64(pair.privateKeyPlaintext!),
          format: 'der',
          type: 'pkcs8',
        });
        const { asymmetricKeyType, ...details } = shape as { asymmetricKeyType: string };
        expect(privateKey.asymmetricKeyType).toBe(asymmetricKeyType);
        expect(privateKey.asymmetricKeyDetails).toMatchObject(details);
        const derivedPublic = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
        expect(derivedPublic).toEqual(unb64(pair.publicKey));

        const message = Buffer.from('signed with a data key pair');
        const { hash, scheme } = ALGORITHMS[algorithm]!;
        const signature =
          scheme === 'ED25519'
            ? nodeSign(null, message, privateKey)
            : nodeSign(hash, message, {
                key: privateKey,
                padding: constants.RSA_PKCS1_PSS_PADDING,
                saltLength: createHash(hash).digest().length,
              });
        const publicKey = createPublicKey({ key: unb64(pair.publicKey), format: 'der', type: 'spki' });
        expect(verifyWithNode(publicKey, algorithm, message, signature)).toBe(true);
      },
    );

    it('withoutPlaintext returns no private key, and the ciphertext still decrypts to a matching PKCS#8', async () => {
      const pair = await api.ok<DataKeyPairReply>('POST', '/v1/datakey-pair', {
        keyId: symmetric.keyId,
        keyPairSpec: 'ECC_NIST_P384',
        withoutPlaintext: true,
      });
      expect(pair).not.toHaveProperty('privateKeyPlaintext');
      const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', {
        ciphertext: pair.privateKeyCiphertext,
      });
      const privateKey = createPrivateKey({ key: unb64(opened.plaintext), format: 'der', type: 'pkcs8' });
      expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(
        unb64(pair.publicKey),
      );
    });

    it('refuses a data key pair under a signing key with 400 KeyUsageMismatch, and an unknown pair spec with 400', async () => {
      const body = { keyId: signer('ECC_NIST_P256').key.keyId, keyPairSpec: 'ECC_NIST_P256' };
      expectError(await api.post('/v1/datakey-pair', body), 400, 'KeyUsageMismatch');
      const unknown = { keyId: symmetric.keyId, keyPairSpec: 'DSA_1024' };
      expectError(await api.post('/v1/datakey-pair', unknown), 400, 'ValidationError');
    });
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
