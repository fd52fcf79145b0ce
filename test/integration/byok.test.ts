// BYOK over real HTTP: EXTERNAL-origin keys, import parameters, RSA-OAEP-SHA-256 wrapped material
// (symmetric, HMAC, private keys, verify-only public keys), single-use tokens and refusals. Imported
// known material lets node:crypto check the server's HMAC, AES-KWP and HKDF independently.
import {
  constants,
  createDecipheriv,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  publicEncrypt,
  randomBytes,
  randomUUID,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createImportedKey,
  getImportParameters,
  importMaterial,
  wrapForImport,
  wrappingAlgorithmFor,
} from './byok.js';
import { b64, expectError, unb64, type Api } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import type {
  DecryptReply,
  EncryptReply,
  KeyReply,
  MacReply,
  PublicKeyReply,
  SignReply,
  ValidReply,
} from './wire-types.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const ecPair = (namedCurve: string) =>
  generateKeyPairSync('ec', {
    namedCurve,
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });

const rsaPairs = new Map<string, { privateKey: Buffer; publicKey: Buffer }>();

/**
 * An RSA pair (PKCS#8 and SPKI DER) made once per file for the test named by `use`, so both key
 * stores' servers import the same pair: an RSA-4096 generation alone takes seconds of CPU, and a
 * second pair proves nothing the first did not (each server is its own deployment).
 */
function rsaPairFor(use: string, modulusLength: number): { privateKey: Buffer; publicKey: Buffer } {
  const id = `${use}:${modulusLength}`;
  let pair = rsaPairs.get(id);
  if (!pair) {
    pair = generateKeyPairSync('rsa', {
      modulusLength,
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      publicKeyEncoding: { type: 'spki', format: 'der' },
    });
    rsaPairs.set(id, pair);
  }
  return pair;
}

