import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { KmsError } from '../../../src/domain/errors.js';
import type { KeySpec, KeyUsage, MacAlgorithm, SigningAlgorithm } from '../../../src/domain/key-spec.js';
import { signingAlgorithmsFor } from '../../../src/domain/key-spec.js';
import { verifySignature } from '../../../src/crypto/signature.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import { attemptRsaOperation } from './extraction-attempts.js';
import {
  createPkcs11Fixture,
  parseListObjects,
  type Pkcs11Fixture,
  createVersionRef,
  kmsErrorCode,
} from './fixtures.js';

describe('Pkcs11KeyBackend (protection level HSM) on SoftHSM2', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;
  const createRef = (keySpec: KeySpec, usage?: KeyUsage): Promise<VersionRef> =>
    createVersionRef(store.backend, keySpec, usage);

  const listed = () => parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('keeps each version as a labelled, sensitive, non-extractable token object', async () => {
    const ref = await createRef('SYMMETRIC_DEFAULT');
    // The blob: the object's label, then a zero byte, "generated" (1) and its 16-byte check value.
    const label = Buffer.from(`keyhaven/${ref.keyId}/v1`);
    expect(ref.version.material.subarray(0, label.length)).toEqual(label);
    expect([...ref.version.material.subarray(label.length, label.length + 2)]).toEqual([0, 1]);
    expect(ref.version.material.length).toBe(label.length + 2 + 16);
    const object = listed().find((o) => o.label === `keyhaven/${ref.keyId}/v1`);
    expect(object?.kind).toBe('Secret Key');
    expect(object?.flags).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
    expect(() =>
      fixture.hsm.pkcs11Tool(['--read-object', '--type', 'secrkey', '--label', `keyhaven/${ref.keyId}/v1`]),
    ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
  });

  it('encrypts with AES-256-GCM inside the HSM and rejects any tampering', async () => {
    const ref = await createRef('SYMMETRIC_DEFAULT');
    const iv = randomBytes(12);
    const aad = Buffer.from('header and context');
    for (const plaintext of [Buffer.from('attack at dawn'), Buffer.alloc(0), randomBytes(4096)]) {
      const { ciphertext, tag } = await store.backend.encrypt(ref, iv, plaintext, aad);
      expect(ciphertext.length).toBe(plaintext.length);
      expect(tag.length).toBe(16);
      expect(await store.backend.decrypt(ref, iv, ciphertext, tag, aad)).toEqual(plaintext);
      const badTag = Buffer.from(tag);
      badTag[0]! ^= 1;
      expect(await kmsErrorCode(store.backend.decrypt(ref, iv, ciphertext, badTag, aad))).toBe(
        'InvalidCiphertext',
      );
      expect(await kmsErrorCode(store.backend.decrypt(ref, iv, ciphertext, tag, Buffer.from('other')))).toBe(
        'InvalidCiphertext',
      );
    }
    expect(store.failover.primary.circuit).toBe('closed');
  });

  it('produces exactly the AES-GCM output of the same key in software (the shared ciphertext format)', async () => {
    // A key with a known value is created the same way the token creates ours (but extractable=false
    // prevents reading ours): compare the HSM's GCM with node:crypto's on a known-value token key.
    const known = randomBytes(32);
    const iv = randomBytes(12);
    const aad = randomBytes(40);
    const plaintext = randomBytes(100);
    const fromHsm = await store.failover.run(async (scope) => {
      const pkcs11js = (await import('pkcs11js')).default;
      const handle = scope.api.C_CreateObject(scope.session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_VALUE, value: known },
      ]);
      const { hsmGcmEncrypt } = await import('../../../src/adapters/keystore/pkcs11/hsm-aes-gcm.js');
      try {
        return await hsmGcmEncrypt(scope, handle, iv, aad, plaintext);
      } finally {
        scope.api.C_DestroyObject(scope.session, handle);
      }
    });
    const cipher = createCipheriv('aes-256-gcm', known, iv);
    cipher.setAAD(aad);
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    expect(fromHsm.ciphertext).toEqual(expected);
    expect(fromHsm.tag).toEqual(cipher.getAuthTag());
  });

  it('gives an RSA key one function by its usage and restricts every key to its mechanisms (pkcs11-tool)', async () => {
    const signing = await createRef('RSA_2048', 'SIGN_VERIFY');
    const decrypting = await createRef('RSA_2048', 'ENCRYPT_DECRYPT');
    const aes = await createRef('SYMMETRIC_DEFAULT');
    const ec = await createRef('ECC_NIST_P256');
    const hmac = await createRef('HMAC_256');
    const objects = listed();
    const object = (ref: VersionRef) => objects.find((o) => o.label === `keyhaven/${ref.keyId}/v1`)!;
    expect(object(signing).usage).toContain('sign');
    expect(object(signing).usage).not.toContain('decrypt');
    expect(object(signing).allowedMechanisms).toEqual(
      expect.arrayContaining(['RSA-PKCS-PSS', 'SHA256-RSA-PKCS']),
    );
    expect(object(signing).allowedMechanisms).not.toContain('RSA-PKCS-OAEP');
    expect(object(decrypting).usage).toContain('decrypt');
    expect(object(decrypting).usage).not.toContain('sign');
    expect(object(decrypting).allowedMechanisms).toEqual(['RSA-PKCS-OAEP']);
    expect(object(ec).allowedMechanisms).toEqual(['ECDSA']);
    // The token itself refuses the other function, whatever the caller asks (user PIN, pkcs11js):
    // C_Decrypt in one part, since SoftHSM has no multi-part RSA decryption for pkcs11-tool.
    const attempt = (operation: 'decrypt' | 'sign', ref: VersionRef, input: Buffer) =>
      attemptRsaOperation({
        operation,
        input,
        env: fixture.hsm.env,
        modulePath: fixture.hsm.modulePath,
        tokenLabel: fixture.hsm.label,
        pin: fixture.hsm.pin,
        keyLabel: `keyhaven/${ref.keyId}/v1`,
      });
    const decryptWith = (ref: VersionRef) =>
      attempt(
        'decrypt',
        ref,
        publicEncrypt(
          {
            key: createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' }),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: 'sha1',
          },
          Buffer.from('secret'),
        ),
      );
    expect(decryptWith(signing)).toMatch(/CKR_KEY_FUNCTION_NOT_PERMITTED/);
    expect(decryptWith(decrypting)).toBe('ALLOWED: secret');
    const input = join(fixture.dataDir, 'rsa-input.bin');
    writeFileSync(input, Buffer.from('to be signed'));
    expect(attempt('sign', decrypting, Buffer.from('to be signed'))).toMatch(
      /CKR_KEY_FUNCTION_NOT_PERMITTED/,
    );
    expect(attempt('sign', signing, Buffer.from('to be signed'))).toBe('ALLOWED: 256');
    // A mechanism outside CKA_ALLOWED_MECHANISMS is refused too (SHA-1 RSA is not in the list).
    expect(() =>
      fixture.hsm.pkcs11Tool([
        '--sign',
        '--label',
        `keyhaven/${signing.keyId}/v1`,
        '--mechanism',
        'SHA1-RSA-PKCS',
        '--input-file',
        input,
      ]),
    ).toThrow(/CKR_MECHANISM_INVALID|CKR_KEY_FUNCTION_NOT_PERMITTED/);
    // OpenSC 0.23 prints no allowed mechanisms for secret keys: the token's refusals show them.
    expect(() =>
      fixture.hsm.pkcs11Tool([
        '--encrypt',
        '--label',
        `keyhaven/${aes.keyId}/v1`,
        '--mechanism',
        'AES-CBC',
        '--iv',
        '00000000000000000000000000000000',
        '--input-file',
        input,
      ]),
    ).toThrow(/CKR_MECHANISM_INVALID|CKR_KEY_FUNCTION_NOT_PERMITTED/);
    expect(() =>
      fixture.hsm.pkcs11Tool([
        '--sign',
        '--label',
        `keyhaven/${hmac.keyId}/v1`,
        '--mechanism',
        'SHA512-HMAC',
        '--input-file',
        input,
      ]),
    ).toThrow(/CKR_MECHANISM_INVALID|CKR_KEY_FUNCTION_NOT_PERMITTED/);
    // While the permitted function works through Keyhaven.
    const signature = await store.backend.sign(
      signing,
      'RSASSA_PKCS1_V1_5_SHA_256',
      Buffer.from('ok'),
      'RAW',
    );
    expect(signature).toHaveLength(256);
    expect(await store.backend.mac(hmac, 'HMAC_SHA_256', Buffer.from('ok'))).toHaveLength(32);
  });

  it.each(['RSA_2048', 'RSA_3072', 'ECC_NIST_P256', 'ECC_NIST_P384'] as const)(
    'signs with %s inside the HSM; node:crypto verifies with the exported public key',
    async (spec) => {
      const ref = await createRef(spec);
      const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
      const message = Buffer.from(`message for ${spec}`);
      for (const algorithm of signingAlgorithmsFor(spec)) {
        const raw = await store.backend.sign(ref, algorithm, message, 'RAW');
        expect(verifySignature(publicKey, algorithm, message, 'RAW', raw), `${algorithm} RAW`).toBe(true);
        const hash = /SHA_(\d+)$/.exec(algorithm)![1]!;
        const digest = createHash(`sha${hash}`).update(message).digest();
        const pre = await store.backend.sign(ref, algorithm, digest, 'DIGEST');
        expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', pre), `${algorithm} DIGEST`).toBe(
          true,
        );
        // Independently of our own verifier: node:crypto over the RAW message.
        const options = algorithm.startsWith('RSASSA_PSS')
          ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(hash) / 8 }
          : algorithm.startsWith('ECDSA')
            ? { key: publicKey, dsaEncoding: 'der' as const }
            : { key: publicKey, padding: constants.RSA_PKCS1_PADDING };
        expect(verify(`sha${hash}`, message, options, raw), `${algorithm} node`).toBe(true);
      }
      expect(
        await kmsErrorCode(
          store.backend.sign(ref, signingAlgorithmsFor(spec)[0]!, Buffer.alloc(5), 'DIGEST'),
        ),
      ).toBe('ValidationError');
    },
  );

  it('decrypts RSAES-OAEP inside the HSM, one error for any bad ciphertext', async () => {
    const ref = await createRef('RSA_2048', 'ENCRYPT_DECRYPT');
    const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
    const plaintext = Buffer.from('a data key, say');
    const ciphertext = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      plaintext,
    );
    expect(await store.backend.rsaDecrypt(ref, 'RSAES_OAEP_SHA_1', ciphertext)).toEqual(plaintext);
    const tampered = Buffer.from(ciphertext);
    tampered[10]! ^= 1;
    expect(await kmsErrorCode(store.backend.rsaDecrypt(ref, 'RSAES_OAEP_SHA_1', tampered))).toBe(
      'InvalidCiphertext',
    );
    expect(
      await kmsErrorCode(store.backend.rsaDecrypt(ref, 'RSAES_OAEP_SHA_1', ciphertext.subarray(1))),
    ).toBe('InvalidCiphertext');
    expect(store.failover.primary.circuit).toBe('closed');
  });

  it('answers ValidationError (not 500, not Unavailable) where the token lacks OAEP with SHA-256', async () => {
    // SoftHSM 2.6 implements CKM_RSA_PKCS_OAEP with SHA-1 only; a token that has SHA-256 decrypts.
    const ref = await createRef('RSA_2048', 'ENCRYPT_DECRYPT');
    const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
    const plaintext = Buffer.from('a data key, say');
    const ciphertext = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      plaintext,
    );
    const outcome = await store.backend.rsaDecrypt(ref, 'RSAES_OAEP_SHA_256', ciphertext).then(
      (decrypted) => decrypted.equals(plaintext),
      (error: unknown) => (error instanceof KmsError ? error.code : error),
    );
    expect([true, 'ValidationError']).toContain(outcome);
    expect(store.failover.primary.circuit).toBe('closed');
  });

  it.each(['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'] as const)(
    'computes %s inside the HSM: stable per key, different across keys',
    async (spec) => {
      const algorithm = `HMAC_SHA_${spec.slice(5)}` as MacAlgorithm;
      const ref = await createRef(spec);
      const other = await createRef(spec);
      const message = Buffer.from('mac me');
      const mac = await store.backend.mac(ref, algorithm, message);
      expect(mac.length).toBe(Number(spec.slice(5)) / 8);
      expect(await store.backend.mac(ref, algorithm, message)).toEqual(mac);
      expect(await store.backend.mac(other, algorithm, message)).not.toEqual(mac);
      expect((await store.backend.mac(ref, algorithm, Buffer.alloc(0))).length).toBe(mac.length);
    },
  );

  it('refuses operations it cannot do inside the token', async () => {
    const ref = await createRef('SYMMETRIC_DEFAULT');
    expect(await kmsErrorCode(store.backend.deriveKey())).toBe('ValidationError');
    expect(await kmsErrorCode(store.backend.importVersionMaterial())).toBe('ValidationError');
    expect(
      await kmsErrorCode(
        store.backend.sign(ref, 'ECDSA_SHA_256' as SigningAlgorithm, Buffer.alloc(1), 'RAW'),
      ),
    ).toBe('KeyUsageMismatch');
    const hmac = await createRef('HMAC_256');
    expect(await kmsErrorCode(store.backend.wrapKey(hmac, randomBytes(32)))).toBe('KeyUsageMismatch');
  });

  it('refuses a stored reference that names another version (no swapping blobs)', async () => {
    const a = await createRef('SYMMETRIC_DEFAULT');
    const b = await createRef('SYMMETRIC_DEFAULT');
    const swapped: VersionRef = { ...a, version: { ...a.version, material: b.version.material } };
    expect(
      await kmsErrorCode(store.backend.encrypt(swapped, randomBytes(12), Buffer.from('x'), Buffer.alloc(0))),
    ).toBe('Internal');
  });

  it('makes a new object per version, and destroying a version removes its object', async () => {
    const ref = await createRef('ECC_NIST_P256');
    const v2 = await store.backend.createVersionMaterial(ref.keyId, 2, 'ECC_NIST_P256');
    const labels = () => listed().map((o) => o.label);
    expect(labels()).toEqual(
      expect.arrayContaining([`keyhaven/${ref.keyId}/v1`, `keyhaven/${ref.keyId}/v2`]),
    );
    expect(v2.publicKeySpki).not.toEqual(ref.version.publicKeySpki);
    await store.backend.destroyVersionMaterial(ref);
    expect(labels()).not.toContain(`keyhaven/${ref.keyId}/v1`);
    expect(labels()).toContain(`keyhaven/${ref.keyId}/v2`);
    // Idempotent: the deletion job may run again after a partial failure.
    await store.backend.destroyVersionMaterial(ref);
    expect(await kmsErrorCode(store.backend.sign(ref, 'ECDSA_SHA_256', Buffer.from('m'), 'RAW'))).toBe(
      'Unavailable',
    );
  });
});
