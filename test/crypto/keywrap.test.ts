import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesKwpUnwrap, aesKwpWrap, aesKwUnwrap, aesKwWrap } from '../../src/crypto/keywrap.js';
import { KmsError } from '../../src/domain/errors.js';
import { attempt, hex, loadWycheproof, VectorTally, type KeywrapGroup } from './wycheproof.js';

const isInvalidCiphertext = (error: unknown) =>
  error instanceof KmsError && error.code === 'InvalidCiphertext';

function runKeywrapVectors(
  name: string,
  file: string,
  wrap: (kek: Buffer, material: Buffer) => Buffer,
  unwrap: (kek: Buffer, wrapped: Buffer) => Buffer,
): VectorTally {
  const tally = new VectorTally(name);
  for (const group of loadWycheproof<KeywrapGroup>(file).testGroups) {
    for (const test of group.tests) {
      const [kek, msg, ct] = [hex(test.key), hex(test.msg), hex(test.ct)];
      const unwrapped = attempt(() => unwrap(kek, ct));
      if (!unwrapped.ok && !isInvalidCiphertext(unwrapped.error)) {
        tally.failures.push(`tcId ${test.tcId}: unexpected error ${String(unwrapped.error)}`);
        continue;
      }
      // Wrapping is deterministic, so a valid vector must also come out of wrap() byte for byte.
      const wrapped = test.result === 'invalid' ? undefined : attempt(() => wrap(kek, msg));
      const wrapMatches = wrapped === undefined || (wrapped.ok && wrapped.value.equals(ct));
      tally.record(test, unwrapped.ok && unwrapped.value.equals(msg) && wrapMatches);
    }
  }
  tally.report();
  return tally;
}

describe('AES-KWP (RFC 5649) against Wycheproof', () => {
  it('wraps and unwraps every valid vector and rejects every invalid one (AES-128/192/256 KEKs)', () => {
    const tally = runKeywrapVectors('AES-KWP', 'aes_kwp_test.json', aesKwpWrap, aesKwpUnwrap);
    expect(tally.failures).toEqual([]);
    expect(tally.validAccepted).toBeGreaterThan(60);
    expect(tally.invalidRejected).toBeGreaterThan(150);
  });
});

describe('AES-KW (RFC 3394) against Wycheproof', () => {
  it('wraps and unwraps every valid vector, rejects every invalid one and the 8-byte "acceptable" keys', () => {
    const tally = runKeywrapVectors('AES-KW', 'aes_wrap_test.json', aesKwWrap, aesKwUnwrap);
    expect(tally.failures).toEqual([]);
    expect(tally.validAccepted).toBeGreaterThan(30);
    expect(tally.invalidRejected).toBeGreaterThan(100);
    // "acceptable" = wrapped 8-byte keys (ShortKey): RFC 3394 needs n >= 2 semiblocks, so we refuse them.
    expect(tally.acceptableAccepted).toBe(0);
    expect(tally.acceptableRejected).toBe(3);
  });
});

describe('AES-KWP', () => {
  const kek = randomBytes(32);

  it('round-trips key material of every length from 1 to 80 bytes', () => {
    for (let length = 1; length <= 80; length++) {
      const material = randomBytes(length);
      const wrapped = aesKwpWrap(kek, material);
      expect(wrapped.length).toBe(8 + Math.ceil(length / 8) * 8);
      expect(aesKwpUnwrap(kek, wrapped)).toEqual(material);
    }
  });

  it('refuses to wrap empty material', () => {
    expect(() => aesKwpWrap(kek, Buffer.alloc(0))).toThrow(
      expect.objectContaining({ code: 'ValidationError' }),
    );
  });

  it('rejects a wrong KEK, any bit flip and bad lengths with InvalidCiphertext', () => {
    const wrapped = aesKwpWrap(kek, randomBytes(32));
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.alloc(8),
      wrapped.subarray(0, 39),
      wrapped.subarray(0, 32),
    ];
    for (let bit = 0; bit < wrapped.length * 8; bit += 7) {
      const flipped = Buffer.from(wrapped);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      cases.push(flipped);
    }
    for (const input of cases) {
      expect(() => aesKwpUnwrap(kek, input)).toThrow(expect.objectContaining({ code: 'InvalidCiphertext' }));
    }
    expect(() => aesKwpUnwrap(randomBytes(32), wrapped)).toThrow(
      expect.objectContaining({ code: 'InvalidCiphertext' }),
    );
  });

  it('matches the RFC 5649 §6 example (192-bit KEK, 20-octet key)', () => {
    const rfcKek = hex('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8');
    const key = hex('c37b7e6492584340bed12207808941155068f738');
    const expected = hex('138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a');
    expect(aesKwpWrap(rfcKek, key)).toEqual(expected);
    expect(aesKwpUnwrap(rfcKek, expected)).toEqual(key);
  });

  it('refuses KEKs of other lengths as an internal error', () => {
    expect(() => aesKwpWrap(Buffer.alloc(20), Buffer.alloc(16))).toThrow(
      expect.objectContaining({ code: 'Internal' }),
    );
  });
});

describe('AES-KW', () => {
  it('refuses material that is not whole semiblocks or shorter than 16 bytes', () => {
    const kek = randomBytes(16);
    for (const length of [0, 8, 15, 20]) {
      expect(() => aesKwWrap(kek, Buffer.alloc(length))).toThrow(
        expect.objectContaining({ code: 'ValidationError' }),
      );
    }
  });
});
