// What metadata stores for an HSM key version (its material blob): the token object's label, and for
// secret keys its key check value (pkcs11-content-checks.ts) after a zero byte and a byte saying how
// the material came (generated in the token, or imported). Versions made before check values were
// recorded store the label alone.
export interface VersionReference {
  label: string;
  /** The object must hold exactly this material (checked on first use in each token). */
  checkValue?: Buffer;
  /** Unwrapped from the caller's material: neither local nor never-extractable. */
  imported?: boolean;
}

const GENERATED = 0x01;
const IMPORTED = 0x02;

export const hsmObjectLabel = (keyId: string, version: number) => `keyhaven/${keyId}/v${version}`;

/**
 * Each import's object has a label of its own, so that what is left of an earlier import (a
 * destruction still queued, an object whose save failed, a concurrent import elsewhere) never
 * meets, or is mistaken for, the object of a later one.
 */
export const importedObjectLabel = (keyId: string, version: number, importId: string) =>
  `${hsmObjectLabel(keyId, version)}/${importId}`;

export function encodeVersionReference({ label, checkValue, imported }: VersionReference): Buffer {
  const name = Buffer.from(label, 'utf8');
  if (!checkValue) return name;
  return Buffer.concat([name, Buffer.of(0, imported ? IMPORTED : GENERATED), checkValue]);
}

export function decodeVersionReference(material: Buffer): VersionReference {
  const end = material.indexOf(0);
  if (end < 0) return { label: material.toString('utf8') };
  return {
    label: material.subarray(0, end).toString('utf8'),
    imported: material[end + 1] === IMPORTED,
    checkValue: material.subarray(end + 2),
  };
}
