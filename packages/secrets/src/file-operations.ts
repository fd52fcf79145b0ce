// encrypt, decrypt and rotate over a file's text: which values, under which key and context mode.
import { mapBounded, valuesOrFirstFailure } from './bounded-parallel.js';
import { forVariable, SecretsError } from './errors.js';
import { parseSecretDocument, type SecretEntry, type SecretFormat } from './formats/index.js';
import type { SecretKms } from './kms/secret-kms.js';
import { selects, type Selection } from './selection.js';
import { contextFor, formatToken, isEncryptedValue, parseToken, type ContextMode } from './token.js';

export const DEFAULT_CONCURRENCY = 8;

/** Which tokens a reader accepts: bound to their name (default), without context, or either. */
export type AcceptedContext = ContextMode | 'any';

export interface EncryptTextOptions {
  kms: SecretKms;
  keyId: string;
  /** 'name' (default) binds each value's name as encryption context; 'none' binds nothing. */
  context?: ContextMode;
  selection?: Selection;
  concurrency?: number;
}

export interface OperationResult {
  text: string;
  /** Names changed, in file order. */
  changed: string[];
  /** Names selected but left alone (already encrypted on encrypt; plaintext on decrypt/rotate). */
  skipped: string[];
}

export async function encryptText(
  text: string,
  format: SecretFormat,
  options: EncryptTextOptions,
): Promise<OperationResult> {
  const mode = options.context ?? 'name';
  const document = parseSecretDocument(text, format);
  const selected = document.entries.filter((entry) => selects(options.selection ?? {}, entry.name));
  const todo = selected.filter((entry) => entry.value !== '' && !isEncryptedValue(entry.value));
  const tokens = await settle(todo, options.concurrency, 'encrypt', async (entry) => {
    const plaintext = Buffer.from(entry.value, 'utf8');
    try {
      return formatToken(
        mode,
        await options.kms.encrypt({ keyId: options.keyId, plaintext, context: contextFor(mode, entry.name) }),
      );
    } finally {
      plaintext.fill(0);
    }
  });
  return result(document.render(new Map(todo.map((entry, i) => [entry.name, tokens[i]!]))), todo, selected);
}

export interface DecryptTextOptions {
  kms: SecretKms;
  accept?: AcceptedContext;
  selection?: Selection;
  concurrency?: number;
}

export async function decryptText(
  text: string,
  format: SecretFormat,
  options: DecryptTextOptions,
): Promise<OperationResult> {
  const document = parseSecretDocument(text, format);
  const selected = document.entries.filter((entry) => selects(options.selection ?? {}, entry.name));
  const todo = selected.filter((entry) => isEncryptedValue(entry.value));
  const values = await settle(todo, options.concurrency, 'decrypt', async (entry) => {
    const plaintext = await decryptEntry(options.kms, entry, options.accept ?? 'name');
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  });
  return result(document.render(new Map(todo.map((entry, i) => [entry.name, values[i]!]))), todo, selected);
}

export interface RotateTextOptions {
  kms: SecretKms;
  /** The key to encrypt under: the same key (its current version after a rotation) or another. */
  keyId: string;
  /** Tokens accepted as input (default 'name'). */
  accept?: AcceptedContext;
  /** The mode written (default: each token keeps its own). */
  context?: ContextMode;
  selection?: Selection;
  concurrency?: number;
}

export async function rotateText(
  text: string,
  format: SecretFormat,
  options: RotateTextOptions,
): Promise<OperationResult> {
  const document = parseSecretDocument(text, format);
  const selected = document.entries.filter((entry) => selects(options.selection ?? {}, entry.name));
  const todo = selected.filter((entry) => isEncryptedValue(entry.value));
  const tokens = await settle(todo, options.concurrency, 'rotate', async (entry) => {
    const token = acceptedToken(entry, options.accept ?? 'name');
    const target = options.context ?? token.mode;
    const ciphertext = await options.kms.reencrypt({
      ciphertext: token.ciphertext,
      context: contextFor(token.mode, entry.name),
      destinationKeyId: options.keyId,
      destinationContext: contextFor(target, entry.name),
    });
    return formatToken(target, ciphertext);
  });
  return result(document.render(new Map(todo.map((entry, i) => [entry.name, tokens[i]!]))), todo, selected);
}

/** The token of an entry, refused when its context mode is not one the reader accepts. */
export function acceptedToken(entry: SecretEntry, accept: AcceptedContext) {
  const token = parseToken(entry.value);
  if (accept !== 'any' && token.mode !== accept) {
    throw new SecretsError(
      'InvalidToken',
      token.mode === 'none'
        ? 'the value is encrypted without encryption context, which this reader does not accept (allow it with context mode "none" or "any")'
        : 'the value is bound to its name (ENC[kh1:...]) but this reader expects values without context',
    );
  }
  return token;
}

/** Decrypts one entry's token; the caller zeroizes the Buffer. */
export async function decryptEntry(
  kms: { decrypt: SecretKms['decrypt'] },
  entry: SecretEntry,
  accept: AcceptedContext,
): Promise<Buffer> {
  const token = acceptedToken(entry, accept);
  return kms.decrypt({
    name: entry.name,
    ciphertext: token.ciphertext,
    context: contextFor(token.mode, entry.name),
  });
}

async function settle<R>(
  entries: SecretEntry[],
  concurrency: number | undefined,
  action: 'encrypt' | 'decrypt' | 'rotate',
  work: (entry: SecretEntry) => Promise<R>,
): Promise<R[]> {
  const results = await mapBounded(entries, concurrency ?? DEFAULT_CONCURRENCY, async (entry) => {
    try {
      return await work(entry);
    } catch (error) {
      throw forVariable(error, entry.name, action);
    }
  });
  return valuesOrFirstFailure(results);
}

function result(text: string, changed: SecretEntry[], selected: SecretEntry[]): OperationResult {
  const names = new Set(changed.map((entry) => entry.name));
  return {
    text,
    changed: [...names],
    skipped: selected.filter((entry) => !names.has(entry.name)).map((entry) => entry.name),
  };
}
