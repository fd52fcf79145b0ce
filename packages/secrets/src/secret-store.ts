// The runtime keystore: decrypts every ENC[...] value of a source at start-up (bounded parallel),
// keeps each value sealed under a random AES-256-GCM key of its own in memory, and opens one only
// when asked, through get(name). Nothing is written to process.env. destroy() zeroizes it all.
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { mapBounded, valuesOrFirstFailure } from './bounded-parallel.js';
import { forVariable, SecretsError } from './errors.js';
import { decryptEntry, DEFAULT_CONCURRENCY, type AcceptedContext } from './file-operations.js';
import { formatOfPath, parseSecretDocument, type SecretFormat } from './formats/index.js';
import { awsKms, type AwsKmsOptions } from './kms/aws-kms.js';
import { keyhavenKms, type KeyhavenKmsOptions } from './kms/keyhaven-rest.js';
import type { SecretDecryptor } from './kms/secret-kms.js';
import { isEncryptedValue } from './token.js';

export type SecretSource =
  /** A file path; its format from its name. */
  | string
  | { path: string; format?: SecretFormat }
  | { text: string; format: SecretFormat }
  /** Called at start-up and at each refresh. */
  | (() => Promise<{ text: string; format: SecretFormat }>);

export interface SecretStoreOptions {
  /** Who decrypts (the seam for other decryptors); default: Keyhaven's REST API (`keyhaven`). */
  decryptor?: SecretDecryptor;
  /** Keyhaven's REST API; default: KEYHAVEN_ENDPOINT and KEYHAVEN_TOKEN, read once here. */
  keyhaven?: KeyhavenKmsOptions;
  /** An AWS KMS-compatible endpoint instead (AWS, or Keyhaven's AWS dialect). */
  aws?: AwsKmsOptions;
  /** Which tokens to accept: 'name' (bound to their name, the default), 'none' or 'any'. */
  accept?: AcceptedContext;
  /** Names that must be present; start-up fails naming the first one missing. */
  required?: string[];
  /** Decrypts in flight at once (default 8). */
  concurrency?: number;
  /** Re-read the source and decrypt again every ttlMs (a background timer that keeps no process alive). */
  ttlMs?: number;
  /** With ttlMs: how long after the last successful load get() still answers (default ttlMs). */
  maxStaleMs?: number;
  onRefresh?: (names: string[]) => void;
  onRefreshError?: (error: unknown) => void;
  /** The clock for expiry (default Date.now): a test double for time only. */
  now?: () => number;
}

export interface SecretStore {
  /** The value; throws MissingSecret for a name the source does not have. */
  get(name: string): string;
  has(name: string): boolean;
  names(): string[];
  /** Loads the source and decrypts again now; the old values stay until the new ones are ready. */
  refresh(): Promise<void>;
  /** Zeroizes the sealing key and every sealed value; get() fails afterwards. */
  destroy(): void;
}

/** For tests and audits: the store's sealing key and sealed buffers (references, not copies). */
export const SEALED_MATERIAL = Symbol('keyhaven.secrets.sealedMaterial');

const IV_BYTES = 12;
const TAG_BYTES = 16;

