// Reading an AWS JSON 1.1 request body's members: each check fails with a ValidationError that the
// error table answers as ValidationException, worded as AWS words it ("1 validation error
// detected: ..."). Blobs travel as standard base64.
import { decodePaddedBase64 } from '../../domain/base64.js';
import { validationError } from '../../domain/errors.js';
import type { EncryptionContext } from '../../domain/encryption-context.js';

export type Members = Record<string, unknown>;

const invalid = (name: string, constraint: string) =>
  validationError(
    `1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: ${constraint}`,
  );

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

export function requiredString(input: Members, name: string, maxLength = 2048): string {
  const value = input[name];
  if (value === undefined || value === null) throw invalid(name, 'Member must not be null');
  return checkString(value, name, maxLength);
}

export function optionalString(input: Members, name: string, maxLength = 2048): string | undefined {
  const value = input[name];
  return value === undefined || value === null ? undefined : checkString(value, name, maxLength);
}

function checkString(value: unknown, name: string, maxLength: number): string {
  if (typeof value !== 'string') throw invalid(name, 'Member must be a string');
  if (value.length < 1 || value.length > maxLength) {
    throw invalid(name, `Member must have length between 1 and ${maxLength}`);
  }
  return value;
}

export function requiredBlob(input: Members, name: string, maxBytes: number): Buffer {
  const value = input[name];
  if (value === undefined || value === null) throw invalid(name, 'Member must not be null');
  const bytes = typeof value === 'string' ? decodePaddedBase64(value) : undefined;
  if (bytes === undefined) throw invalid(name, 'Member must be base64');
  if (bytes.length < 1 || bytes.length > maxBytes) {
    throw invalid(name, `Member must have length between 1 and ${maxBytes}`);
  }
  return bytes;
}

/** A list of strings, each 1 to `maxLength` characters, at most `maxItems` of them. */
export function optionalStringList(
  input: Members,
  name: string,
  maxItems: number,
  maxLength: number,
): string[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(name, 'Member must be a list');
  if (value.length > maxItems) {
    throw invalid(name, `Member must have length less than or equal to ${maxItems}`);
  }
  return (value as unknown[]).map((item) => checkString(item, name, maxLength));
}

export function optionalInteger(input: Members, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(name, `Member must be an integer from ${min} to ${max}`);
  }
  return value as number;
}

export function optionalEnum<T extends string>(
  input: Members,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !values.includes(value as T)) {
    throw invalid(name, `Member must satisfy enum value set: [${values.join(', ')}]`);
  }
  return value as T;
}

export function requiredEnum<T extends string>(input: Members, name: string, values: readonly T[]): T {
  if (input[name] === undefined || input[name] === null) throw invalid(name, 'Member must not be null');
  return optionalEnum(input, name, values)!;
}

/** A timestamp member: AWS JSON sends seconds since the epoch (a fraction carries milliseconds). */
export function optionalTimestamp(input: Members, name: string): Date | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, 'Member must be a timestamp');
  const date = new Date(value * 1000);
  if (Number.isNaN(date.getTime())) throw invalid(name, 'Member must be a timestamp');
  return date;
}

/** A string member that must match `pattern` (AWS's constraint, quoted as AWS quotes it). */
export function optionalPatterned(
  input: Members,
  name: string,
  pattern: RegExp,
  maxLength: number,
): string | undefined {
  const value = optionalString(input, name, maxLength);
  if (value !== undefined && !pattern.test(value)) {
    throw invalid(name, `Member must satisfy regular expression pattern: ${pattern.source}`);
  }
  return value;
}

export function optionalBoolean(input: Members, name: string): boolean | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(name, 'Member must be a boolean');
  return value;
}

export function optionalContext(input: Members, name = 'EncryptionContext'): EncryptionContext | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(name, 'Member must be a map');
  for (const item of Object.values(value as Members)) {
    if (typeof item !== 'string') throw invalid(name, 'Member must be a map of strings');
  }
  return value as EncryptionContext;
}

/** `[{TagKey, TagValue}]` as a map; a key given twice is refused. */
export function optionalTags(input: Members, name = 'Tags'): Record<string, string> | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(name, 'Member must be a list');
  // A Map, then own properties: a tag named __proto__ is a tag, not a prototype.
  const tags = new Map<string, string>();
  for (const tag of value as unknown[]) {
    if (typeof tag !== 'object' || tag === null) throw invalid(name, 'Member must be a list of tags');
    const key = requiredString(tag as Members, 'TagKey', 128);
    const tagValue = (tag as Members).TagValue;
    if (typeof tagValue !== 'string') throw invalid('TagValue', 'Member must be a string');
    if (tags.has(key)) throw validationError(`Duplicate tag keys: ${key}`);
    tags.set(key, tagValue);
  }
  return Object.fromEntries(tags);
}

/** A blob member of a response: standard base64. */
export const blob = (bytes: Buffer): string => bytes.toString('base64');

/** AWS timestamps in JSON: seconds since the epoch, with milliseconds as a fraction. */
export const epochSeconds = (date: Date): number => date.getTime() / 1000;

/** A string member that may be empty (UpdateKeyDescription's Description: 0 to 8192 characters). */
export function requiredText(input: Members, name: string, maxLength: number): string {
  const value = input[name];
  if (value === undefined || value === null) throw invalid(name, 'Member must not be null');
  if (typeof value !== 'string') throw invalid(name, 'Member must be a string');
  if (value.length > maxLength)
    throw invalid(name, `Member must have length less than or equal to ${maxLength}`);
  return value;
}

/** `[{TagKey, TagValue}]` that must be given (TagResource). */
export function requiredTags(input: Members, name = 'Tags'): Record<string, string> {
  const tags = optionalTags(input, name);
  if (tags === undefined) throw invalid(name, 'Member must not be null');
  return tags;
}

/** A list of strings that must be given (UntagResource's TagKeys), each 1 to `maxLength` long. */
export function requiredStringList(input: Members, name: string, maxLength: number): string[] {
  const list = optionalStringList(input, name, Number.POSITIVE_INFINITY, maxLength);
  if (list === undefined) throw invalid(name, 'Member must not be null');
  return list;
}
