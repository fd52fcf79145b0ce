// ECDSA on P-521 and secp256k1 and Ed25519 as HSM keys (issue 16 §2), on SoftHSM2: the private key
// is a sensitive, never-extractable token object restricted to its one mechanism, and every
// signature it makes verifies with node:crypto against the public key the API returns, in the
// format SOFTWARE keys use (DER ECDSA; raw 64-byte Ed25519).
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { CKM_EDDSA } from '../../../src/adapters/keystore/pkcs11/pkcs11-ec-keys.js';
import { ed25519KeyPairTemplates } from '../../../src/adapters/keystore/pkcs11/pkcs11-templates.js';
import { signingAlgorithmsFor, type KeySpec } from '../../../src/domain/key-spec.js';
import { ed25519phVerify } from '../../../src/crypto/ed25519ph.js';
import { decodeEcdsaSignature } from '../../../src/crypto/ecdsa-der.js';
import { verifySignature } from '../../../src/crypto/signature.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import {
  createPkcs11Fixture,
  parseListObjects,
  type Pkcs11Fixture,
  createVersionRef,
  kmsErrorCode,
} from './fixtures.js';

const ECDSA_SPECS = [
  { spec: 'ECC_NIST_P521', curve: 'secp521r1', hash: 'sha512', scalarBytes: 66 },
  { spec: 'ECC_SECG_P256K1', curve: 'secp256k1', hash: 'sha256', scalarBytes: 32 },
] as const;
const MESSAGES = 40;

