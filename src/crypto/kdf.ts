// HKDF (RFC 5869) extract-and-expand, used for POST /v1/derive and for deriving subkeys.
import { hkdfSync } from 'node:crypto';
import { validationError } from '../domain/errors.js';
import { digestLength } from '../domain/key-spec.js';

export type HkdfHash = 'sha256' | 'sha384' | 'sha512';

/** node:crypto refuses longer info (a limit of its own, not RFC 5869's). */
export const HKDF_MAX_INFO_LENGTH = 1024;

export const hkdfMaxLength = (hash: HkdfHash) => 255 * digestLength[hash];

export function hkdf(hash: HkdfHash, ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  // RFC 5869 §2.3: L <= 255 * HashLen, since the block counter is a single octet.
  if (!Number.isInteger(length) || length < 1 || length > hkdfMaxLength(hash)) {
    throw validationError(`HKDF output length must be an integer from 1 to ${hkdfMaxLength(hash)}`);
  }
  if (info.length > HKDF_MAX_INFO_LENGTH) {
    throw validationError(`HKDF info must be at most ${HKDF_MAX_INFO_LENGTH} bytes`);
  }
  return Buffer.from(hkdfSync(hash, ikm, salt, info, length));
}

export const hkdfSha256 = (ikm: Buffer, salt: Buffer, info: Buffer, length: number) =>
  hkdf('sha256', ikm, salt, info, length);
