import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AES_GCM_IV_LENGTH,
  AES_GCM_TAG_LENGTH,
  aesGcmDecrypt,
  aesGcmEncrypt,
} from '../../src/crypto/aead.js';
import { KmsError } from '../../src/domain/errors.js';
import { attempt, hex, loadWycheproof, VectorTally, type AeadGroup } from './wycheproof.js';

const isInvalidCiphertext = (error: unknown) =>
  error instanceof KmsError && error.code === 'InvalidCiphertext';

function flipBit(buf: Buffer, bit: number): Buffer {
  const copy = Buffer.from(buf);
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return copy;
}

describe('AES-GCM against Wycheproof', () => {
  it('encrypts and decrypts every valid vector and rejects every invalid one (96-bit IV, 128-bit tag, AES-128/256)', () => {
    const tally = new VectorTally('AES-GCM');
    for (const group of loadWycheproof<AeadGroup>('aes_gcm_test.json').testGroups) {
      // We expose only 12-byte IVs, 16-byte tags and 16/32-byte keys; other groups test features we refuse.
      if (group.ivSize !== 96 || group.tagSize !== 128 || ![128, 256].includes(group.keySize)) {
        tally.skipped += group.tests.length;
        continue;
      }
      for (const test of group.tests) {
        const outcome = attempt(() =>
          aesGcmDecrypt(hex(test.key), hex(test.iv), hex(test.ct), hex(test.tag), hex(test.aad)),
        );
        // Valid vectors must also come out of encryption byte for byte when given the vector's IV.
        const sealed = aesGcmEncrypt(hex(test.key), hex(test.msg), hex(test.aad), hex(test.iv));
        const encrypts = sealed.ciphertext.equals(hex(test.ct)) && sealed.tag.equals(hex(test.tag));
        if (test.result === 'valid' && !encrypts)
          tally.failures.push(`tcId ${test.tcId}: encryption differs`);
        if (outcome.ok) tally.record(test, outcome.value.equals(hex(test.msg)));
        else if (isInvalidCiphertext(outcome.error)) tally.record(test, false);
        else tally.failures.push(`tcId ${test.tcId}: unexpected error ${String(outcome.error)}`);
      }
    }
    tally.report();
    expect(tally.failures).toEqual([]);
    expect(tally.validAccepted).toBeGreaterThan(50);
    expect(tally.invalidRejected).toBeGreaterThan(20);
  });
});

