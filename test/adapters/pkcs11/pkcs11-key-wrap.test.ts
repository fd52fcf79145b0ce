// RFC 5649 key wrap with HSM keys (issue 16 §2, POST /v1/wrap and /v1/unwrap) on SoftHSM2: the
// token's CKM_AES_KEY_WRAP_PAD against the Wycheproof aes_kwp vectors and crypto/keywrap.ts, and the
// HSM key backend's wrapKey/unwrapKey built on it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { hsmKwpUnwrap, hsmKwpWrap } from '../../../src/adapters/keystore/pkcs11/pkcs11-key-wrap.js';
import type { SessionScope } from '../../../src/adapters/keystore/pkcs11/pkcs11-token.js';
import { aesKwpUnwrap, aesKwpWrap } from '../../../src/crypto/keywrap.js';
import { KmsError } from '../../../src/domain/errors.js';
import type { VersionRef } from '../../../src/ports/key-backend.js';
import {
  createPkcs11Fixture,
  parseListObjects,
  type Pkcs11Fixture,
  createVersionRef,
  kmsErrorCode,
} from './fixtures.js';

interface KwpVector {
  tcId: number;
  key: string;
  msg: string;
  ct: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
const vectors: KwpVector[] = (
  JSON.parse(
    readFileSync(new URL('../../../../shared/vectors/wycheproof/aes_kwp_test.json', import.meta.url), 'utf8'),
  ) as {
    testGroups: { tests: KwpVector[] }[];
  }
).testGroups.flatMap((group) => group.tests);

/** A session AES key of a known value (test data only), able to wrap and unwrap. */
function sessionKek(scope: SessionScope, value: Buffer) {
  return scope.api.C_CreateObject(scope.session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_VALUE, value },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
  ]);
}

