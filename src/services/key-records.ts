// What every service that writes key records shares: the key as stored now (never the cached copy a
// write must not start from), its description with aliases, and the rules of the record's fields.
import { validationError } from '../domain/errors.js';
import { assertWellFormed } from '../domain/unicode.js';
import type { Key } from '../domain/key.js';
import type { RequestContext } from '../domain/request-context.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import { ALIAS_PATTERN, assertVisible, keyNotFound, type KeyDirectory } from './key-directory.js';

export interface KeyDescription extends Key {
  aliases: string[];
}

/** The key as stored, bypassing the directory's cache: the starting point of every write. */
export async function freshKey(
  ctx: RequestContext,
  metadata: MetadataStore,
  directory: KeyDirectory,
  reference: string,
): Promise<Key> {
  const keyId = await directory.resolveKeyId(ctx, reference);
  const key = await metadata.getKey(keyId);
  if (!key) throw keyNotFound(reference);
  return assertVisible(ctx, key, reference);
}

export async function describeKey(metadata: MetadataStore, key: Key): Promise<KeyDescription> {
  const aliases = await metadata.aliasesOf([key.keyId]);
  return { ...key, aliases: aliases.get(key.keyId) ?? [] };
}

export function assertAliasName(name: string): void {
  if (!ALIAS_PATTERN.test(name)) {
    throw validationError(
      'alias must look like alias/<name> (letters, digits, / _ -; at most 256 characters)',
    );
  }
  if (name.startsWith('alias/aws/')) throw validationError('alias/aws/ is reserved');
}

/** A key's description, as AWS's Description: at most 8192 characters (UTF-16 code units). */
export const MAX_DESCRIPTION_LENGTH = 8192;

/** A description as every write of one takes it (CreateKey, UpdateKey, a restore). */
export function checkDescription(description: string): string {
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw validationError(`description is at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  assertWellFormed(description, 'description');
  return description;
}

export function parseFutureDate(value: string | undefined, now: Date, field: string): Date | null {
  if (value === undefined) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw validationError(`${field} must be an ISO 8601 date-time`);
  if (date <= now) throw validationError(`${field} must be in the future`);
  return date;
}

/** updatedAt doubles as the optimistic-concurrency token, so it must move forward on every write. */
export const laterThan = (now: Date, previous: Date) =>
  now.getTime() > previous.getTime() ? now : new Date(previous.getTime() + 1);