export async function createSecretStore(
  source: SecretSource,
  options: SecretStoreOptions = {},
): Promise<SecretStore> {
  const decryptor = options.decryptor ?? defaultDecryptor(options);
  // A client the store made is the store's to close; a decryptor given to it is the caller's.
  const closeDecryptor = () => {
    if (!options.decryptor) (decryptor as { close?: () => void }).close?.();
  };
  const now = options.now ?? Date.now;
  const key = randomFillSync(Buffer.alloc(32));
  let sealed = new Map<string, Buffer>();
  let loadedAt = 0;
  let destroyed = false;
  let refreshing: Promise<void> | undefined;

  const seal = (name: string, plaintext: Buffer): Buffer => {
    const box = Buffer.alloc(IV_BYTES + plaintext.length + TAG_BYTES);
    randomFillSync(box, 0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = cipher.update(plaintext);
    body.copy(box, IV_BYTES);
    body.fill(0);
    cipher.final();
    cipher.getAuthTag().copy(box, IV_BYTES + plaintext.length);
    return box;
  };

  const load = async (): Promise<Map<string, Buffer>> => {
    const { text, format } = await readSource(source);
    const entries = parseSecretDocument(text, format).entries;
    const present = new Set(entries.map((entry) => entry.name));
    const missing = (options.required ?? []).filter((name) => !present.has(name));
    if (missing.length > 0) {
      throw new SecretsError(
        'MissingSecret',
        `required secret ${missing.join(', ')} is missing from the source`,
        {
          variable: missing[0],
        },
      );
    }
    const results = await mapBounded(entries, options.concurrency ?? DEFAULT_CONCURRENCY, async (entry) => {
      if (!isEncryptedValue(entry.value)) {
        const plaintext = Buffer.from(entry.value, 'utf8');
        return seal(entry.name, plaintext);
      }
      let plaintext: Buffer | undefined;
      try {
        plaintext = await decryptEntry(decryptor, entry, options.accept ?? 'name');
        return seal(entry.name, plaintext);
      } catch (error) {
        throw forVariable(error, entry.name, 'decrypt');
      } finally {
        plaintext?.fill(0);
      }
    });
    try {
      const boxes = valuesOrFirstFailure(results);
      return new Map(entries.map((entry, i) => [entry.name, boxes[i]!]));
    } catch (error) {
      for (const result of results) if (result.status === 'fulfilled') result.value.fill(0);
      throw error;
    }
  };

  const replace = (next: Map<string, Buffer>) => {
    if (destroyed) {
      for (const box of next.values()) box.fill(0);
      throw closed();
    }
    const previous = sealed;
    sealed = next;
    loadedAt = now();
    for (const box of previous.values()) box.fill(0);
  };

  try {
    replace(await load());
  } catch (error) {
    key.fill(0);
    closeDecryptor();
    throw error;
  }

  const refresh = () =>
    (refreshing ??= load()
      .then(replace)
      .then(() => options.onRefresh?.([...sealed.keys()]))
      .finally(() => (refreshing = undefined)));

  const timer =
    options.ttlMs === undefined
      ? undefined
      : setInterval(
          () => refresh().catch((error: unknown) => options.onRefreshError?.(error)),
          options.ttlMs,
        ).unref();

  const store: SecretStore & { [SEALED_MATERIAL](): { key: Buffer; sealed: Buffer[] } } = {
    get(name) {
      if (destroyed) throw closed();
      if (
        options.ttlMs !== undefined &&
        now() - loadedAt > options.ttlMs + (options.maxStaleMs ?? options.ttlMs)
      ) {
        throw new SecretsError(
          'Expired',
          `the secrets expired: no successful refresh since ${new Date(loadedAt).toISOString()}`,
          {
            variable: name,
          },
        );
      }
      const box = sealed.get(name);
      if (!box) throw new SecretsError('MissingSecret', `no secret named ${name}`, { variable: name });
      const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(box.subarray(box.length - TAG_BYTES));
      const plaintext = decipher.update(box.subarray(IV_BYTES, box.length - TAG_BYTES));
      try {
        decipher.final();
        return plaintext.toString('utf8');
      } finally {
        plaintext.fill(0);
      }
    },
    has: (name) => !destroyed && sealed.has(name),
    names: () => (destroyed ? [] : [...sealed.keys()]),
    refresh: () => (destroyed ? Promise.reject(closed()) : refresh()),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      if (timer) clearInterval(timer);
      key.fill(0);
      for (const box of sealed.values()) box.fill(0);
      sealed.clear();
      closeDecryptor();
    },
    [SEALED_MATERIAL]: () => ({ key, sealed: [...sealed.values()] }),
  };
  return store;
}

const closed = () => new SecretsError('StoreClosed', 'the secret store was destroyed');

function defaultDecryptor(options: SecretStoreOptions): SecretDecryptor {
  if (options.aws) return awsKms(options.aws);
  const endpoint = options.keyhaven?.endpoint ?? process.env.KEYHAVEN_ENDPOINT;
  const token = options.keyhaven?.token ?? process.env.KEYHAVEN_TOKEN;
  if (!endpoint || !token) {
    throw new SecretsError(
      'UsageError',
      'no KMS configured: give a decryptor, keyhaven {endpoint, token}, or aws options (or set KEYHAVEN_ENDPOINT and KEYHAVEN_TOKEN)',
    );
  }
  return keyhavenKms({ ...options.keyhaven, endpoint, token });
}

async function readSource(source: SecretSource): Promise<{ text: string; format: SecretFormat }> {
  if (typeof source === 'function') return source();
  if (typeof source === 'string')
    return { text: await readFile(source, 'utf8'), format: formatOfPath(source) };
  if ('text' in source) return source;
  return { text: await readFile(source.path, 'utf8'), format: source.format ?? formatOfPath(source.path) };
}