describe('HSM EC keys (P-521, secp256k1, Ed25519) on SoftHSM2', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;
  const createRef = (keySpec: KeySpec): Promise<VersionRef> => createVersionRef(store.backend, keySpec);

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('keeps each private key sensitive, never extractable and restricted to its mechanism (pkcs11-tool)', async () => {
    const refs = await Promise.all(
      (['ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519'] as const).map(createRef),
    );
    // pkcs11-tool is another process reading SoftHSM's object files: under a loaded machine it
    // once listed the token without the newest object (full suite run), so it may look twice.
    const labels = refs.map((ref) => `keyhaven/${ref.keyId}/v1`);
    let objects = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));
    for (let look = 1; look < 3 && !labels.every((l) => objects.some((o) => o.label === l)); look++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      objects = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));
    }
    for (const ref of refs) {
      const object = objects.find((o) => o.label === `keyhaven/${ref.keyId}/v1`);
      expect(object?.kind, ref.keySpec).toBe('Private Key');
      expect(object!.flags).toEqual(
        expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable', 'local']),
      );
      expect(object!.flags).not.toContain('extractable');
      expect(object!.usage).toEqual(['sign']);
      // OpenSC names CKM_EDDSA "EDDSA" (or its number on older versions).
      expect(object!.allowedMechanisms).toEqual(
        ref.keySpec === 'ECC_NIST_EDWARDS25519' ? [expect.stringMatching(/EDDSA|0x1057/i)] : ['ECDSA'],
      );
      // No public object is left behind: the SPKI lives in metadata.
      expect(objects.filter((o) => o.label === `keyhaven/${ref.keyId}/v1`)).toHaveLength(1);
    }
  });

  it.each(ECDSA_SPECS)(
    'signs $spec with ECDSA inside the HSM: DER signatures that node:crypto verifies, RAW and DIGEST',
    async ({ spec, curve, hash, scalarBytes }) => {
      const ref = await createRef(spec);
      const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
      expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(curve);
      const [algorithm] = signingAlgorithmsFor(spec);
      for (let i = 0; i < MESSAGES; i++) {
        const message = randomBytes(i * 37);
        const raw = await store.backend.sign(ref, algorithm!, message, 'RAW');
        // DER SEQUENCE of two INTEGERs, each at most the scalar size (plus a sign octet).
        const { r, s } = decodeEcdsaSignature(raw)!;
        expect(r > 0n && s > 0n).toBe(true);
        expect(raw.length).toBeLessThanOrEqual(2 * (scalarBytes + 1) + 9);
        expect(verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, raw), `message ${i}`).toBe(true);
        const digest = createHash(hash).update(message).digest();
        const pre = await store.backend.sign(ref, algorithm!, digest, 'DIGEST');
        expect(verifySignature(publicKey, algorithm!, digest, 'DIGEST', pre)).toBe(true);
        expect(verify(hash, message, { key: publicKey, dsaEncoding: 'der' }, pre)).toBe(true);
        // A signature over another message does not verify (the check above could fail).
        expect(
          verify(hash, Buffer.concat([message, Buffer.of(1)]), { key: publicKey, dsaEncoding: 'der' }, raw),
        ).toBe(false);
      }
      expect(await kmsErrorCode(store.backend.sign(ref, algorithm!, Buffer.alloc(20), 'DIGEST'))).toBe(
        'ValidationError',
      );
      expect(await kmsErrorCode(store.backend.sign(ref, 'ED25519_SHA_512', Buffer.from('m'), 'RAW'))).toBe(
        'ValidationError',
      );
    },
  );

  it('signs Ed25519 (pure, RFC 8032) inside the HSM: 64-byte signatures node:crypto verifies', async () => {
    const ref = await createRef('ECC_NIST_EDWARDS25519');
    const publicKey = createPublicKey({ key: ref.version.publicKeySpki!, format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyType).toBe('ed25519');
    for (let i = 0; i < MESSAGES; i++) {
      const message = randomBytes(1 + i * 53);
      const signature = await store.backend.sign(ref, 'ED25519_SHA_512', message, 'RAW');
      expect(signature).toHaveLength(64);
      expect(verify(null, message, publicKey, signature), `message ${i}`).toBe(true);
      expect(verifySignature(publicKey, 'ED25519_SHA_512', message, 'RAW', signature)).toBe(true);
      // Ed25519 is deterministic (RFC 8032 §5.1.6): the same message gives the same signature.
      expect(await store.backend.sign(ref, 'ED25519_SHA_512', message, 'RAW')).toEqual(signature);
      expect(verify(null, Buffer.concat([message, Buffer.of(0)]), publicKey, signature)).toBe(false);
    }
    // As SOFTWARE keys: pure Ed25519 signs messages, not digests.
    expect(await kmsErrorCode(store.backend.sign(ref, 'ED25519_SHA_512', randomBytes(64), 'DIGEST'))).toBe(
      'ValidationError',
    );
    expect(await kmsErrorCode(store.backend.sign(ref, 'ED25519_PH_SHA_512', randomBytes(64), 'DIGEST'))).toBe(
      'ValidationError',
    );
    expect(await kmsErrorCode(store.backend.sign(ref, 'ECDSA_SHA_256', randomBytes(32), 'DIGEST'))).toBe(
      'ValidationError',
    );
    expect(await kmsErrorCode(store.backend.sign(ref, 'ED25519_SHA_512', Buffer.alloc(0), 'RAW'))).toBe(
      'ValidationError',
    );
  });

  it('does not offer Ed25519ph: SoftHSM 2.6 ignores CK_EDDSA_PARAMS and signs pure Ed25519', async () => {
    const message = Buffer.from('prehashed?');
    const digest = createHash('sha512').update(message).digest();
    const outcome = await store.failover.run(async (scope) => {
      const { api, session } = scope;
      const templates = ed25519KeyPairTemplates('probe-ed25519ph', false, false);
      const sessionOnly = (t: pkcs11js.Template) =>
        t.map((a) => (a.type === pkcs11js.CKA_TOKEN ? { type: a.type, value: false } : a));
      const pair = api.C_GenerateKeyPair(
        session,
        { mechanism: 0x1055 },
        sessionOnly(templates.publicKey),
        sessionOnly(templates.privateKey),
      );
      // CK_EDDSA_PARAMS { CK_BBOOL phFlag = TRUE; CK_ULONG ulContextDataLen = 0; pContextData = NULL }.
      const parameter = Buffer.alloc(24);
      parameter[0] = 1;
      api.C_SignInit(session, { mechanism: CKM_EDDSA, parameter }, pair.privateKey);
      const withPh = api.C_Sign(session, digest, Buffer.alloc(64));
      const point = api.C_GetAttributeValue(session, pair.publicKey, [{ type: pkcs11js.CKA_EC_POINT }])[0]!
        .value!;
      api.C_DestroyObject(session, pair.privateKey);
      api.C_DestroyObject(session, pair.publicKey);
      return { withPh: Buffer.from(withPh), point: point.subarray(2) };
    });
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: outcome.point.toString('base64url') },
      format: 'jwk',
    });
    // The "prehash" signature is the pure Ed25519 signature of the digest bytes, not Ed25519ph.
    expect(verify(null, digest, publicKey, outcome.withPh)).toBe(true);
    expect(ed25519phVerify(publicKey, digest, outcome.withPh)).toBe(false);
  });
});
