// The embedded root key: 32 random bytes in `<dataDir>/root-key.json`, sealed under a passphrase
// (scrypt -> AES-256-GCM) when one is configured, otherwise stored in the clear in a 0600 file for
// development only.
import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { RootKeyError } from './root-key-error.js';
import { aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';
import { describeSyntaxError, parseJsonOrLocate } from '../../../json-position.js';
import { assertPrivateFile } from '../../private-files.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export const ROOT_KEY_FILE = 'root-key.json';
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 };
/** The sealed root key is bound to nothing else: the file holds one key. */
const NO_AAD = Buffer.alloc(0);

/** Standard base64 of exactly `bytes` bytes. */
const base64Of = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]*={0,2}$/)
    .refine((text) => Buffer.from(text, 'base64').length === bytes, `must encode ${bytes} bytes`);

// The file is read before anything else is trusted: its scrypt parameters are bounded, so an edited
// file cannot make start-up allocate more than 256 MiB or work much longer than the defaults do
// (scrypt needs 128 * N * r bytes and time proportional to N * r * p; the defaults, N = 2^17,
// r = 8, p = 1, take 128 MiB and about half a second).
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_SCRYPT_WORK = 4 * 2 ** 17 * 8;

const rootKeyFileSchema = z.discriminatedUnion('sealed', [
  z.object({ version: z.literal(1), sealed: z.literal(false), key: base64Of(32) }).strict(),
  z
    .object({
      version: z.literal(1),
      sealed: z.literal(true),
      kdf: z.literal('scrypt'),
      N: z
        .number()
        .int()
        .min(2 ** 14)
        .max(2 ** 20)
        .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
      r: z.number().int().min(1).max(32),
      p: z.number().int().min(1).max(16),
      salt: base64Of(16),
      iv: base64Of(12),
      ciphertext: base64Of(32),
      tag: base64Of(16),
    })
    .strict()
    .refine((f) => 128 * f.N * f.r <= MAX_SCRYPT_MEMORY, { message: 'scrypt memory', path: ['N'] })
    .refine((f) => f.N * f.r * f.p <= MAX_SCRYPT_WORK, { message: 'scrypt work', path: ['p'] }),
]);

type RootKeyFile = z.infer<typeof rootKeyFileSchema>;

export { RootKeyError };

export interface LoadedRootKey {
  key: Buffer;
  created: boolean;
  sealed: boolean;
}

async function deriveSealingKey(passphrase: string, salt: Buffer, params: typeof SCRYPT): Promise<Buffer> {
  return scrypt(passphrase, salt, 32, { ...params, maxmem: 128 * params.N * params.r + 1024 * 1024 });
}

/** Loads the root key, creating it on first start. Throws RootKeyError on a wrong passphrase. */
export async function loadOrCreateRootKey(
  dataDir: string,
  passphrase: string | undefined,
): Promise<LoadedRootKey> {
  const path = join(dataDir, ROOT_KEY_FILE);
  if (!existsSync(path)) {
    const key = randomBytes(32);
    writeFileSync(path, JSON.stringify(await sealRootKey(key, passphrase), null, 2), {
      mode: 0o600,
      flag: 'wx',
    });
    chmodSync(path, 0o600);
    return { key, created: true, sealed: passphrase !== undefined };
  }
  assertPrivateFile(path);
  const file = readRootKeyFile(path);
  if (!file.sealed) {
    if (passphrase !== undefined) {
      throw new RootKeyError(
        `${path} is not sealed but KEYHAVEN_ROOT_PASSPHRASE is set; unset it, or start from a new data directory`,
      );
    }
    return { key: Buffer.from(file.key, 'base64'), created: false, sealed: false };
  }
  if (passphrase === undefined) {
    throw new RootKeyError(`${path} is sealed; set KEYHAVEN_ROOT_PASSPHRASE to unseal it`);
  }
  const sealingKey = await deriveSealingKey(passphrase, Buffer.from(file.salt, 'base64'), file);
  try {
    const key = aesGcmDecrypt(
      sealingKey,
      Buffer.from(file.iv, 'base64'),
      Buffer.from(file.ciphertext, 'base64'),
      Buffer.from(file.tag, 'base64'),
      NO_AAD,
    );
    return { key, created: false, sealed: true };
  } catch {
    throw new RootKeyError('the root passphrase is wrong: the root key could not be unsealed');
  } finally {
    sealingKey.fill(0);
  }
}

/** Reads and checks the root key file; RootKeyError names the path and the problem, never content. */
function readRootKeyFile(path: string): RootKeyFile {
  const parsed = parseJsonOrLocate(readFileSync(path, 'utf8'));
  if ('error' in parsed) {
    throw new RootKeyError(`${path} is ${describeSyntaxError(parsed.error)}; restore it from a backup`);
  }
  const checked = rootKeyFileSchema.safeParse(parsed.value);
  if (!checked.success) {
    const fields = [...new Set(checked.error.issues.map((i) => i.path.join('.') || '(root)'))];
    throw new RootKeyError(
      `${path} is not a Keyhaven root key file (invalid: ${fields.join(', ')}); restore it from a backup`,
    );
  }
  return checked.data;
}

async function sealRootKey(key: Buffer, passphrase: string | undefined): Promise<RootKeyFile> {
  if (passphrase === undefined) return { version: 1, sealed: false, key: key.toString('base64') };
  const salt = randomBytes(16);
  const sealingKey = await deriveSealingKey(passphrase, salt, SCRYPT);
  const { iv, ciphertext, tag } = aesGcmEncrypt(sealingKey, key, NO_AAD);
  sealingKey.fill(0);
  return {
    version: 1,
    sealed: true,
    kdf: 'scrypt',
    ...SCRYPT,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: tag.toString('base64'),
  };
}
