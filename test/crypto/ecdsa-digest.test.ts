import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEcdsaSignature, encodeEcdsaSignature } from '../../src/crypto/ecdsa-der.js';

const CURVE_NAMES = ['prime256v1', 'secp384r1', 'secp521r1', 'secp256k1'] as const;

describe('ECDSA-Sig-Value DER', () => {
  it('re-encodes OpenSSL signatures byte for byte on every curve, including P-521 long-form lengths', () => {
    for (const name of CURVE_NAMES) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: name });
      for (let i = 0; i < 30; i++) {
        const der = sign('sha256', randomBytes(8), { key: privateKey, dsaEncoding: 'der' });
        const decoded = decodeEcdsaSignature(der);
        expect(decoded).toBeDefined();
        expect(encodeEcdsaSignature(decoded!.r, decoded!.s)).toEqual(der);
      }
    }
  });

  it('encodes small and high-bit integers minimally', () => {
    expect(encodeEcdsaSignature(1n, 0x80n).toString('hex')).toBe('3007020101020200' + '80');
    expect(decodeEcdsaSignature(Buffer.from('3007020101020200' + '80', 'hex'))).toEqual({ r: 1n, s: 0x80n });
  });

  it('refuses every BER or malformed variant', () => {
    const bad = [
      '', // empty
      '3007020101020101', // sequence length beyond the input
      '300602010102010100', // trailing byte after the sequence
      '3009020101020101020101', // three integers
      '3003020101', // one integer
      '308106020101020101', // long-form length where the short form fits
      '30820006020101020101', // two length octets for a length below 256
      '30800201010201010000', // indefinite length
      '300702020001020101', // non-minimal integer (leading zero before a positive byte)
      '3006020181020101', // negative r
      '30050200020101', // zero-length integer
      '3106020101020101', // SET instead of SEQUENCE
      '3006040101020101', // OCTET STRING instead of INTEGER
    ];
    for (const encoding of bad) {
      expect(decodeEcdsaSignature(Buffer.from(encoding, 'hex')), encoding).toBeUndefined();
    }
    expect(decodeEcdsaSignature(Buffer.from('3006020101020101', 'hex'))).toEqual({ r: 1n, s: 1n });
  });
});
