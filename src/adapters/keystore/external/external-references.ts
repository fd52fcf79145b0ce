// An EXTERNAL key version's stored record: not key material, but the keys that hold it, one per
// provider (the provider's configured name and its own reference to the key), and the version's
// secret wrapped by Keyhaven's root key, with a MAC under that secret over the references so that
// a database writer cannot point new messages at a key of theirs. Stored as JSON in the version's
// material column; parsed once per version record.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KmsError } from '../../../domain/errors.js';
import type { VersionRef } from '../../../ports/key-backend.js';

export interface ExternalReference {
  /** The provider's name in keyStore.external.providers. */
  provider: string;
  /** The provider's own reference to the key (an AWS key ARN, a Keyhaven key id, ...). */
  keyRef: string;
}

export interface ExternalVersionRecord {
  references: readonly ExternalReference[];
  /** The version's 32-byte secret, wrapped by the root key (bound to key id and version). */
  wrappedSecret: Buffer;
  /** HMAC-SHA-256 under the secret of the references, key id and version (referencesMac). */
  mac: Buffer;
}

const FORMAT = 'keyhaven-external/1';

export function encodeRecord(record: ExternalVersionRecord): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: FORMAT,
      references: record.references,
      wrappedSecret: record.wrappedSecret.toString('base64'),
      mac: record.mac.toString('base64'),
    }),
    'utf8',
  );
}

/** What the MAC covers: the references in order, bound to the key id and version. */
export function referencesMac(
  secret: Buffer,
  keyId: string,
  version: number,
  references: readonly ExternalReference[],
): Buffer {
  return createHmac('sha256', secret)
    .update(`keyhaven-external-references/1\0${keyId}\0${version}\0`)
    .update(JSON.stringify(references.map(({ provider, keyRef }) => [provider, keyRef])))
    .digest();
}

/** Constant-time comparison of a record's MAC with the one computed from its secret. */
export function macMatches(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

const parsed = new WeakMap<object, ExternalVersionRecord>();

/** The version's record (memoized on the version record, which the key directory keeps). */
export function recordOf(ref: VersionRef): ExternalVersionRecord {
  let record = parsed.get(ref.version);
  if (record === undefined) {
    record = decodeRecord(ref.version.material);
    parsed.set(ref.version, record);
  }
  return record;
}

function decodeRecord(material: Buffer): ExternalVersionRecord {
  let value: unknown;
  try {
    value = JSON.parse(material.toString('utf8'));
  } catch {
    value = undefined;
  }
  const candidate = value as
    { format?: unknown; references?: unknown; wrappedSecret?: unknown; mac?: unknown } | undefined;
  const references = candidate?.references;
  if (
    candidate?.format !== FORMAT ||
    !Array.isArray(references) ||
    references.length === 0 ||
    references.length > 255 ||
    !references.every(
      (r: Partial<ExternalReference>) => typeof r?.provider === 'string' && typeof r?.keyRef === 'string',
    ) ||
    typeof candidate.wrappedSecret !== 'string' ||
    typeof candidate.mac !== 'string'
  ) {
    // Stored by this server: a record that does not read is the database's fault, not the caller's.
    throw new KmsError('Internal', 'an EXTERNAL key version names no provider keys');
  }
  return Object.freeze({
    references: Object.freeze(
      (references as ExternalReference[]).map(({ provider, keyRef }) => ({ provider, keyRef })),
    ),
    wrappedSecret: Buffer.from(candidate.wrappedSecret, 'base64'),
    mac: Buffer.from(candidate.mac, 'base64'),
  });
}
