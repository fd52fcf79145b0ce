// BYOK into the token, its token-level steps (issue 16 §2; docs/hsm.md "Import"; the backend's part
// is pkcs11-wrapped-import.ts): the import wrapping key is an RSA key pair generated in the token
// whose private half can only unwrap, with CKA_UNWRAP_TEMPLATE forcing every key it unwraps to be a private, sensitive token object that is not extractable (or, with
// several backends, extractable only under the trusted transport key). The caller's material,
// RSAES_OAEP_SHA_1-wrapped to it, is unwrapped by the token straight into the key version's object:
// it is never in clear in this process, and a holder of the user PIN who captured the wrapped
// material cannot unwrap it into anything readable. The key pair is used once, then destroyed;
// unused ones are destroyed once their import token has expired.
import { createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { HMAC_IMPORT_LENGTH } from '../../../crypto/key-material.js';
import { invalidCiphertext, KmsError, unsupportedOperation } from '../../../domain/errors.js';
import { keyFamily, type KeySpec } from '../../../domain/key-spec.js';
import { isRequestFault } from './hsm-aes-gcm.js';
import { withAttributeArray, type ScalarAttribute } from './pkcs11-attribute-array.js';
import { pkcs11Code } from './pkcs11-errors.js';
import { UntrustedObjectError, type Handle } from './pkcs11-object-policy.js';
import { ALLOWED_MECHANISMS, hmacMechanismOf, mechanismList, secretKeyTemplate } from './pkcs11-templates.js';
import type { SessionScope } from './pkcs11-token.js';
import { OAEP_SHA_1 } from './pkcs11-transport-key.js';

const IMPORT_KEY_PREFIX = 'keyhaven-import/';

/**
 * The wrapping algorithms the token can unwrap with inside itself. SoftHSM 2.6.1's
 * CKM_RSA_PKCS_OAEP has SHA-1 only and it lacks CKM_RSA_AES_KEY_WRAP; the two-step form of
 * RSA_AES_KEY_WRAP (OAEP into an AES key, then CKM_AES_KEY_WRAP_PAD) would leave an intermediate
 * key that a PIN holder could unwrap the material with under any template.
 */
export const HSM_IMPORT_WRAPPING_ALGORITHMS = ['RSAES_OAEP_SHA_1'] as const;

/**
 * The label carries the key and the expiry, so that a key has one outstanding pair (new parameters
 * destroy the previous pair, as a bound on what one key can keep in the token) and expired pairs
 * can be found and destroyed.
 */
export const importKeyLabel = (keyId: string, id: string, expiresAt: Date) =>
  `${IMPORT_KEY_PREFIX}${keyId}/${expiresAt.getTime()}/${id}`;

const IMPORT_KEY_LABEL = /^keyhaven-import\/([\w-]+)\/(\d+)\/[\w-]+$/;
export const isImportKeyLabel = (label: string) => IMPORT_KEY_LABEL.test(label);

const IMPORT_KEY_MECHANISMS = mechanismList([pkcs11js.CKM_RSA_PKCS_OAEP]);

async function refuseUnrestricted<T>(generate: () => Promise<T>): Promise<T> {
  try {
    return await generate();
  } catch (error) {
    if (pkcs11Code(error) !== pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID) throw error;
    throw unsupportedOperation(
      'this HSM cannot restrict a key to one mechanism (CKA_ALLOWED_MECHANISMS), which importing into it requires',
    );
  }
}

/** The import key must be restricted to OAEP (its boolean attributes are checked by the object policy). */
export function expectImportKeyRestricted(scope: SessionScope, where: { label: string }) {
  return (handle: Handle): void => {
    const [value] = scope.api.C_GetAttributeValue(scope.session, handle, [
      { type: pkcs11js.CKA_ALLOWED_MECHANISMS },
    ]);
    if (!value?.value?.equals(IMPORT_KEY_MECHANISMS)) {
      throw new UntrustedObjectError(
        `refusing object "${where.label}": an import key must be restricted to CKM_RSA_PKCS_OAEP`,
      );
    }
  };
}

/** Forced on every key the import wrapping key unwraps (PKCS#11 v2.40 §4.8). */
function forcedOnImport(replicable: boolean): ScalarAttribute[] {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    replicable
      ? { type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true }
      : { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
  ];
}

/** Generates the import wrapping key pair in the token; returns the public half as SPKI. */
export async function generateImportKey(
  scope: SessionScope,
  label: string,
  modulusBits: number,
  replicable: boolean,
): Promise<Buffer> {
  const { api, session } = scope;
  // Never without CKA_ALLOWED_MECHANISMS: an unrestricted key would also unwrap with CKM_RSA_PKCS,
  // a padding oracle on captured material (Bleichenbacher); a token without it cannot import.
  const pair = await refuseUnrestricted(() =>
    withAttributeArray(pkcs11js.CKA_UNWRAP_TEMPLATE, forcedOnImport(replicable), (unwrapTemplate) =>
      api.C_GenerateKeyPairAsync(
        session,
        { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
          { type: pkcs11js.CKA_TOKEN, value: false },
          { type: pkcs11js.CKA_MODULUS_BITS, value: modulusBits },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
          { type: pkcs11js.CKA_ENCRYPT, value: false },
          { type: pkcs11js.CKA_VERIFY, value: false },
          { type: pkcs11js.CKA_WRAP, value: false },
        ],
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_UNWRAP, value: true },
          { type: pkcs11js.CKA_DECRYPT, value: false },
          { type: pkcs11js.CKA_SIGN, value: false },
          { type: pkcs11js.CKA_DERIVE, value: false },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: IMPORT_KEY_MECHANISMS },
          // No copy may outlive the single use (PKCS#11 v2.40 §4.4).
          { type: pkcs11js.CKA_COPYABLE, value: false },
          unwrapTemplate,
          // Last: SoftHSM 2.6 refuses every attribute that follows CKA_MODIFIABLE false.
          { type: pkcs11js.CKA_MODIFIABLE, value: false },
        ],
      ),
    ),
  );
  try {
    const [modulus, exponent] = api.C_GetAttributeValue(session, pair.publicKey, [
      { type: pkcs11js.CKA_MODULUS },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT },
    ]);
    return createPublicKey({
      key: {
        kty: 'RSA',
        n: modulus!.value!.toString('base64url'),
        e: exponent!.value!.toString('base64url'),
      },
      format: 'jwk',
    }).export({ format: 'der', type: 'spki' });
  } finally {
    api.C_DestroyObject(session, pair.publicKey);
  }
}

