// RSA signature encodings of RFC 8017 (EMSA-PSS §9.1, EMSA-PKCS1-v1_5 §9.2), applied to a digest we
// are given: DIGEST-mode signing, where node's crypto.sign would hash the digest again.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { validationError } from '../domain/errors.js';
import { digestLength } from '../domain/key-spec.js';

export type SignatureHash = 'sha256' | 'sha384' | 'sha512';

export const HASH_LENGTH: Record<SignatureHash, number> = digestLength;

/** DER of DigestInfo up to the digest octets (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Record<SignatureHash, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: SignatureHash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0; i * HASH_LENGTH[hash] < length; i++) {
    counter.writeUInt32BE(i);
    blocks.push(createHash(hash).update(seed).update(counter).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * EMSA-PKCS1-v1_5 (RFC 8017 §9.2) as the full k-octet block 00 01 FF..FF 00 || DigestInfo: verifying
 * by re-encoding and comparing whole blocks leaves no parser to fool (Bleichenbacher'06 forgeries).
 */
export function emsaPkcs1v15Encode(hash: SignatureHash, digest: Buffer, modulusBytes: number): Buffer {
  const t = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
  const psLength = modulusBytes - t.length - 3;
  if (psLength < 8) throw validationError('RSA key too small for PKCS#1 v1.5 signatures with this hash');
  return Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(psLength, 0xff), Buffer.from([0x00]), t]);
}

// AWS KMS: salt length equals the hash length, MGF1 uses the signature hash.
const pssSaltLength = (hash: SignatureHash) => HASH_LENGTH[hash];

/** Leftmost 8·emLen − emBits bits of the encoded message must be zero so that EM < n. */
const topMask = (emLen: number, emBits: number) => 0xff >> (8 * emLen - emBits);

function pssHash(hash: SignatureHash, mHash: Buffer, salt: Buffer): Buffer {
  return createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1), returned left-padded to the modulus length k. */
export function emsaPssEncode(hash: SignatureHash, mHash: Buffer, modulusBits: number): Buffer {
  const hLen = HASH_LENGTH[hash];
  const sLen = pssSaltLength(hash);
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + sLen + 2) throw validationError('RSA key too small for PSS signatures with this hash');
  const salt = randomBytes(sLen);
  const h = pssHash(hash, mHash, salt);
  const db = Buffer.concat([Buffer.alloc(emLen - sLen - hLen - 2), Buffer.from([0x01]), salt]);
  const dbMask = mgf1(hash, h, emLen - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (dbMask[i] ?? 0);
  db[0] = (db[0] ?? 0) & topMask(emLen, emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modulusBits / 8);
  return k === emLen ? em : Buffer.concat([Buffer.alloc(k - emLen), em]);
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen; `block` is the k-octet RSAVP1 output. Only
 * public values are involved, so early returns leak nothing.
 */
export function emsaPssVerify(
  hash: SignatureHash,
  mHash: Buffer,
  block: Buffer,
  modulusBits: number,
): boolean {
  const hLen = HASH_LENGTH[hash];
  const sLen = pssSaltLength(hash);
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  // RFC 8017 §8.1.2 step 2c: I2OSP(m, emLen) fails if the block does not fit in emLen octets.
  const k = Math.ceil(modulusBits / 8);
  if (block.length !== k || block.subarray(0, k - emLen).some((byte) => byte !== 0)) return false;
  const em = block.subarray(k - emLen);
  if (mHash.length !== hLen || emLen < hLen + sLen + 2) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const mask = topMask(emLen, emBits);
  if (((maskedDb[0] ?? 0) & ~mask & 0xff) !== 0) return false;
  const dbMask = mgf1(hash, h, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] ?? 0) ^ (dbMask[i] ?? 0);
  db[0] = (db[0] ?? 0) & mask;
  const psLength = emLen - hLen - sLen - 2;
  if (db.subarray(0, psLength).some((byte) => byte !== 0) || db[psLength] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  return timingSafeEqual(pssHash(hash, mHash, salt), h);
}
