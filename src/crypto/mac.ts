// HMAC (RFC 2104) generation and constant-time comparison for GENERATE_VERIFY_MAC keys.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hashOf, type MacAlgorithm } from '../domain/key-spec.js';

export function computeMac(algorithm: MacAlgorithm, key: Buffer, message: Buffer): Buffer {
  return createHmac(hashOf(algorithm), key).update(message).digest();
}

/**
 * Whether a presented MAC is the expected one, in constant time. Only the full-length tag matches:
 * AWS VerifyMac accepts no truncated MACs. The length check comes first because timingSafeEqual
 * throws on unequal lengths; the length is public anyway.
 */
export function macMatches(expected: Buffer, presented: Buffer): boolean {
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}
