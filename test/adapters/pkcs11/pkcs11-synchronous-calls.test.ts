// keyStore.pkcs11.synchronousCalls on SoftHSM2: the same results and errors as the asynchronous
// calls, the short calls no longer queue on libuv's thread pool, and key generation still does.
import { createPublicKey, pbkdf2, randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPkcs11KeyStore,
  type Pkcs11KeyStore,
} from '../../../src/adapters/keystore/pkcs11/open-pkcs11-key-store.js';
import { createPkcs11Fixture, createVersionRef, kmsErrorCode, type Pkcs11Fixture } from './fixtures.js';

/** Occupies every libuv thread-pool thread (4 unless UV_THREADPOOL_SIZE says otherwise) for a while. */
function fillThreadPool(): { done: Promise<void>; finished: () => number } {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  let finished = 0;
  const jobs = Array.from(
    { length: threads },
    () =>
      new Promise<void>((resolve, reject) =>
        pbkdf2('password', 'salt', 400_000, 32, 'sha256', (error) => {
          finished++;
          if (error) reject(error);
          else resolve();
        }),
      ),
  );
  return { done: Promise.all(jobs).then(() => undefined), finished: () => finished };
}

describe.each([
  { synchronousCalls: true, label: 'synchronous calls' },
  { synchronousCalls: false, label: 'asynchronous calls (the default)' },
])('HSM operations with $label on SoftHSM2', ({ synchronousCalls }) => {
  let fixture: Pkcs11Fixture;
  let store: Pkcs11KeyStore;

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    store = await openPkcs11KeyStore(fixture.config(undefined, { synchronousCalls }), fixture.dataDir);
  });
  afterAll(async () => {
    await store?.root.close();
    fixture?.dispose();
  });

  it('encrypts, decrypts and refuses a tampered tag as InvalidCiphertext', async () => {
    const ref = await createVersionRef(store.backend, 'SYMMETRIC_DEFAULT');
    const iv = randomBytes(12);
    const aad = Buffer.from('context');
    const plaintext = randomBytes(300);
    const { ciphertext, tag } = await store.backend.encrypt(ref, iv, plaintext, aad);
    expect(await store.backend.decrypt(ref, iv, ciphertext, tag, aad)).toEqual(plaintext);
    const bad = Buffer.from(tag);
    bad[3]! ^= 0x40;
    expect(await kmsErrorCode(store.backend.decrypt(ref, iv, ciphertext, bad, aad))).toBe(
      'InvalidCiphertext',
    );
    expect(store.failover.primary.circuit).toBe('closed');
  });

  it('signs with ECDSA P-256 and Ed25519 so that node:crypto verifies', async () => {
    const message = Buffer.from('signed inside the token');
    const p256 = await createVersionRef(store.backend, 'ECC_NIST_P256');
    const der = await store.backend.sign(p256, 'ECDSA_SHA_256', message, 'RAW');
    const p256Key = createPublicKey({ key: p256.version.publicKeySpki!, format: 'der', type: 'spki' });
    expect(verify('sha256', message, p256Key, der)).toBe(true);
    const ed = await createVersionRef(store.backend, 'ECC_NIST_EDWARDS25519');
    const signature = await store.backend.sign(ed, 'ED25519_SHA_512', message, 'RAW');
    const edKey = createPublicKey({ key: ed.version.publicKeySpki!, format: 'der', type: 'spki' });
    expect(verify(null, message, edKey, signature)).toBe(true);
  });

  it('wraps and unwraps key material (RFC 5649) inside the token', async () => {
    const ref = await createVersionRef(store.backend, 'SYMMETRIC_DEFAULT');
    const material = randomBytes(32);
    const wrapped = await store.backend.wrapKey(ref, material);
    expect(await store.backend.unwrapKey(ref, wrapped)).toEqual(material);
    wrapped[wrapped.length - 1]! ^= 1;
    expect(await kmsErrorCode(store.backend.unwrapKey(ref, wrapped))).toBe('InvalidCiphertext');
  });

  it(
    synchronousCalls
      ? 'finishes an encryption while every thread-pool thread is busy (it does not queue there)'
      : 'queues an encryption behind busy thread-pool threads (the call goes through the pool)',
    async () => {
      const ref = await createVersionRef(store.backend, 'SYMMETRIC_DEFAULT');
      const pool = fillThreadPool();
      await store.backend.encrypt(ref, randomBytes(12), Buffer.from('x'), Buffer.alloc(0));
      const finishedBefore = pool.finished();
      await pool.done;
      if (synchronousCalls) expect(finishedBefore).toBe(0);
      else expect(finishedBefore).toBeGreaterThan(0);
    },
  );

  it('still generates keys on the thread pool: timers fire during an RSA-3072 generation', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      await createVersionRef(store.backend, 'RSA_3072', 'SIGN_VERIFY');
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});
