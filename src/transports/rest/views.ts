// Domain values -> wire shapes (API.md). Binary as base64, dates as ISO strings.
import { validationError } from '../../domain/errors.js';
import type { KeyVersion } from '../../domain/key.js';
import type { KeyDescription } from '../../services/key-service.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function keyView(key: KeyDescription) {
  return {
    keyId: key.keyId,
    arn: `kh:${key.tenant ?? ''}:key/${key.keyId}`,
    ...(key.aliases[0] ? { alias: key.aliases[0] } : {}),
    aliases: key.aliases,
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    state: key.state,
    protectionLevel: key.protectionLevel,
    origin: key.origin,
    currentVersion: key.currentVersion,
    createdAt: key.createdAt.toISOString(),
    description: key.description,
    tags: key.tags,
    rotationPeriodDays: key.rotationPeriodDays,
    nextRotationAt: iso(key.nextRotationAt),
    expiresAt: iso(key.expiresAt),
    deletionDate: iso(key.deletionDate),
    exportable: key.exportable,
    publicKeyOnly: key.publicKeyOnly,
    tenant: key.tenant,
  };
}

export function versionView(version: KeyVersion) {
  return { version: version.version, state: version.state, createdAt: version.createdAt.toISOString() };
}

export const b64 = (value: Buffer) => value.toString('base64');

/** 1 for the 64 characters of the standard base64 alphabet (RFC 4648 §4), 0 for every other code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  BASE64_ALPHABET[c.charCodeAt(0)] = 1;
}

/**
 * Standard base64 with padding (API.md conventions): whole quads of alphabet characters, the last
 * one possibly ending in "=" or "==". A table lookup per character: the equivalent regular
 * expression cost four times as much on every request's plaintext or ciphertext.
 */
export function isPaddedBase64(value: string): boolean {
  const length = value.length;
  if (length % 4 !== 0) return false;
  let end = length;
  if (length > 0 && value.charCodeAt(length - 1) === 0x3d)
    end = value.charCodeAt(length - 2) === 0x3d ? length - 2 : length - 1;
  for (let i = 0; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code > 127 || BASE64_ALPHABET[code] === 0) return false;
  }
  return true;
}

/** Decodes standard base64 with padding; anything else is a 400 naming the field. */
export function fromB64(value: string, field: string): Buffer {
  if (!isPaddedBase64(value)) throw validationError(`${field} must be standard base64 with padding`);
  return Buffer.from(value, 'base64');
}
