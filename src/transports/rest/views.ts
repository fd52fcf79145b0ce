// Domain values -> wire shapes (API.md). Binary as base64, dates as ISO strings.
import { decodePaddedBase64 } from '../../domain/base64.js';
import { validationError } from '../../domain/errors.js';
import type { KeyVersion } from '../../domain/key.js';
import type { KeyDescription } from '../../services/key-service.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function keyView(key: KeyDescription) {
  return {
    keyId: key.keyId,
    arn: `kh:${key.tenant}:key/${key.keyId}`,
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

/** Decodes standard base64 with padding; anything else is a 400 naming the field. */
export function fromB64(value: string, field: string): Buffer {
  const decoded = decodePaddedBase64(value);
  if (!decoded) throw validationError(`${field} must be standard base64 with padding`);
  return decoded;
}
