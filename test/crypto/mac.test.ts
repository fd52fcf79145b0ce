import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeMac, macMatches } from '../../src/crypto/mac.js';

/** What CryptoService.verifyMac does per version: compute with the key, compare in constant time. */
const verifyMac = (algorithm: MacAlgorithm, key: Buffer, message: Buffer, mac: Buffer) =>
  macMatches(computeMac(algorithm, key, message), mac);
import { MAC_ALGORITHMS, type MacAlgorithm } from '../../src/domain/key-spec.js';
import { hex, loadWycheproof, VectorTally, type MacGroup } from './wycheproof.js';

const FILES: [MacAlgorithm, string, number][] = [
  ['HMAC_SHA_256', 'hmac_sha256_test.json', 32],
  ['HMAC_SHA_384', 'hmac_sha384_test.json', 48],
  ['HMAC_SHA_512', 'hmac_sha512_test.json', 64],
];

describe('HMAC against Wycheproof', () => {
  for (const [algorithm, file, fullLength] of FILES) {
    it(`${algorithm}: full-length tags verify exactly when valid; truncated tags never verify`, () => {
      const tally = new VectorTally(algorithm);
      const truncated = new VectorTally(`${algorithm} truncated-tag groups (prefix check)`);
      for (const group of loadWycheproof<MacGroup>(file).testGroups) {
        for (const test of group.tests) {
          const [key, msg, tag] = [hex(test.key), hex(test.msg), hex(test.tag)];
          if (group.tagSize / 8 === fullLength) {
            tally.record(test, verifyMac(algorithm, key, msg, tag));
          } else {
            // AWS VerifyMac takes only full tags, so verifyMac must refuse even a correct truncated tag;
            // computeMac is still checked against the vector by its prefix.
            if (verifyMac(algorithm, key, msg, tag))
              truncated.failures.push(`tcId ${test.tcId}: truncated accepted`);
            truncated.record(test, computeMac(algorithm, key, msg).subarray(0, tag.length).equals(tag));
          }
        }
      }
      tally.report();
      truncated.report();
      expect(tally.failures).toEqual([]);
      expect(truncated.failures).toEqual([]);
      expect(tally.validAccepted).toBeGreaterThan(30);
      expect(tally.invalidRejected).toBeGreaterThan(50);
    });
  }
});

describe('HMAC', () => {
  it('matches RFC 4231 test case 2 for every MAC algorithm', () => {
    const key = Buffer.from('Jefe');
    const message = Buffer.from('what do ya want for nothing?');
    const expected: Record<MacAlgorithm, string> = {
      HMAC_SHA_224: 'a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44',
      HMAC_SHA_256: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      HMAC_SHA_384:
        'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
      HMAC_SHA_512:
        '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    };
    for (const algorithm of MAC_ALGORITHMS) {
      const mac = computeMac(algorithm, key, message);
      expect(mac.toString('hex')).toBe(expected[algorithm]);
      expect(verifyMac(algorithm, key, message, mac)).toBe(true);
    }
  });

  it('rejects a MAC of the wrong length without throwing, and any flipped bit', () => {
    const key = randomBytes(32);
    const message = Buffer.from('message');
    const mac = computeMac('HMAC_SHA_256', key, message);
    expect(verifyMac('HMAC_SHA_256', key, message, Buffer.alloc(0))).toBe(false);
    expect(verifyMac('HMAC_SHA_256', key, message, mac.subarray(0, 16))).toBe(false);
    expect(verifyMac('HMAC_SHA_256', key, message, Buffer.concat([mac, Buffer.alloc(1)]))).toBe(false);
    for (let bit = 0; bit < mac.length * 8; bit++) {
      const flipped = Buffer.from(mac);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(verifyMac('HMAC_SHA_256', key, message, flipped)).toBe(false);
    }
    expect(verifyMac('HMAC_SHA_384', key, message, mac)).toBe(false);
  });

  it('agrees with createHmac for HMAC_SHA_224', () => {
    const key = randomBytes(28);
    const message = randomBytes(100);
    expect(computeMac('HMAC_SHA_224', key, message)).toEqual(
      createHmac('sha224', key).update(message).digest(),
    );
  });
});
