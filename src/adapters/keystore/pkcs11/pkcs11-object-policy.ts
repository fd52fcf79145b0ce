// What an object found in a token must be before Keyhaven uses it (DESIGN.md: nothing found in an
// HSM is trusted by its label alone). Keys are searched as private token objects and checked to be
// sensitive, never-extractable and generated in the token (CKA_LOCAL); with several backends a key
// may instead be a copy (unwrapped, so neither local nor never-extractable) or an original waiting
// to be copied (extractable, but only under a trusted key). Imported keys (BYOK, pkcs11-key-import.ts)
// are unwrapped, so neither local nor never-extractable: their checks add a proof of content, the
// key check value recorded at import (pkcs11-content-checks.ts). The import wrapping keys must be
// generated in the token and able to unwrap only. The transport objects are public (the SO can
// create nothing else) and are checked for the one function each may have.
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import type { Pkcs11Api } from './pkcs11-module.js';

export type Handle = Buffer;

/**
 * `key`: a root key or generated HSM key version; `imported-key`: a version whose material was
 * imported; `import-key`: the RSA key an import's material is wrapped to; the transport objects
 * move keys between backends.
 */
export type ObjectRole = 'key' | 'imported-key' | 'import-key' | 'transport-wrap' | 'transport-unwrap';

const isTransport = (role: ObjectRole) => role === 'transport-wrap' || role === 'transport-unwrap';

/** An object under a label we own whose attributes break the rules: never used, never replaced. */
export class UntrustedObjectError extends KmsError {
  constructor(message: string) {
    super('Unavailable', message);
  }
}

const ATTRIBUTE_NAMES: Record<number, string> = {
  [pkcs11js.CKA_TOKEN]: 'CKA_TOKEN',
  [pkcs11js.CKA_PRIVATE]: 'CKA_PRIVATE',
  [pkcs11js.CKA_SENSITIVE]: 'CKA_SENSITIVE',
  [pkcs11js.CKA_ALWAYS_SENSITIVE]: 'CKA_ALWAYS_SENSITIVE',
  [pkcs11js.CKA_EXTRACTABLE]: 'CKA_EXTRACTABLE',
  [pkcs11js.CKA_NEVER_EXTRACTABLE]: 'CKA_NEVER_EXTRACTABLE',
  [pkcs11js.CKA_LOCAL]: 'CKA_LOCAL',
  [pkcs11js.CKA_WRAP_WITH_TRUSTED]: 'CKA_WRAP_WITH_TRUSTED',
  [pkcs11js.CKA_TRUSTED]: 'CKA_TRUSTED',
  [pkcs11js.CKA_WRAP]: 'CKA_WRAP',
  [pkcs11js.CKA_UNWRAP]: 'CKA_UNWRAP',
  [pkcs11js.CKA_ENCRYPT]: 'CKA_ENCRYPT',
  [pkcs11js.CKA_DECRYPT]: 'CKA_DECRYPT',
  [pkcs11js.CKA_MODIFIABLE]: 'CKA_MODIFIABLE',
};

/** The search template: label and class, and only token objects of the expected visibility. */
export function searchTemplate(label: string, objectClass: number, role: ObjectRole): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: !isTransport(role) },
  ];
}

/** Attribute -> required value; `either` lists alternatives of which one must hold. */
interface Rules {
  required: [number, boolean][];
  either?: [number, boolean][];
}

function rulesFor(role: ObjectRole, replicated: boolean): Rules {
  const object: [number, boolean][] = [
    [pkcs11js.CKA_TOKEN, true],
    [pkcs11js.CKA_SENSITIVE, true],
  ];
  if (role === 'import-key') {
    return {
      required: [
        ...object,
        [pkcs11js.CKA_PRIVATE, true],
        [pkcs11js.CKA_EXTRACTABLE, false],
        [pkcs11js.CKA_NEVER_EXTRACTABLE, true],
        [pkcs11js.CKA_LOCAL, true],
        [pkcs11js.CKA_MODIFIABLE, false],
        [pkcs11js.CKA_DECRYPT, false],
        [pkcs11js.CKA_UNWRAP, true],
      ],
    };
  }
  if (role === 'imported-key' && !replicated) {
    return { required: [...object, [pkcs11js.CKA_PRIVATE, true], [pkcs11js.CKA_EXTRACTABLE, false]] };
  }
  if (role === 'key' || role === 'imported-key') {
    if (!replicated) {
      return {
        required: [
          ...object,
          [pkcs11js.CKA_PRIVATE, true],
          [pkcs11js.CKA_EXTRACTABLE, false],
          [pkcs11js.CKA_NEVER_EXTRACTABLE, true],
          [pkcs11js.CKA_ALWAYS_SENSITIVE, true],
          [pkcs11js.CKA_LOCAL, true],
        ],
      };
    }
    return {
      required: [...object, [pkcs11js.CKA_PRIVATE, true]],
      either: [
        [pkcs11js.CKA_EXTRACTABLE, false],
        [pkcs11js.CKA_WRAP_WITH_TRUSTED, true],
      ],
    };
  }
  const transport: [number, boolean][] = [
    ...object,
    [pkcs11js.CKA_PRIVATE, false],
    [pkcs11js.CKA_EXTRACTABLE, false],
    [pkcs11js.CKA_MODIFIABLE, false],
    [pkcs11js.CKA_ENCRYPT, false],
    [pkcs11js.CKA_DECRYPT, false],
  ];
  return role === 'transport-wrap'
    ? {
        required: [
          ...transport,
          [pkcs11js.CKA_TRUSTED, true],
          [pkcs11js.CKA_WRAP, true],
          [pkcs11js.CKA_UNWRAP, false],
        ],
      }
    : { required: [...transport, [pkcs11js.CKA_WRAP, false], [pkcs11js.CKA_UNWRAP, true]] };
}

/**
 * Reads the attributes `role` constrains and throws UntrustedObjectError naming the label and the
 * first attribute that fails. One C_GetAttributeValue, on the first lookup of each handle only.
 */
export function checkObject(
  api: Pkcs11Api,
  session: Handle,
  handle: Handle,
  where: { label: string; tokenLabel: string },
  role: ObjectRole,
  replicated: boolean,
): void {
  const rules = rulesFor(role, replicated);
  const types = [...rules.required, ...(rules.either ?? [])].map(([type]) => type);
  const values = api.C_GetAttributeValue(
    session,
    handle,
    types.map((type) => ({ type })),
  );
  const actual = new Map(types.map((type, i) => [type, values[i]?.value?.[0] === 1]));
  const refuse = (why: string) =>
    new UntrustedObjectError(
      `refusing object "${where.label}" on token "${where.tokenLabel}": ${why} (docs/hsm.md "Object checks")`,
    );
  for (const [type, expected] of rules.required) {
    if (actual.get(type) !== expected)
      throw refuse(`${ATTRIBUTE_NAMES[type]} is ${!expected}, expected ${expected}`);
  }
  if (rules.either && !rules.either.some(([type, expected]) => actual.get(type) === expected)) {
    const [[first], [second]] = rules.either as [[number, boolean], [number, boolean]];
    throw refuse(`${ATTRIBUTE_NAMES[first]} is true and ${ATTRIBUTE_NAMES[second]} is false`);
  }
}
