import { describe, expect, it } from 'vitest';
import { hkdf, hkdfMaxLength, hkdfSha256, type HkdfHash } from '../../src/crypto/kdf.js';
import { KmsError } from '../../src/domain/errors.js';
import { attempt, hex, loadWycheproof, VectorTally, type HkdfGroup } from './wycheproof.js';

const FILES: [HkdfHash, string][] = [
  ['sha256', 'hkdf_sha256_test.json'],
  ['sha384', 'hkdf_sha384_test.json'],
  ['sha512', 'hkdf_sha512_test.json'],
];

describe('HKDF against Wycheproof', () => {
  for (const [hash, file] of FILES) {
    it(`HKDF-${hash}: derives every valid vector and refuses the invalid output sizes`, () => {
      const tally = new VectorTally(`HKDF-${hash}`);
      for (const group of loadWycheproof<HkdfGroup>(file).testGroups) {
        for (const test of group.tests) {
          const outcome = attempt(() => hkdf(hash, hex(test.ikm), hex(test.salt), hex(test.info), test.size));
          if (outcome.ok) tally.record(test, outcome.value.equals(hex(test.okm)));
          else if (outcome.error instanceof KmsError && outcome.error.code === 'ValidationError') {
            tally.record(test, false);
          } else tally.failures.push(`tcId ${test.tcId}: unexpected error ${String(outcome.error)}`);
        }
      }
      tally.report();
      expect(tally.failures).toEqual([]);
      expect(tally.validAccepted).toBeGreaterThan(70);
      expect(tally.invalidRejected).toBe(3);
    });
  }
});

describe('HKDF', () => {
  it('matches RFC 5869 test case 1 through hkdfSha256', () => {
    const okm = hkdfSha256(
      hex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'),
      hex('000102030405060708090a0b0c'),
      hex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(okm.toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    expect(Buffer.isBuffer(okm)).toBe(true);
  });

  it('refuses lengths outside 1..255·HashLen and info over 1024 bytes with ValidationError', () => {
    const ikm = Buffer.alloc(32, 1);
    for (const length of [0, -1, 1.5, hkdfMaxLength('sha256') + 1]) {
      expect(() => hkdfSha256(ikm, Buffer.alloc(0), Buffer.alloc(0), length)).toThrow(
        expect.objectContaining({ code: 'ValidationError' }),
      );
    }
    expect(hkdfSha256(ikm, Buffer.alloc(0), Buffer.alloc(0), hkdfMaxLength('sha256'))).toHaveLength(8160);
    expect(() => hkdfSha256(ikm, Buffer.alloc(0), Buffer.alloc(1025), 32)).toThrow(
      expect.objectContaining({ code: 'ValidationError' }),
    );
  });
});