describe('AES-GCM', () => {
  const key = Buffer.alloc(32, 7);
  const plaintext = Buffer.from('the quick brown fox jumps over the lazy dog');
  const aad = Buffer.from('{"purpose":"test"}');

  it('round-trips with 128- and 256-bit keys and produces a 12-byte IV and 16-byte tag', () => {
    for (const k of [Buffer.alloc(16, 1), key]) {
      const sealed = aesGcmEncrypt(k, plaintext, aad);
      expect(sealed.iv).toHaveLength(AES_GCM_IV_LENGTH);
      expect(sealed.tag).toHaveLength(AES_GCM_TAG_LENGTH);
      expect(sealed.ciphertext).toHaveLength(plaintext.length);
      expect(aesGcmDecrypt(k, sealed.iv, sealed.ciphertext, sealed.tag, aad)).toEqual(plaintext);
    }
  });

  it('round-trips an empty plaintext and draws a fresh IV every time', () => {
    const a = aesGcmEncrypt(key, Buffer.alloc(0), aad);
    const b = aesGcmEncrypt(key, Buffer.alloc(0), aad);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(aesGcmDecrypt(key, a.iv, a.ciphertext, a.tag, aad)).toHaveLength(0);
  });

  it('fails with InvalidCiphertext on every single-bit flip of ciphertext, tag, IV or AAD', () => {
    const { iv, ciphertext, tag } = aesGcmEncrypt(key, plaintext, aad);
    const attempts: (() => Buffer)[] = [];
    for (let bit = 0; bit < ciphertext.length * 8; bit++) {
      attempts.push(() => aesGcmDecrypt(key, iv, flipBit(ciphertext, bit), tag, aad));
    }
    for (let bit = 0; bit < tag.length * 8; bit++) {
      attempts.push(() => aesGcmDecrypt(key, iv, ciphertext, flipBit(tag, bit), aad));
    }
    for (let bit = 0; bit < iv.length * 8; bit++) {
      attempts.push(() => aesGcmDecrypt(key, flipBit(iv, bit), ciphertext, tag, aad));
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      attempts.push(() => aesGcmDecrypt(key, iv, ciphertext, tag, flipBit(aad, bit)));
    }
    for (const run of attempts) expect(run).toThrow(expect.objectContaining({ code: 'InvalidCiphertext' }));
    expect(attempts.length).toBe((ciphertext.length + 16 + 12 + aad.length) * 8);
  });

  it('fails with InvalidCiphertext for a wrong key, a different AAD, truncation or bad lengths', () => {
    const { iv, ciphertext, tag } = aesGcmEncrypt(key, plaintext, aad);
    const cases = [
      () => aesGcmDecrypt(Buffer.alloc(32, 8), iv, ciphertext, tag, aad),
      () => aesGcmDecrypt(key, iv, ciphertext, tag, Buffer.alloc(0)),
      () => aesGcmDecrypt(key, iv, ciphertext.subarray(1), tag, aad),
      () => aesGcmDecrypt(key, iv, ciphertext, tag.subarray(0, 12), aad),
      () => aesGcmDecrypt(key, Buffer.concat([iv, Buffer.alloc(4)]), ciphertext, tag, aad),
      () => aesGcmDecrypt(key, iv.subarray(0, 8), ciphertext, tag, aad),
    ];
    for (const run of cases) expect(run).toThrow(expect.objectContaining({ code: 'InvalidCiphertext' }));
  });

  it('never puts plaintext into the error', () => {
    const { iv, ciphertext, tag } = aesGcmEncrypt(key, plaintext, aad);
    const outcome = attempt(() => aesGcmDecrypt(key, iv, ciphertext, flipBit(tag, 0), aad));
    expect(outcome.ok).toBe(false);
    const text = outcome.ok
      ? ''
      : String((outcome.error as Error).message) + String((outcome.error as Error).stack);
    expect(text).not.toContain('quick brown fox');
    expect(text).not.toContain(plaintext.toString('hex'));
  });

  it('uses a caller-supplied IV when given one, and refuses IVs that are not 12 bytes', () => {
    const iv = Buffer.alloc(12, 9);
    const sealed = aesGcmEncrypt(key, plaintext, aad, iv);
    expect(sealed.iv).toEqual(iv);
    expect(aesGcmDecrypt(key, iv, sealed.ciphertext, sealed.tag, aad)).toEqual(plaintext);
    for (const bad of [Buffer.alloc(8), Buffer.alloc(16), Buffer.alloc(0)]) {
      expect(() => aesGcmEncrypt(key, plaintext, aad, bad)).toThrow(
        expect.objectContaining({ code: 'Internal' }),
      );
    }
  });

  it('refuses keys that are not 16 or 32 bytes as an internal error', () => {
    expect(() => aesGcmEncrypt(Buffer.alloc(24), plaintext, aad)).toThrow(
      expect.objectContaining({ code: 'Internal' }),
    );
  });

  it('interoperates with WebCrypto AES-GCM in both directions', async () => {
    const subtleKey = await webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const ours = aesGcmEncrypt(key, plaintext, aad);
    const opened = await webcrypto.subtle.decrypt(
      { name: 'AES-GCM', iv: ours.iv, additionalData: aad, tagLength: 128 },
      subtleKey,
      Buffer.concat([ours.ciphertext, ours.tag]),
    );
    expect(Buffer.from(opened)).toEqual(plaintext);

    const iv = Buffer.alloc(12, 3);
    const theirs = Buffer.from(
      await webcrypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 },
        subtleKey,
        plaintext,
      ),
    );
    const ct = theirs.subarray(0, theirs.length - 16);
    const tag = theirs.subarray(theirs.length - 16);
    expect(aesGcmDecrypt(key, iv, ct, tag, aad)).toEqual(plaintext);
  });
});
