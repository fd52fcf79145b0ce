// BYOK into the HSM (issue 16 §2) on SoftHSM2, in process: the import wrapping key pair is made in
// the token and can only unwrap, under an unwrap template; material wrapped to it lands in the
// version's object without passing through this process in clear; the object holds exactly that
// material (results match node:crypto's with the same bytes); what a PIN holder can try with a
// captured blob is refused; and an object planted under an imported key's label is refused.
import { constants, createHmac, createPublicKey, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { decodeVersionReference } from '../../../src/adapters/keystore/pkcs11/pkcs11-version-reference.js';
import { aesKwpUnwrap } from '../../../src/crypto/keywrap.js';
import type { KmsError } from '../../../src/domain/errors.js';
import type { KeySpec } from '../../../src/domain/key-spec.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import { attemptImportExtraction } from './extraction-attempts.js';
import { createPkcs11Fixture, kmsErrorCode, parseListObjects, type Pkcs11Fixture } from './fixtures.js';
import { plantSecretKey } from './plant-object.js';

const DAY_MS = 86_400_000;
/** The AWS-style kind of a ValidationError (ExpiredImportToken, ...), or the error's code. */
const refusal = async (promise: Promise<unknown>) =>
  promise.then(
    () => 'succeeded',
    (error: KmsError) => error.validation ?? error.code,
  );
const oaepSha1 = (publicKeySpki: Buffer, material: Buffer) =>
  publicEncrypt(
    {
      key: createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha1',
    },
    material,
  );

describe('import of key material into the HSM (SoftHSM2)', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;
  const objects = () => parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));
  const importLabels = () => objects().filter((o) => o.label.startsWith('keyhaven-import/'));

  async function importKey(spec: KeySpec, material: Buffer, keyId = randomUUID()) {
    const parameters = await store.backend.wrappedImport.createWrappingKey(
      keyId,
      randomUUID(),
      2048,
      new Date(Date.now() + DAY_MS),
    );
    const made = await store.backend.wrappedImport.importWrapped({
      keyId,
      version: 1,
      spec,
      reference: parameters.reference,
      encrypted: oaepSha1(parameters.publicKeySpki, material),
    });
    const ref: VersionRef = {
      keyId,
      keySpec: spec,
      version: { keyId, version: 1, state: 'Enabled', createdAt: new Date(), ...made },
    };
    return { ref, made, parameters };
  }

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('makes the wrapping key pair in the token: private half unwrap-only, sensitive, not extractable', async () => {
    const parameters = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'pair-check',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    const label = parameters.reference.toString('utf8');
    expect(label).toMatch(/^keyhaven-import\/[\w-]+\/\d+\/pair-check$/);
    const pair = objects().find((o) => o.label === label);
    expect(pair?.kind).toBe('Private Key');
    expect(pair?.usage).toEqual(['unwrap']);
    expect(pair?.flags).toEqual(
      expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable', 'local']),
    );
    expect(pair?.allowedMechanisms).toEqual(['RSA-PKCS-OAEP']);
    await store.backend.wrappedImport.discardWrappingKey(parameters.reference);
    expect(objects().some((o) => o.label === label)).toBe(false);
  });

  it('imports AES material: the token wraps with it exactly as node:crypto would with the same bytes', async () => {
    const material = randomBytes(32);
    const { ref, made } = await importKey('SYMMETRIC_DEFAULT', material);
    expect(made.checkValue).toHaveLength(16);
    const sample = randomBytes(32);
    const wrapped = await store.backend.wrapKey(ref, sample);
    expect(aesKwpUnwrap(material, wrapped).equals(sample)).toBe(true);
    const sealed = await store.backend.encrypt(ref, randomBytes(12), Buffer.from('hello'), Buffer.alloc(0));
    expect(sealed.tag).toHaveLength(16);
    // The object: sensitive, not extractable, not local (it was unwrapped); the key pair is gone.
    // Each import's object is labelled under the version's label.
    const object = objects().find((o) => o.label.startsWith(`keyhaven/${ref.keyId}/v1/`));
    expect(object?.flags).toContain('sensitive');
    expect(object?.flags).not.toContain('extractable');
    expect(object?.flags).not.toContain('local');
    expect(importLabels()).toEqual([]);
  });

  it('imports HMAC material of each spec: MACs equal node:crypto HMAC with the same key', async () => {
    const cases = [
      ['HMAC_224', 28, 'sha224', 'HMAC_SHA_224'],
      ['HMAC_256', 32, 'sha256', 'HMAC_SHA_256'],
      ['HMAC_384', 48, 'sha384', 'HMAC_SHA_384'],
      ['HMAC_512', 64, 'sha512', 'HMAC_SHA_512'],
    ] as const;
    for (const [spec, bytes, hash, algorithm] of cases) {
      const material = randomBytes(bytes);
      const { ref } = await importKey(spec, material);
      const message = randomBytes(100);
      const mac = await store.backend.mac(ref, algorithm, message);
      expect(mac.equals(createHmac(hash, material).update(message).digest()), spec).toBe(true);
    }
  });

  it('the check value is a fixed function of the material: same bytes, same value; other bytes, another', async () => {
    const material = randomBytes(32);
    const first = await importKey('SYMMETRIC_DEFAULT', material);
    const second = await importKey('SYMMETRIC_DEFAULT', material);
    const other = await importKey('SYMMETRIC_DEFAULT', randomBytes(32));
    expect(first.made.checkValue.equals(second.made.checkValue)).toBe(true);
    expect(first.made.checkValue.equals(other.made.checkValue)).toBe(false);
  });

  it('refuses material the wrapping key did not wrap, material of an impossible length, and asymmetric specs', async () => {
    const parameters = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'tamper',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    const encrypted = oaepSha1(parameters.publicKeySpki, randomBytes(32));
    encrypted[10]! ^= 0x01;
    const keyId = randomUUID();
    const input = { keyId, version: 1, spec: 'SYMMETRIC_DEFAULT' as const, reference: parameters.reference };
    expect(await kmsErrorCode(store.backend.wrappedImport.importWrapped({ ...input, encrypted }))).toBe(
      'InvalidCiphertext',
    );
    // Single use: the pair went with the failed attempt.
    expect(
      await refusal(
        store.backend.wrappedImport.importWrapped({
          ...input,
          encrypted: oaepSha1(parameters.publicKeySpki, randomBytes(32)),
        }),
      ),
    ).toBe('ExpiredImportToken');
    expect(objects().some((o) => o.label.startsWith(`keyhaven/${keyId}/v1`))).toBe(false);

    const twenty = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'short',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    expect(
      await kmsErrorCode(
        store.backend.wrappedImport.importWrapped({
          keyId,
          version: 1,
          spec: 'SYMMETRIC_DEFAULT',
          reference: twenty.reference,
          encrypted: oaepSha1(twenty.publicKeySpki, randomBytes(20)),
        }),
      ),
    ).toBe('ValidationError');
    expect(objects().some((o) => o.label.startsWith(`keyhaven/${keyId}/v1`))).toBe(false);
    expect(
      await kmsErrorCode(
        store.backend.wrappedImport.importWrapped({ ...input, spec: 'ECC_NIST_P256', encrypted }),
      ),
    ).toBe('ValidationError');
    expect(importLabels()).toEqual([]);
  });

  it('with the user PIN and a captured wrapped blob, nothing readable comes out of the wrapping key', async () => {
    const material = randomBytes(32);
    const parameters = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'attack',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    const results = attemptImportExtraction({
      env: fixture.hsm.env,
      modulePath: fixture.hsm.modulePath,
      tokenLabel: fixture.hsm.label,
      pin: fixture.hsm.pin,
      importLabel: parameters.reference.toString('utf8'),
      wrapped: oaepSha1(parameters.publicKeySpki, material),
    });
    expect(results.found).toBe('yes');
    const { found: _found, ...attempts } = results;
    expect(Object.keys(attempts)).toHaveLength(8);
    for (const [attempt, outcome] of Object.entries(attempts)) {
      expect(outcome, attempt).toMatch(/^CKR_/);
      expect(outcome, attempt).not.toContain(material.toString('hex'));
    }
    expect(attempts['decrypt the wrapped material']).toBe('CKR_KEY_FUNCTION_NOT_PERMITTED');
    expect(attempts['unwrap as sensitive=false, extractable=true']).toBe('CKR_TEMPLATE_INCONSISTENT');
    await store.backend.wrappedImport.discardWrappingKey(parameters.reference);
  });

  it('keeps one wrapping key pair per key: new parameters destroy the earlier pair', async () => {
    const keyId = randomUUID();
    const first = await store.backend.wrappedImport.createWrappingKey(
      keyId,
      'first',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    const second = await store.backend.wrappedImport.createWrappingKey(
      keyId,
      'second',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    expect(importLabels().map((o) => o.label)).toEqual([second.reference.toString('utf8')]);
    expect(
      await refusal(
        store.backend.wrappedImport.importWrapped({
          keyId,
          version: 1,
          spec: 'SYMMETRIC_DEFAULT',
          reference: first.reference,
          encrypted: oaepSha1(first.publicKeySpki, randomBytes(32)),
        }),
      ),
    ).toBe('ExpiredImportToken');
    await store.backend.wrappedImport.discardWrappingKey(second.reference);
  });

  it('gives each import an object of its own: replaying the destruction of an earlier import leaves a re-import intact', async () => {
    const keyId = randomUUID();
    const material = randomBytes(32);
    const first = await importKey('SYMMETRIC_DEFAULT', material, keyId);
    await store.backend.destroyVersionMaterial(first.ref);
    const again = await importKey('SYMMETRIC_DEFAULT', material, keyId);
    expect(decodeVersionReference(again.made.material).label).not.toBe(
      decodeVersionReference(first.made.material).label,
    );
    expect(again.made.checkValue).toEqual(first.made.checkValue);
    // A destruction still queued for the first import runs late (the backend was down).
    await store.backend.destroyVersionMaterial(first.ref);
    const sample = randomBytes(16);
    expect(aesKwpUnwrap(material, await store.backend.wrapKey(again.ref, sample))).toEqual(sample);
  });

  it('a version whose object is gone fails alone: Unavailable, the token neither repaired nor counted against its circuit', async () => {
    const { ref } = await importKey('SYMMETRIC_DEFAULT', randomBytes(32));
    const { label } = decodeVersionReference(ref.version.material);
    fixture.hsm.pkcs11Tool(['--delete-object', '--type', 'secrkey', '--label', label]);
    const token = store.failover.primary;
    token.forgetHandle(label, pkcs11js.CKO_SECRET_KEY);
    const before = token.statistics();
    expect(
      await kmsErrorCode(store.backend.encrypt(ref, randomBytes(12), Buffer.from('x'), Buffer.alloc(0))),
    ).toBe('Unavailable');
    expect(token.circuit).toBe('closed');
    expect(token.statistics().failures).toBe(before.failures);
    // Other keys are served as before.
    const other = await importKey('SYMMETRIC_DEFAULT', randomBytes(32));
    expect(
      (await store.backend.encrypt(other.ref, randomBytes(12), Buffer.from('x'), Buffer.alloc(0))).tag,
    ).toHaveLength(16);
  });

  it('sweeps wrapping key pairs whose import token expired when the next one is made', async () => {
    const expired = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'old',
      2048,
      new Date(Date.now() - 1000),
    );
    expect(objects().some((o) => o.label === expired.reference.toString('utf8'))).toBe(true);
    const fresh = await store.backend.wrappedImport.createWrappingKey(
      randomUUID(),
      'new',
      2048,
      new Date(Date.now() + DAY_MS),
    );
    expect(objects().some((o) => o.label === expired.reference.toString('utf8'))).toBe(false);
    expect(
      await refusal(
        store.backend.wrappedImport.importWrapped({
          keyId: randomUUID(),
          version: 1,
          spec: 'SYMMETRIC_DEFAULT',
          reference: expired.reference,
          encrypted: oaepSha1(expired.publicKeySpki, randomBytes(32)),
        }),
      ),
    ).toBe('ExpiredImportToken');
    await store.backend.wrappedImport.discardWrappingKey(fresh.reference);
    expect(importLabels()).toEqual([]);
  });

  it("refuses an object planted under an imported key's label with another value (its check value differs)", async () => {
    const { ref } = await importKey('SYMMETRIC_DEFAULT', randomBytes(32));
    const { label } = decodeVersionReference(ref.version.material);
    expect(label.startsWith(`keyhaven/${ref.keyId}/v1/`)).toBe(true);
    // A PIN holder replaces the object with one whose value they know, then the store reopens.
    await store.root.close();
    fixture.hsm.pkcs11Tool(['--delete-object', '--type', 'secrkey', '--label', label]);
    plantSecretKey({
      env: fixture.hsm.env,
      modulePath: fixture.hsm.modulePath,
      tokenLabel: fixture.hsm.label,
      pin: fixture.hsm.pin,
      label,
      isPrivate: true,
      extractable: false,
    });
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
    const refused = await store.backend.encrypt(ref, randomBytes(12), Buffer.from('x'), Buffer.alloc(0)).then(
      () => 'encrypted',
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/does not hold the material recorded for it/);
  });
});
