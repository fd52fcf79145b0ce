// Sealing a key bundle (domain/key-bundle.ts): AES-256-GCM of the payload under a 256-bit key,
// either derived from a passphrase with scrypt (RFC 7914; salt and cost in the header) or a fresh
// data key the caller has encrypted under a Keyhaven key. The header is the associated data.
import { randomBytes, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { invalidCiphertext, validationError } from '../domain/errors.js';
import {
  decodeBundleHeader,
  encodeBundlePrefix,
  type BundleHeader,
  type BundleSeal,
  type ScryptParameters,
} from '../domain/key-bundle.js';
import { AES_GCM_IV_LENGTH, AES_GCM_TAG_LENGTH, aesGcmDecrypt, aesGcmEncrypt } from './aead.js';

/**
 * N = 2^17, r = 8, p = 1: OWASP's scrypt recommendation (128 MiB; 1.7 s measured on the 2-core CI machine). A
 * bundle is sealed and opened rarely, so the cost falls on whoever guesses passphrases.
 */
export const DEFAULT_SCRYPT: ScryptParameters = { N: 2 ** 17, r: 8, p: 1 };
/** What a bundle's header may ask for: a forged header must not make the server spend gigabytes. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
/**
 * The most work (N·r·p) a bundle may ask for: twice the default. The header is the restorer's to
 * choose, and each derivation holds a thread of libuv's small pool for its whole time.
 */
const MAX_SCRYPT_WORK = 2 * DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p;
export const MIN_PASSPHRASE_LENGTH = 12;
const KEY_BYTES = 32;

export function checkPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw validationError(`passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
}

function scryptMemory({ N, r }: ScryptParameters): number {
  return 128 * N * r;
}

function checkScrypt(parameters: ScryptParameters): void {
  const { N, r, p } = parameters;
  const powerOfTwo = Number.isInteger(N) && N >= 2 ** 14 && (N & (N - 1)) === 0;
  if (!powerOfTwo || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    throw validationError('the bundle asks for scrypt parameters this server does not accept');
  }
  if (scryptMemory(parameters) > MAX_SCRYPT_MEMORY) {
    throw validationError('the bundle asks for more scrypt memory than this server allows (256 MiB)');
  }
  if (N * r * p > MAX_SCRYPT_WORK) {
    throw validationError(
      'the bundle asks for more scrypt work than this server allows (N·r·p at most 2^21)',
    );
  }
}

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  length: number,
  options: ScryptParameters & { maxmem: number },
) => Promise<Buffer>;

/** On libuv's thread pool: half a second of scrypt must not stop the event loop. */
export async function deriveBundleKey(
  passphrase: string,
  salt: Buffer,
  parameters: ScryptParameters,
): Promise<Buffer> {
  checkScrypt(parameters);
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  try {
    return await scryptAsync(secret, salt, KEY_BYTES, {
      N: parameters.N,
      r: parameters.r,
      p: parameters.p,
      maxmem: scryptMemory(parameters) + 1024 * 1024,
    });
  } finally {
    secret.fill(0);
  }
}

/** A passphrase seal's header part and its key (the caller wipes the key). */
export async function passphraseSeal(
  passphrase: string,
  parameters: ScryptParameters = DEFAULT_SCRYPT,
): Promise<{ seal: BundleSeal; key: Buffer }> {
  checkPassphrase(passphrase);
  const salt = randomBytes(16);
  return {
    seal: { kind: 'passphrase', kdf: 'scrypt', salt: salt.toString('base64'), ...parameters },
    key: await deriveBundleKey(passphrase, salt, parameters),
  };
}

export function sealBundle(key: Buffer, header: Omit<BundleHeader, 'iv'>, payload: Buffer): Buffer {
  const iv = randomBytes(AES_GCM_IV_LENGTH);
  const prefix = encodeBundlePrefix({ ...header, iv: iv.toString('base64') });
  const { ciphertext, tag } = aesGcmEncrypt(key, payload, prefix, iv);
  return Buffer.concat([prefix, ciphertext, tag]);
}

/** The payload's plaintext (the caller wipes it); InvalidCiphertext for a wrong key or any change. */
export function openBundle(key: Buffer, bundle: Buffer): Buffer {
  const { header, aad, body } = decodeBundleHeader(bundle);
  if (body.length < AES_GCM_TAG_LENGTH) throw invalidCiphertext('the bundle is truncated');
  const iv = Buffer.from(header.iv, 'base64');
  const ciphertext = body.subarray(0, body.length - AES_GCM_TAG_LENGTH);
  const tag = body.subarray(body.length - AES_GCM_TAG_LENGTH);
  try {
    return aesGcmDecrypt(key, iv, ciphertext, tag, aad);
  } catch {
    throw invalidCiphertext('the bundle could not be opened: wrong passphrase or key, or it was changed');
  }
}