describe.each(keyStoreProfiles)('BYOK import over REST ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;

  beforeAll(async () => {
    suite = await startSuiteServer(profile);
    api = suite.api;
  });
  afterAll(async () => {
    await suite?.server.dispose();
  });

  describe('EXTERNAL keys and import parameters', () => {
    it('an EXTERNAL key starts in PendingImport without a version and refuses use with 409 Conflict', async () => {
      const key = await createKey(api, { origin: 'EXTERNAL' });
      expect(key).toMatchObject({ state: 'PendingImport', origin: 'EXTERNAL', currentVersion: 0 });
      expectError(await api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') }), 409, 'Conflict');
      const signer = await createKey(api, { keySpec: 'ECC_NIST_P256', origin: 'EXTERNAL' });
      expectError(await api.get(`/v1/keys/${signer.keyId}/public-key`), 409, 'Conflict');
    });

    it('import parameters hold a single-use token and an RSA-3072 wrapping key for RSAES_OAEP_SHA_256, valid ~24 h', async () => {
      const key = await createKey(api, { origin: 'EXTERNAL' });
      const [first, second] = await Promise.all([
        getImportParameters(api, key.keyId, 'server default'),
        getImportParameters(api, key.keyId, 'server default'),
      ]);
      expect(first).toMatchObject({ keyId: key.keyId, wrappingAlgorithm: 'RSAES_OAEP_SHA_256' });
      expect(first.importToken).not.toBe(second.importToken);
      const wrappingKey = createPublicKey(first.wrappingPublicKey);
      expect(wrappingKey.asymmetricKeyType).toBe('rsa');
      expect(wrappingKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
      expect(Math.abs(new Date(first.expiresAt).getTime() - (Date.now() + DAY_MS))).toBeLessThan(60_000);
    });

    it('import parameters for a KEYHAVEN-origin key answer 409 Conflict; for an unknown key 404', async () => {
      const key = await createKey(api);
      expectError(await api.get(`/v1/keys/import-parameters?keyId=${key.keyId}`), 409, 'Conflict');
      expectError(await api.get(`/v1/keys/import-parameters?keyId=${randomUUID()}`), 404, 'NotFound');
      expectError(await api.get('/v1/keys/import-parameters'), 400, 'ValidationError');
    });
  });

  describe('symmetric material', () => {
    it('imports 32 random bytes into SYMMETRIC_DEFAULT: Enabled v1, encrypt/decrypt round-trips', async () => {
      const key = await createImportedKey(api, { keySpec: 'SYMMETRIC_DEFAULT' }, randomBytes(32));
      expect(key).toMatchObject({ state: 'Enabled', currentVersion: 1, origin: 'EXTERNAL' });
      const plaintext = b64('sealed under imported material');
      const sealed = await api.ok<EncryptReply>('POST', '/v1/encrypt', {
        keyId: key.keyId,
        plaintext,
        context: { k: 'v' },
      });
      const opened = await api.ok<DecryptReply>('POST', '/v1/decrypt', {
        ciphertext: sealed.ciphertext,
        context: { k: 'v' },
      });
      expect(opened).toMatchObject({ keyId: key.keyId, plaintext });
    });

    it('a second import into an imported key answers 409 Conflict, and the key cannot be rotated (409)', async () => {
      const key = await createImportedKey(api, { keySpec: 'SYMMETRIC_DEFAULT' }, randomBytes(32));
      // The key left PendingImport, so not even new import parameters are handed out.
      expectError(await api.get(`/v1/keys/import-parameters?keyId=${key.keyId}`), 409, 'Conflict');
      const response = await api.post(`/v1/keys/${key.keyId}/import`, {
        importToken: 'a'.repeat(32),
        encryptedKeyMaterial: b64(randomBytes(384)),
      });
      expectError(response, 409, 'Conflict');
      expectError(await api.post(`/v1/keys/${key.keyId}/rotate`), 409, 'Conflict');
    });

    it('an import token is single-use: reused after a failed import it answers 400 ValidationError', async () => {
      const key = await createKey(api, { origin: 'EXTERNAL' });
      const parameters = await getImportParameters(api, key.keyId);
      const importWith = (material: Buffer) =>
        api.post<KeyReply>(`/v1/keys/${key.keyId}/import`, {
          importToken: parameters.importToken,
          encryptedKeyMaterial: b64(wrapForImport(parameters, material)),
        });
      expectError(await importWith(randomBytes(16)), 400, 'ValidationError');
      expectError(await importWith(randomBytes(32)), 400, 'ValidationError');
      expect((await api.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`)).key.state).toBe('PendingImport');
    });

    it("another key's import token answers 400 ValidationError and is not spent", async () => {
      const [a, b] = await Promise.all([
        createKey(api, { origin: 'EXTERNAL' }),
        createKey(api, { origin: 'EXTERNAL' }),
      ]);
      const parameters = await getImportParameters(api, a.keyId);
      const response = await api.post(`/v1/keys/${b.keyId}/import`, {
        importToken: parameters.importToken,
        encryptedKeyMaterial: b64(wrapForImport(parameters, randomBytes(32))),
      });
      expectError(response, 400, 'ValidationError');
      // Naming the wrong key did not spend the token: its own key still imports with it.
      const imported = await api.post<KeyReply>(`/v1/keys/${a.keyId}/import`, {
        importToken: parameters.importToken,
        encryptedKeyMaterial: b64(wrapForImport(parameters, randomBytes(32))),
      });
      expect(imported.status, imported.text).toBe(200);
      expect(imported.body.key.state).toBe('Enabled');
    });

    it('lists no versions of a key awaiting its import, and still names the key', async () => {
      const key = await createKey(api, { origin: 'EXTERNAL' });
      const listed = await api.ok<{ keyId: string; versions: unknown[] }>(
        'GET',
        `/v1/keys/${key.keyId}/versions`,
      );
      expect(listed).toEqual({ keyId: key.keyId, versions: [] });
    });

    it('refuses garbage encryptedKeyMaterial with 400 InvalidCiphertext, and non-base64 with 400 ValidationError', async () => {
      const key = await createKey(api, { origin: 'EXTERNAL' });
      const parameters = await getImportParameters(api, key.keyId);
      const response = await api.post(`/v1/keys/${key.keyId}/import`, {
        importToken: parameters.importToken,
        encryptedKeyMaterial: b64(randomBytes(384)),
      });
      expectError(response, 400, 'InvalidCiphertext');
      const notBase64 = await api.post(`/v1/keys/${key.keyId}/import`, {
        importToken: (await getImportParameters(api, key.keyId)).importToken,
        encryptedKeyMaterial: 'this is not base64!',
      });
      expectError(notBase64, 400, 'ValidationError');
    });

    it('refuses SYMMETRIC_DEFAULT material that is not 32 bytes with 400 ValidationError', async () => {
      for (const length of [16, 33]) {
        const key = await createKey(api, { origin: 'EXTERNAL' });
        expectError(await importMaterial(api, key.keyId, randomBytes(length)), 400, 'ValidationError');
      }
    });

    it('HMAC_256 with known material: /v1/mac equals node:crypto HMAC-SHA-256, and verifies', async () => {
      const material = randomBytes(32);
      const key = await createImportedKey(api, { keySpec: 'HMAC_256' }, material);
      const message = Buffer.from('mac me independently');
      const { mac } = await api.ok<MacReply>('POST', '/v1/mac', {
        keyId: key.keyId,
        message: b64(message),
        algorithm: 'HMAC_SHA_256',
      });
      expect(unb64(mac)).toEqual(createHmac('sha256', material).update(message).digest());
      const ownMac = createHmac('sha256', material).update('another').digest();
      const { valid } = await api.ok<ValidReply>('POST', '/v1/mac/verify', {
        keyId: key.keyId,
        message: b64('another'),
        mac: b64(ownMac),
        algorithm: 'HMAC_SHA_256',
      });
      expect(valid).toBe(true);
    });

    it('AES key with known material: /v1/wrap unwraps with node:crypto AES-KWP, /v1/derive equals node HKDF-SHA-256', async () => {
      const material = randomBytes(32);
      const key = await createImportedKey(api, { keySpec: 'SYMMETRIC_DEFAULT' }, material);
      const secret = randomBytes(45);
      const { wrappedKey } = await api.ok<{ wrappedKey: string }>('POST', '/v1/wrap', {
        keyId: key.keyId,
        keyMaterial: b64(secret),
      });
      // RFC 5649 §3: the alternative initial value A65959A6 followed by the 32-bit length.
      const decipher = createDecipheriv('id-aes256-wrap-pad', material, Buffer.from('A65959A6', 'hex'));
      expect(Buffer.concat([decipher.update(unb64(wrappedKey)), decipher.final()])).toEqual(secret);

      // HKDF (RFC 5869) with the key as IKM and the context as info.
      const salt = randomBytes(16);
      const { derivedKey } = await api.ok<{ derivedKey: string }>('POST', '/v1/derive', {
        keyId: key.keyId,
        context: 'tenant=acme',
        salt: b64(salt),
        length: 42,
      });
      const expected = Buffer.from(hkdfSync('sha256', material, salt, Buffer.from('tenant=acme'), 42));
      expect(unb64(derivedKey)).toEqual(expected);
      const unsalted = await api.ok<{ derivedKey: string }>('POST', '/v1/derive', {
        keyId: key.keyId,
        context: 'x',
        length: 32,
      });
      expect(unb64(unsalted.derivedKey)).toEqual(
        Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'x', 32)),
      );
    });
  });

  describe('private keys', () => {
    it.each([
      ['ECC_NIST_P256', 'prime256v1', 'ECDSA_SHA_256', 'sha256'],
      ['ECC_NIST_P384', 'secp384r1', 'ECDSA_SHA_384', 'sha384'],
      ['ECC_NIST_P521', 'secp521r1', 'ECDSA_SHA_512', 'sha512'],
      ['ECC_SECG_P256K1', 'secp256k1', 'ECDSA_SHA_256', 'sha256'],
    ])(
      'imports a %s PKCS#8 private key: API signatures verify with node:crypto under our own public key',
      async (keySpec, curve, algorithm, hash) => {
        const pair = ecPair(curve);
        const key = await createImportedKey(api, { keySpec }, pair.privateKey);
        const { spki } = await api.ok<PublicKeyReply>('GET', `/v1/keys/${key.keyId}/public-key`);
        expect(unb64(spki)).toEqual(pair.publicKey);
        const message = Buffer.from(`signed by an imported ${keySpec} key`);
        const signed = await api.ok<SignReply>('POST', '/v1/sign', {
          keyId: key.keyId,
          message: b64(message),
          algorithm,
        });
        const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
        expect(
          nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, unb64(signed.signature)),
        ).toBe(true);
      },
    );

    it.each([
      ['RSA_2048', 2048, 'ENCRYPT_DECRYPT'],
      ['RSA_4096', 4096, 'SIGN_VERIFY'],
    ] as const)(
      'imports a %s PKCS#8 private key with RSA_AES_KEY_WRAP_SHA_256 (too large for one OAEP block)',
      async (keySpec, modulusLength, keyUsage) => {
        const pair = rsaPairFor('private key import', modulusLength);
        expect(wrappingAlgorithmFor(pair.privateKey)).toBe('RSA_AES_KEY_WRAP_SHA_256');
        const key = await createImportedKey(api, { keySpec, keyUsage }, pair.privateKey);
        const { spki } = await api.ok<PublicKeyReply>('GET', `/v1/keys/${key.keyId}/public-key`);
        expect(unb64(spki)).toEqual(pair.publicKey);
        const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
        if (keyUsage === 'SIGN_VERIFY') {
          const message = Buffer.from('signed by an imported RSA key');
          const signed = await api.ok<SignReply>('POST', '/v1/sign', {
            keyId: key.keyId,
            message: b64(message),
            algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
          });
          expect(nodeVerify('sha256', message, publicKey, unb64(signed.signature))).toBe(true);
        } else {
          const secret = Buffer.from('only the imported private key opens this');
          const ciphertext = publicEncrypt(
            { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            secret,
          );
          const opened = await api.ok<{ plaintext: string }>('POST', '/v1/asymmetric/decrypt', {
            keyId: key.keyId,
            ciphertext: b64(ciphertext),
            algorithm: 'RSAES_OAEP_SHA_256',
          });
          expect(unb64(opened.plaintext)).toEqual(secret);
        }
      },
    );

    it('imports an Ed25519 PKCS#8 private key: API signatures verify with node:crypto', async () => {
      const pair = generateKeyPairSync('ed25519', {
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
        publicKeyEncoding: { type: 'spki', format: 'der' },
      });
      const key = await createImportedKey(api, { keySpec: 'ECC_NIST_EDWARDS25519' }, pair.privateKey);
      const message = Buffer.from('ed25519 import');
      const signed = await api.ok<SignReply>('POST', '/v1/sign', {
        keyId: key.keyId,
        message: b64(message),
        algorithm: 'ED25519_SHA_512',
      });
      const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
      expect(nodeVerify(null, message, publicKey, unb64(signed.signature))).toBe(true);
    });

    it('refuses a private key of the wrong curve with 400 ValidationError; the key stays PendingImport', async () => {
      const key = await createKey(api, { keySpec: 'ECC_NIST_P256', origin: 'EXTERNAL' });
      // secp256k1: same size, other curve; then bytes that are no PKCS#8 at all.
      expectError(
        await importMaterial(api, key.keyId, ecPair('secp256k1').privateKey),
        400,
        'ValidationError',
      );
      expectError(await importMaterial(api, key.keyId, randomBytes(100)), 400, 'ValidationError');
      expect((await api.ok<KeyReply>('GET', `/v1/keys/${key.keyId}`)).key.state).toBe('PendingImport');
      const response = await importMaterial(api, key.keyId, ecPair('prime256v1').privateKey);
      expect(response.status, response.text).toBe(200);
    });

    it('refuses a keyMaterialType that does not fit the key spec with 400 ValidationError', async () => {
      const ec = await createKey(api, { keySpec: 'ECC_NIST_P256', origin: 'EXTERNAL' });
      expectError(await importMaterial(api, ec.keyId, randomBytes(32), 'SYMMETRIC'), 400, 'ValidationError');
      const aes = await createKey(api, { origin: 'EXTERNAL' });
      expectError(
        await importMaterial(api, aes.keyId, ecPair('prime256v1').publicKey, 'PUBLIC_KEY'),
        400,
        'ValidationError',
      );
    });
  });

  describe('verify-only public keys', () => {
    it('imports an ECC_NIST_P256 SPKI as PUBLIC_KEY: verifies node:crypto signatures, refuses to sign (400 KeyUsageMismatch)', async () => {
      const pair = ecPair('prime256v1');
      const key = await createImportedKey(api, { keySpec: 'ECC_NIST_P256' }, pair.publicKey, 'PUBLIC_KEY');
      expect(key).toMatchObject({ state: 'Enabled', publicKeyOnly: true });
      const message = Buffer.from('verify only');
      const privateKey = { key: pair.privateKey, format: 'der', type: 'pkcs8', dsaEncoding: 'der' } as const;
      const signature = nodeSign('sha256', message, privateKey);
      const verify = (msg: Buffer) =>
        api.ok<ValidReply>('POST', '/v1/verify', {
          keyId: key.keyId,
          message: b64(msg),
          signature: b64(signature),
          algorithm: 'ECDSA_SHA_256',
        });
      expect((await verify(message)).valid).toBe(true);
      expect((await verify(Buffer.from('verify onlY'))).valid).toBe(false);
      const sign = { keyId: key.keyId, message: b64(message), algorithm: 'ECDSA_SHA_256' };
      expectError(await api.post('/v1/sign', sign), 400, 'KeyUsageMismatch');
      expect(unb64((await api.ok<PublicKeyReply>('GET', `/v1/keys/${key.keyId}/public-key`)).spki)).toEqual(
        pair.publicKey,
      );
    });

    it('imports an RSA_2048 SPKI as PUBLIC_KEY and verifies a node:crypto PKCS#1 v1.5 signature', async () => {
      const pair = rsaPairFor('verify-only', 2048);
      const key = await createImportedKey(
        api,
        { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' },
        pair.publicKey,
        'PUBLIC_KEY',
      );
      const message = Buffer.from('rsa verify only');
      const signature = nodeSign('sha256', message, { key: pair.privateKey, format: 'der', type: 'pkcs8' });
      const { valid } = await api.ok<ValidReply>('POST', '/v1/verify', {
        keyId: key.keyId,
        message: b64(message),
        signature: b64(signature),
        algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      });
      expect(valid).toBe(true);
    });

    it('refuses a public key of the wrong curve or size with 400 ValidationError', async () => {
      const key = await createKey(api, { keySpec: 'ECC_NIST_P384', origin: 'EXTERNAL' });
      expectError(
        await importMaterial(api, key.keyId, ecPair('prime256v1').publicKey, 'PUBLIC_KEY'),
        400,
        'ValidationError',
      );
      expectError(
        await importMaterial(api, key.keyId, randomBytes(120), 'PUBLIC_KEY'),
        400,
        'ValidationError',
      );
    });
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
