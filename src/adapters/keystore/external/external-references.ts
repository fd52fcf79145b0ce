// An EXTERNAL key version's stored material: not key material, but the keys that hold it, one per
// provider (the provider's configured name and its own reference to the key). Stored as JSON in the
// version's material column; parsed once per version record.
import { KmsError } from '../../../domain/errors.js';
import type { VersionRef } from '../../../ports/key-backend.js';

export interface ExternalReference {
  /** The provider's name in keyStore.external.providers. */
  provider: string;
  /** The provider's own reference to the key (an AWS key ARN, a Keyhaven key id, ...). */
  keyRef: string;
}

const FORMAT = 'keyhaven-external/1';

export function encodeReferences(references: readonly ExternalReference[]): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, references }), 'utf8');
}

const parsed = new WeakMap<object, readonly ExternalReference[]>();

/** The version's references (memoized on the version record, which the key directory keeps). */
export function referencesOf(ref: VersionRef): readonly ExternalReference[] {
  let references = parsed.get(ref.version);
  if (references === undefined) {
    references = decodeReferences(ref.version.material);
    parsed.set(ref.version, references);
  }
  return references;
}

function decodeReferences(material: Buffer): readonly ExternalReference[] {
  let value: unknown;
  try {
    value = JSON.parse(material.toString('utf8'));
  } catch {
    value = undefined;
  }
  const candidate = value as { format?: unknown; references?: unknown } | undefined;
  const references = candidate?.references;
  if (
    candidate?.format !== FORMAT ||
    !Array.isArray(references) ||
    references.length === 0 ||
    references.length > 255 ||
    !references.every(
      (r: Partial<ExternalReference>) => typeof r?.provider === 'string' && typeof r?.keyRef === 'string',
    )
  ) {
    // Stored by this server: a record that does not read is the database's fault, not the caller's.
    throw new KmsError('Internal', 'an EXTERNAL key version names no provider keys');
  }
  return Object.freeze(
    (references as ExternalReference[]).map(({ provider, keyRef }) => ({ provider, keyRef })),
  );
}