/**
 * The template of an imported secret key: what a generated one of the spec gets (usage flags,
 * allowed mechanisms), without CKA_VALUE_LEN (the material sets it), with every attribute the
 * import key forces, and CKA_MODIFIABLE last.
 */
export function importedKeyTemplate(
  label: string,
  spec: KeySpec,
  replicable: boolean,
  restrict: boolean,
): pkcs11js.Template {
  const family = keyFamily(spec);
  const template = secretKeyTemplate({
    label,
    keyType: family === 'AES' ? pkcs11js.CKK_AES : pkcs11js.CKK_GENERIC_SECRET,
    length: 0,
    usage: family === 'AES' ? 'encrypt' : 'mac',
    replicable,
    wrapping: family === 'AES' && !replicable,
    mechanisms: !restrict
      ? undefined
      : family === 'AES'
        ? ALLOWED_MECHANISMS[replicable ? 'aes' : 'aesWrapping']
        : [hmacMechanismOf(spec)!],
  }).filter(({ type }) => type !== pkcs11js.CKA_VALUE_LEN && type !== pkcs11js.CKA_MODIFIABLE);
  return [...template, { type: pkcs11js.CKA_MODIFIABLE, value: replicable }];
}

/** Unwraps `encrypted` with the import key into a new object; InvalidCiphertext when it was not wrapped to it. */
export function unwrapImported(
  scope: SessionScope,
  importKey: Handle,
  encrypted: Buffer,
  template: pkcs11js.Template,
): Handle {
  try {
    return scope.api.C_UnwrapKey(scope.session, OAEP_SHA_1, importKey, encrypted, template);
  } catch (error) {
    // OAEP decoding failed: one answer for every such failure, as RFC 8017 §7.1.2 advises.
    if (isRequestFault(scope, error)) {
      throw invalidCiphertext('encryptedKeyMaterial could not be unwrapped with the import wrapping key');
    }
    throw error;
  }
}

/**
 * Whether the token's CKA_VALUE_LEN of an imported key fits the spec (AES-256, the HMAC spec's
 * import range). A token that does not record it for unwrapped keys (SoftHSM 2.6.1 reports 0)
 * answers undefined: the length is then only as certain as the key check value's computation makes
 * it (an AES key of other than 16, 24 or 32 bytes fails there).
 */
export function importedLengthFits(scope: SessionScope, handle: Handle, spec: KeySpec): boolean | undefined {
  const [value] = scope.api.C_GetAttributeValue(scope.session, handle, [{ type: pkcs11js.CKA_VALUE_LEN }]);
  const bytes = value?.value && value.value.length > 0 ? Number(value.value.readBigUInt64LE(0)) : 0;
  if (bytes === 0) return undefined;
  if (keyFamily(spec) === 'AES') return bytes === 32;
  const range = HMAC_IMPORT_LENGTH[spec];
  return range !== undefined && bytes >= range.min && bytes <= range.max;
}

/**
 * Destroys import key pairs whose import token has expired, and `keyId`'s earlier pairs (found by
 * their label); returns their labels.
 */
export function sweepImportKeys({ api, session }: SessionScope, now: Date, keyId?: string): string[] {
  api.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
  ]);
  const found: Handle[] = [];
  try {
    for (
      let page = api.C_FindObjects(session, 256);
      page.length > 0;
      page = api.C_FindObjects(session, 256)
    ) {
      found.push(...page);
    }
  } finally {
    api.C_FindObjectsFinal(session);
  }
  const destroyed: string[] = [];
  for (const handle of found) {
    const [value] = api.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_LABEL }]);
    const label = value?.value?.toString('utf8') ?? '';
    const match = IMPORT_KEY_LABEL.exec(label);
    if (!match) continue;
    const expired = Number(match[2]) <= now.getTime();
    if (!expired && match[1] !== keyId) continue;
    api.C_DestroyObject(session, handle);
    destroyed.push(label);
  }
  return destroyed;
}

/** The import's wrapping key was used or is no longer wanted. */
export function destroyImportKey(scope: SessionScope, handle: Handle): void {
  try {
    scope.api.C_DestroyObject(scope.session, handle);
  } catch (error) {
    throw new KmsError('Unavailable', 'could not destroy the import wrapping key', { cause: error });
  }
}
