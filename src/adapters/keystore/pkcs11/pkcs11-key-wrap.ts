// POST /v1/wrap and /v1/unwrap with HSM keys: RFC 5649 (AES key wrap with padding) by the token's
// CKM_AES_KEY_WRAP_PAD under the key version's object, which never leaves the token. The caller's
// material is in clear on both sides of these operations by definition (the API takes and returns
// it), so it passes through the token as a short-lived session object: created and wrapped, or
// unwrapped and read, then destroyed.
//
// SoftHSM 2.6.1's unwrap agrees with RFC 5649 on every Wycheproof aes_kwp vector, and its wrap does
// for material whose length is a multiple of 8 bytes; shorter or odd lengths it zero-pads first,
// so the result unwraps to the padded value (test/adapters/pkcs11/pkcs11-key-wrap.test.ts). Each
// token is therefore checked once against crypto/keywrap.ts (a known-answer test on a session key)
// and, where it pads, material of other lengths is refused rather than wrapped wrongly.
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { invalidCiphertext, validationError } from '../../../domain/errors.js';
import { aesKwpWrap } from '../../../crypto/keywrap.js';
import { isRequestFault } from './hsm-aes-gcm.js';
import { pkcs11Code } from './pkcs11-errors.js';
import type { Handle, SessionScope } from './pkcs11-token.js';

const KWP = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };
const SEMIBLOCK = 8;
/** RFC 5649 adds one semiblock (the AIV) and at most 7 octets of padding. */
const WRAP_OVERHEAD = 2 * SEMIBLOCK;

/** A session object holding caller material: readable (that is the point), never a token object. */
const materialTemplate = (): pkcs11js.Template => [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  { type: pkcs11js.CKA_TOKEN, value: false },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: false },
  { type: pkcs11js.CKA_EXTRACTABLE, value: true },
  { type: pkcs11js.CKA_ENCRYPT, value: false },
  { type: pkcs11js.CKA_DECRYPT, value: false },
  { type: pkcs11js.CKA_SIGN, value: false },
  { type: pkcs11js.CKA_VERIFY, value: false },
  { type: pkcs11js.CKA_WRAP, value: false },
  { type: pkcs11js.CKA_UNWRAP, value: false },
  { type: pkcs11js.CKA_DERIVE, value: false },
];

/** Per token (keyed by its module-level identity): whether its padded wrap is RFC 5649 for every length. */
const paddedWrapConforms = new WeakMap<object, boolean>();

/** RFC 5649 wrap of `material` under `kek` by the token; refuses lengths the token would pad wrongly. */
export async function hsmKwpWrap(
  scope: SessionScope,
  token: object,
  kek: Handle,
  material: Buffer,
): Promise<Buffer> {
  if (material.length === 0) throw validationError('key material to wrap must not be empty');
  if (material.length % SEMIBLOCK !== 0 && !(await conformsForAnyLength(scope, token))) {
    throw validationError(
      `this HSM cannot wrap ${material.length} bytes per RFC 5649 (its CKM_AES_KEY_WRAP_PAD pads the material to a multiple of 8 bytes first): with an HSM key, wrap material whose length is a multiple of 8 bytes, or use a SOFTWARE key`,
    );
  }
  return wrapWith(scope, kek, material);
}

/** RFC 5649 unwrap by the token; InvalidCiphertext for anything this key did not wrap. */
export async function hsmKwpUnwrap(scope: SessionScope, kek: Handle, wrapped: Buffer): Promise<Buffer> {
  // RFC 5649 §4.2: at least two semiblocks and a whole number of them (as crypto/keywrap.ts).
  if (wrapped.length < 2 * SEMIBLOCK || wrapped.length % SEMIBLOCK !== 0) {
    throw invalidCiphertext('wrapped key has an invalid length');
  }
  const { api, session } = scope;
  let handle: Handle;
  try {
    handle = api.C_UnwrapKey(session, KWP, kek, wrapped, materialTemplate());
  } catch (error) {
    // The integrity check failed (SoftHSM 2.6 says CKR_GENERAL_ERROR: the data's fault if the
    // token still answers), or this version may not unwrap (made before HSM keys could): either
    // way the blob is not this version's, and the service tries the next one.
    const dataFault =
      isRequestFault(scope, error) || pkcs11Code(error) === pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (dataFault) {
      throw invalidCiphertext('wrapped key is invalid or was not wrapped with this key');
    }
    throw error;
  }
  try {
    const [value] = api.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }]);
    return Buffer.from(value!.value!);
  } finally {
    api.C_DestroyObject(session, handle);
  }
}

async function wrapWith(scope: SessionScope, kek: Handle, material: Buffer): Promise<Buffer> {
  const { api, session } = scope;
  const handle = api.C_CreateObject(session, [
    ...materialTemplate(),
    { type: pkcs11js.CKA_VALUE, value: material },
  ]);
  try {
    const out = Buffer.alloc(material.length + WRAP_OVERHEAD);
    return Buffer.from(await api.C_WrapKeyAsync(session, KWP, kek, handle, out));
  } finally {
    api.C_DestroyObject(session, handle);
  }
}

/**
 * Known-answer test, once per token: a random 20-byte value wrapped by the token under a random
 * session AES key, against crypto/keywrap.ts. Both values are throwaway test data, not keys of ours.
 */
async function conformsForAnyLength(scope: SessionScope, token: object): Promise<boolean> {
  const known = paddedWrapConforms.get(token);
  if (known !== undefined) return known;
  const { api, session } = scope;
  const kekValue = randomBytes(32);
  const sample = randomBytes(20);
  const kek = api.C_CreateObject(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_VALUE, value: kekValue },
    { type: pkcs11js.CKA_WRAP, value: true },
  ]);
  try {
    const conforms = (await wrapWith(scope, kek, sample)).equals(aesKwpWrap(kekValue, sample));
    paddedWrapConforms.set(token, conforms);
    return conforms;
  } finally {
    api.C_DestroyObject(session, kek);
    kekValue.fill(0);
  }
}
