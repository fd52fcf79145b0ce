// Several PKCS#11 backends on two SoftHSM2 tokens, in process: the transport key set up by the SO,
// the root key and every HSM key copied to both tokens (sensitive, not extractable), operations
// served by the second token alone with the same results, and catch-up for a token that was away.
import {
  constants,
  createCipheriv,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { REPLICATION_FILE } from '../../../src/adapters/keystore/pkcs11/pkcs11-replication.js';
import type { KmsError } from '../../../src/domain/errors.js';
import type { KeyVersion } from '../../../src/domain/key.js';
import type { KeySpec } from '../../../src/domain/key-spec.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import { attemptExtraction } from './extraction-attempts.js';
import { plantSecretKey } from './plant-object.js';
import { createPkcs11Fixture, defaultUsage, parseListObjects, type Pkcs11Fixture } from './fixtures.js';

describe('replication between two PKCS#11 backends (SoftHSM2)', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;
  let counter = 0;

  const objectsOn = (index: number) =>
    parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'], fixture.hsm.tokens[index]));
  const objectOn = (index: number, label: string) => objectsOn(index).find((o) => o.label === label);

  async function createRef(keySpec: KeySpec): Promise<VersionRef> {
    const keyId = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
    const created = await store.backend.createVersionMaterial(keyId, 1, keySpec, defaultUsage(keySpec));
    const version: KeyVersion = { keyId, version: 1, state: 'Enabled', createdAt: new Date(), ...created };
    return { keyId, keySpec, version };
  }

  /** Runs `work` with the first backend's circuit held open, so the second token serves it alone. */
  async function onSecondOnly<T>(work: () => Promise<T>): Promise<T> {
    const primary = store.failover.primary;
    primary.breaker.recordFailure();
    expect(primary.circuit).toBe('open');
    const before = store.failover.tokens[1]!.statistics().operations;
    try {
      const result = await work();
      expect(store.failover.tokens[1]!.statistics().operations).toBeGreaterThan(before);
      return result;
    } finally {
      primary.breaker.recordSuccess();
    }
  }

  beforeAll(async () => {
    fixture = createPkcs11Fixture(2);
    const config = fixture.config(fixture.hsm.tokens, { circuit: { failureThreshold: 1, openSeconds: 2 } });
    store = await openPkcs11KeyStore(config, fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('sets up the transport key in both tokens: public, trusted, wrap/unwrap only, not extractable', () => {
    expect(store.transportKey).toBe('created');
    for (const index of [0, 1]) {
      const transport = objectOn(index, 'keyhaven-transport-wrap');
      expect(transport?.kind).toBe('Secret Key');
      expect(transport?.flags).toEqual(expect.arrayContaining(['sensitive']));
      expect(transport?.flags).not.toContain('extractable');
    }
  });

  it('copies the root key to the second token and seals it on the first (sensitive, not extractable)', async () => {
    for (const index of [0, 1]) {
      const root = objectOn(index, 'keyhaven-root');
      expect(root?.flags).toEqual(expect.arrayContaining(['sensitive']));
      expect(root?.flags).not.toContain('extractable');
      expect(() =>
        fixture.hsm.pkcs11Tool(
          ['--read-object', '--type', 'secrkey', '--label', 'keyhaven-root'],
          fixture.hsm.tokens[index],
        ),
      ).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    }
    const wrapped = await store.root.wrapKeyMaterial(Buffer.from('under the root'), 'key-r', 1);
    const unwrapped = await onSecondOnly(() => store.root.unwrapKeyMaterial(wrapped, 'key-r', 1));
    expect(unwrapped.toString()).toBe('under the root');
  });

  it('copies AES, HMAC, RSA and EC keys; the second token alone gives the same results', async () => {
    const aes = await createRef('SYMMETRIC_DEFAULT');
    const hmac = await createRef('HMAC_224');
    const rsa = await createRef('RSA_2048');
    const ec = await createRef('ECC_NIST_P384');
    for (const ref of [aes, hmac, rsa, ec]) {
      const label = `keyhaven/${ref.keyId}/v1`;
      for (const index of [0, 1]) {
        const object = objectOn(index, label);
        expect(object, `${label} on token ${index + 1}`).toBeDefined();
        expect(object?.flags).toContain('sensitive');
        expect(object?.flags).not.toContain('extractable');
      }
    }
    const iv = randomBytes(12);
    const aad = Buffer.from('context');
    const sealed = await store.backend.encrypt(aes, iv, Buffer.from('replicated'), aad);
    const message = Buffer.from('same key everywhere');
    const mac = await store.backend.mac(hmac, 'HMAC_SHA_224', message);
    const opened = await onSecondOnly(async () => ({
      plaintext: await store.backend.decrypt(aes, iv, sealed.ciphertext, sealed.tag, aad),
      mac: await store.backend.mac(hmac, 'HMAC_SHA_224', message),
      rsa: await store.backend.sign(rsa, 'RSASSA_PKCS1_V1_5_SHA_256', message, 'RAW'),
      ec: await store.backend.sign(ec, 'ECDSA_SHA_384', message, 'RAW'),
    }));
    expect(opened.plaintext.toString()).toBe('replicated');
    // SoftHSM's padded key wrap keeps the padding of the 28-byte HMAC key; HMAC pads keys with zeros.
    expect(opened.mac).toEqual(mac);
    const rsaPublic = createPublicKey({ key: rsa.version.publicKeySpki!, format: 'der', type: 'spki' });
    expect(verify('sha256', message, rsaPublic, opened.rsa)).toBe(true);
    const ecPublic = createPublicKey({ key: ec.version.publicKeySpki!, format: 'der', type: 'spki' });
    expect(verify('sha384', message, { key: ecPublic, dsaEncoding: 'der' }, opened.ec)).toBe(true);
  });

  it('copies P-521 and secp256k1 keys; the second token alone signs with the same keys', async () => {
    const cases = [
      ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'],
      ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256'],
    ] as const;
    const message = Buffer.from('signed on the second token');
    for (const [spec, algorithm, hash] of cases) {
      const ref = await createRef(spec);
      expect(objectOn(1, `keyhaven/${ref.keyId}/v1`)?.flags).not.toContain('extractable');
      const signature = await onSecondOnly(() => store.backend.sign(ref, algorithm, message, 'RAW'));
      const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
      expect(verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, signature), spec).toBe(true);
    }
  });

  it('refuses Ed25519 keys with several backends where the token cannot copy them (SoftHSM 2.6.1), leaving nothing behind', async () => {
    const before = objectsOn(0).length;
    const keyId = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
    const refused = await store.backend
      .createVersionMaterial(keyId, 1, 'ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')
      .then(
        () => 'created',
        (error: KmsError) => `${error.code}: ${error.message}`,
      );
    expect(refused).toMatch(
      /^ValidationError: ECC_NIST_EDWARDS25519 keys cannot be copied .*CKR_KEY_NOT_WRAPPABLE/,
    );
    expect(objectsOn(0)).toHaveLength(before);
    expect(store.failover.replication?.pendingFor('hsm-2')).toBe(0);
  });

  it('copies imported material to the second token, which opens what the first sealed and keeps its check', async () => {
    const keyId = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
    const parameters = await store.backend.wrappedImport.createWrappingKey(
      keyId,
      'replicated-import',
      2048,
      new Date(Date.now() + 86_400_000),
    );
    const material = randomBytes(32);
    const made = await store.backend.wrappedImport.importWrapped({
      keyId,
      version: 1,
      spec: 'SYMMETRIC_DEFAULT',
      reference: parameters.reference,
      encrypted: publicEncrypt(
        {
          key: createPublicKey({ key: parameters.publicKeySpki, format: 'der', type: 'spki' }),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha1',
        },
        material,
      ),
    });
    const ref: VersionRef = {
      keyId,
      keySpec: 'SYMMETRIC_DEFAULT',
      version: { keyId, version: 1, state: 'Enabled', createdAt: new Date(), ...made },
    };
    for (const index of [0, 1]) {
      const object = objectsOn(index).find((o) => o.label.startsWith(`keyhaven/${keyId}/v1/`));
      expect(object?.flags).toContain('sensitive');
      expect(object?.flags).not.toContain('extractable');
    }
    const iv = randomBytes(12);
    const aad = Buffer.from('imported');
    const sealed = await store.backend.encrypt(ref, iv, Buffer.from('from the first token'), aad);
    const opened = await onSecondOnly(() =>
      store.backend.decrypt(ref, iv, sealed.ciphertext, sealed.tag, aad),
    );
    expect(opened.toString()).toBe('from the first token');
    // The same bytes sealed by node:crypto open on the token: the copy holds the imported material.
    const cipher = createCipheriv('aes-256-gcm', material, iv).setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update('sealed outside'), cipher.final()]);
    const outside = await onSecondOnly(() =>
      store.backend.decrypt(ref, iv, ciphertext, cipher.getAuthTag(), aad),
    );
    expect(outside.toString()).toBe('sealed outside');
  });

  it('refuses objects planted in place of copies: an AES key with another value, an EC key that is not the recorded one', async () => {
    const aes = await createRef('SYMMETRIC_DEFAULT');
    const ec = await createRef('ECC_NIST_P384');
    const second = fixture.hsm.tokens[1]!;
    const aesLabel = `keyhaven/${aes.keyId}/v1`;
    const ecLabel = `keyhaven/${ec.keyId}/v1`;
    // Someone holding the user PIN replaces both copies with keys whose values they know.
    fixture.hsm.pkcs11Tool(['--delete-object', '--type', 'secrkey', '--label', aesLabel], second);
    plantSecretKey({
      env: fixture.hsm.env,
      modulePath: fixture.hsm.modulePath,
      tokenLabel: second.label,
      pin: second.pin,
      label: aesLabel,
      isPrivate: true,
      extractable: false,
    });
    const pem = join(fixture.dataDir, 'planted-p384.der');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    writeFileSync(pem, privateKey.export({ format: 'der', type: 'pkcs8' }));
    fixture.hsm.pkcs11Tool(['--delete-object', '--type', 'privkey', '--label', ecLabel], second);
    fixture.hsm.pkcs11Tool(
      [
        '--write-object',
        pem,
        '--type',
        'privkey',
        '--label',
        ecLabel,
        '--private',
        '--sensitive',
        '--usage-sign',
      ],
      second,
    );
    // As after a restart: nothing of the second token is cached.
    store.failover.tokens[1]!.forgetHandle(aesLabel, pkcs11js.CKO_SECRET_KEY);
    store.failover.tokens[1]!.forgetHandle(ecLabel, pkcs11js.CKO_PRIVATE_KEY);
    const message = (error: unknown) => (error as Error).message;
    const aesRefusal = await onSecondOnly(() =>
      store.backend.encrypt(aes, randomBytes(12), Buffer.from('x'), Buffer.alloc(0)),
    ).then(() => 'encrypted', message);
    expect(aesRefusal).toMatch(/does not hold the material recorded for it/);
    const ecRefusal = await onSecondOnly(() =>
      store.backend.sign(ec, 'ECDSA_SHA_384', Buffer.from('x'), 'RAW'),
    ).then(() => 'signed', message);
    expect(ecRefusal).toMatch(/is not the private half of the public key recorded for it/);
    // The first token's originals still serve.
    expect((await store.backend.sign(ec, 'ECDSA_SHA_384', Buffer.from('x'), 'RAW')).length).toBeGreaterThan(
      0,
    );
  });

  it('records what a token missed while it was away and copies it once the token is back', async () => {
    const second = fixture.hsm.tokens[1]!;
    const saved = join(fixture.dataDir, 'token-2-saved');
    cpSync(second.directory(), saved, { recursive: true });
    rmSync(second.directory(), { recursive: true, force: true });
    // The probe notices the token is gone (SoftHSM serves cached objects until re-initialised).
    const [, away] = await store.root.status();
    expect(away).toMatchObject({ name: 'hsm-2', healthy: false });

    const ref = await createRef('SYMMETRIC_DEFAULT');
    const label = `keyhaven/${ref.keyId}/v1`;
    const pending = JSON.parse(readFileSync(join(fixture.dataDir, REPLICATION_FILE), 'utf8')) as {
      pending: { label: string; missing: string[] }[];
    };
    expect(pending.pending).toEqual([expect.objectContaining({ label, missing: ['hsm-2'] })]);
    // Until every backend has it, the original stays extractable, but only under trusted keys.
    expect(objectOn(0, label)?.flags).toContain('extractable');
    expect((await store.root.status({ probe: false }))[1]?.pendingReplications).toBe(1);

    cpSync(saved, second.directory(), { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let statuses = await store.root.status();
    for (let attempt = 0; attempt < 40 && statuses[1]?.pendingReplications !== 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await store.failover.replication?.catchUp();
      statuses = await store.root.status();
    }
    expect(statuses[1]).toMatchObject({ healthy: true, pendingReplications: 0 });
    expect(objectOn(1, label)?.flags).not.toContain('extractable');
    expect(objectOn(0, label)?.flags).not.toContain('extractable');
    const sealed = await store.backend.encrypt(
      ref,
      randomBytes(12),
      Buffer.from('caught up'),
      Buffer.alloc(0),
    );
    expect(sealed.tag).toHaveLength(16);
  });

  it('with only the user PIN, no wrap/unwrap sequence gives a readable copy of a key awaiting replication', async () => {
    // The second backend is away (circuit open), so the new key stays extractable under trusted keys.
    const second = store.failover.tokens[1]!;
    second.breaker.recordFailure();
    const ref = await createRef('SYMMETRIC_DEFAULT');
    const label = `keyhaven/${ref.keyId}/v1`;
    expect(objectOn(0, label)?.flags).toContain('extractable');
    const token = fixture.hsm.tokens[0]!;
    const attack = (keyLabel: string) =>
      attemptExtraction({
        env: fixture.hsm.env,
        modulePath: fixture.hsm.modulePath,
        tokenLabel: token.label,
        pin: token.pin,
        keyLabel,
        transportKeyLabel: 'keyhaven-transport',
      });
    const results = attack(label);
    expect(results.found).toBe('yes,yes,yes');
    expect(results['read CKA_VALUE']).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
    // Wrapping under the wrap-only object works (that is how copies are made), but the blob is useless:
    expect(results['wrap under the wrap-only transport object']).toMatch(/^ALLOWED/);
    expect(results['unwrap as sensitive=false, extractable=true']).toMatch(/CKR_TEMPLATE_INCONSISTENT/);
    expect(results['unwrap as a public session object']).toMatch(/CKR_TEMPLATE_INCONSISTENT/);
    expect(results['unwrap with the wrap-only transport object']).toMatch(/CKR_KEY_FUNCTION_NOT_PERMITTED/);
    expect(results['decrypt the blob with the unwrap-only transport object']).toMatch(
      /CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_MECHANISM_INVALID/,
    );
    expect(results['wrap under the unwrap-only transport object']).toMatch(/CKR_KEY_FUNCTION_NOT_PERMITTED/);
    expect(results['wrap under a key of the attacker']).toMatch(/CKR_KEY_NOT_WRAPPABLE/);
    expect(results['clear the unwrap template']).not.toMatch(/^ALLOWED/);
    expect(results['copy the key without CKA_WRAP_WITH_TRUSTED']).not.toMatch(/^ALLOWED/);

    // The root key, sealed once both tokens had it, cannot even be wrapped.
    const root = attack('keyhaven-root');
    expect(root['read CKA_VALUE']).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
    expect(root['wrap under the wrap-only transport object']).toMatch(/CKR_KEY_UNEXTRACTABLE/);
    expect(root['wrap under a key of the attacker']).toMatch(/CKR_KEY_UNEXTRACTABLE|CKR_KEY_NOT_WRAPPABLE/);

    second.breaker.recordSuccess();
    await store.failover.replication?.catchUp();
    expect(objectOn(0, label)?.flags).not.toContain('extractable');
    expect(objectOn(1, label)).toBeDefined();
  });

  it('destroys a version on both tokens', async () => {
    const ref = await createRef('ECC_NIST_P256');
    const label = `keyhaven/${ref.keyId}/v1`;
    await store.backend.destroyVersionMaterial(ref);
    expect(objectOn(0, label)).toBeUndefined();
    expect(objectOn(1, label)).toBeUndefined();
  });
});

describe('replication window (SoftHSM2)', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;

  beforeAll(async () => {
    fixture = createPkcs11Fixture(2);
    const config = fixture.config(fixture.hsm.tokens, {
      circuit: { failureThreshold: 1, openSeconds: 30 },
      replicationWindowSeconds: 1,
    });
    store = await openPkcs11KeyStore(config, fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('seals an original whose copies did not happen within the window; it is never copied later', async () => {
    const second = store.failover.tokens[1]!;
    second.breaker.recordFailure();
    const keyId = '00000000-0000-4000-8000-0000000000aa';
    await store.backend.createVersionMaterial(keyId, 1, 'SYMMETRIC_DEFAULT');
    const label = `keyhaven/${keyId}/v1`;
    const flagsOnFirst = () =>
      parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'], fixture.hsm.tokens[0])).find(
        (o) => o.label === label,
      )?.flags;
    expect(flagsOnFirst()).toContain('extractable');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await store.failover.replication?.catchUp();
    expect(flagsOnFirst()).not.toContain('extractable');
    const file = JSON.parse(readFileSync(join(fixture.dataDir, REPLICATION_FILE), 'utf8')) as {
      pending: { label: string; expired?: boolean }[];
    };
    expect(file.pending).toEqual([expect.objectContaining({ label, expired: true })]);

    second.breaker.recordSuccess();
    await store.failover.replication?.catchUp();
    // Still missing on the second token, and still counted.
    expect(store.failover.replication?.pendingFor('hsm-2')).toBe(1);
    const onSecond = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'], fixture.hsm.tokens[1]));
    expect(onSecond.find((o) => o.label === label)).toBeUndefined();
  });
});
