// The embedded root key: 32 random bytes in `<dataDir>/root-key.json`, sealed under a passphrase
// (scrypt -> AES-256-GCM) when one is configured, otherwise stored in the clear in a 0600 file for
// development only.
import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aesGcmDecrypt, aesGcmEncrypt } from '../../../crypto/aead.js';

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

type RootKeyFile =
  | { version: 1; sealed: false; key: string }
  | {
      version: 1;
      sealed: true;
      kdf: 'scrypt';
      N: number;
      r: number;
      p: number;
      salt: string;
      iv: string;
      ciphertext: string;
      tag: string;
    };

export class RootKeyError extends Error {
  override name = 'RootKeyError';
}

export interface LoadedRootKey {
  key: Buffer;
  created: boolean;
  sealed: boolean;
}

async function deriveSealingKey(passphrase: string, salt: Buffer, params: typeof SCRYPT): Promise<Buffer> {
  return scrypt(passphrase, salt, 32, { ...params, maxmem: 256 * params.N * params.r });
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
  const file = JSON.parse(readFileSync(path, 'utf8')) as RootKeyFile;
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