describe('HSM key wrap (RFC 5649) on SoftHSM2', () => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;
  const createRef = (): Promise<VersionRef> => createVersionRef(store.backend, 'SYMMETRIC_DEFAULT');

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it(`unwraps every Wycheproof aes_kwp vector as RFC 5649 says (${vectors.length} vectors, inside the token)`, async () => {
    const outcomes = await store.failover.run(async (scope) => {
      const results: { tcId: number; result: string; got: string }[] = [];
      for (const vector of vectors) {
        const kek = sessionKek(scope, Buffer.from(vector.key, 'hex'));
        try {
          const got = await hsmKwpUnwrap(scope, kek, Buffer.from(vector.ct, 'hex')).then(
            (value) => value.toString('hex'),
            (error: unknown) => (error instanceof KmsError ? error.code : String(error)),
          );
          results.push({ tcId: vector.tcId, result: vector.result, got });
        } finally {
          scope.api.C_DestroyObject(scope.session, kek);
        }
      }
      return results;
    });
    const byId = new Map(vectors.map((v) => [v.tcId, v]));
    for (const outcome of outcomes) {
      const vector = byId.get(outcome.tcId)!;
      if (vector.result === 'valid') expect(outcome.got, `tcId ${vector.tcId}`).toBe(vector.msg);
      else expect(outcome.got, `tcId ${vector.tcId}`).toBe('InvalidCiphertext');
    }
    expect(outcomes.filter((o) => o.result === 'valid').length).toBeGreaterThan(50);
    expect(outcomes.filter((o) => o.result === 'invalid').length).toBeGreaterThan(100);
  });

  it('wraps as RFC 5649 (Wycheproof) where the length is a multiple of 8, and refuses other lengths SoftHSM pads', async () => {
    const valid = vectors.filter((v) => v.result === 'valid' && v.msg.length > 0);
    const outcomes = await store.failover.run(async (scope, token) => {
      const results: { vector: KwpVector; got: string }[] = [];
      for (const vector of valid) {
        const kek = sessionKek(scope, Buffer.from(vector.key, 'hex'));
        try {
          const got = await hsmKwpWrap(scope, token, kek, Buffer.from(vector.msg, 'hex')).then(
            (value) => value.toString('hex'),
            (error: unknown) => (error instanceof KmsError ? error.code : String(error)),
          );
          results.push({ vector, got });
        } finally {
          scope.api.C_DestroyObject(scope.session, kek);
        }
      }
      return results;
    });
    let whole = 0;
    let refused = 0;
    for (const { vector, got } of outcomes) {
      if ((vector.msg.length / 2) % 8 === 0) {
        whole++;
        expect(got, `tcId ${vector.tcId}`).toBe(vector.ct);
      } else {
        refused++;
        expect(got, `tcId ${vector.tcId}`).toBe('ValidationError');
      }
    }
    expect(whole).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });

  it("shows why: SoftHSM 2.6's CKM_AES_KEY_WRAP_PAD zero-pads 20 bytes to 24 before wrapping", async () => {
    const kekValue = randomBytes(32);
    const material = randomBytes(20);
    const wrapped = await store.failover.run(async (scope) => {
      const { api, session } = scope;
      const kek = sessionKek(scope, kekValue);
      const target = api.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_VALUE, value: material },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      ]);
      try {
        return Buffer.from(
          api.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, kek, target, Buffer.alloc(64)),
        );
      } finally {
        api.C_DestroyObject(session, target);
        api.C_DestroyObject(session, kek);
      }
    });
    expect(wrapped.equals(aesKwpWrap(kekValue, material))).toBe(false);
    expect(aesKwpUnwrap(kekValue, wrapped)).toEqual(Buffer.concat([material, Buffer.alloc(4)]));
  });

  it('wraps and unwraps with an HSM key version; a changed or foreign blob is InvalidCiphertext', async () => {
    const ref = await createRef();
    const other = await createRef();
    for (const length of [16, 24, 32, 64, 1024]) {
      const material = randomBytes(length);
      const wrapped = await store.backend.wrapKey(ref, material);
      expect(wrapped).toHaveLength(length + 8);
      expect(await store.backend.unwrapKey(ref, wrapped)).toEqual(material);
      expect(await kmsErrorCode(store.backend.unwrapKey(other, wrapped))).toBe('InvalidCiphertext');
      const changed = Buffer.from(wrapped);
      changed[length % wrapped.length]! ^= 1;
      expect(await kmsErrorCode(store.backend.unwrapKey(ref, changed))).toBe('InvalidCiphertext');
    }
    // Short blobs and material this token would pad wrongly: clear 4xx codes, no 500.
    expect(await kmsErrorCode(store.backend.unwrapKey(ref, Buffer.alloc(12)))).toBe('InvalidCiphertext');
    expect(await kmsErrorCode(store.backend.unwrapKey(ref, randomBytes(40)))).toBe('InvalidCiphertext');
    expect(await kmsErrorCode(store.backend.wrapKey(ref, randomBytes(20)))).toBe('ValidationError');
    expect(await kmsErrorCode(store.backend.wrapKey(ref, Buffer.alloc(0)))).toBe('ValidationError');
    // The key object may wrap and unwrap, is still sensitive and never extractable, and the
    // session objects the material passed through are gone.
    const objects = parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects']));
    const object = objects.find((o) => o.label === `keyhaven/${ref.keyId}/v1`)!;
    expect(object.usage).toEqual(expect.arrayContaining(['encrypt', 'decrypt', 'wrap', 'unwrap']));
    expect(object.flags).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
    expect(object.flags).not.toContain('extractable');
    await store.failover.run((scope) => {
      scope.api.C_FindObjectsInit(scope.session, [{ type: pkcs11js.CKA_TOKEN, value: false }]);
      const left = scope.api.C_FindObjects(scope.session, 10);
      scope.api.C_FindObjectsFinal(scope.session);
      expect(left).toHaveLength(0);
    });
  });
});
