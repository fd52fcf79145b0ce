// Classification of PKCS#11 return values (CKR_*), in one place: what a failure says about the
// session, the login, the token, an object, or the request itself decides recovery and the KmsError.
// Classified by numeric code only, never by message text (STYLE.md).
import pkcs11js from 'pkcs11js';

export type Pkcs11Failure =
  /** The session is gone: discard it and retry on another one. */
  | 'session'
  /** The token forgot our login (e.g. after it was reset): log in again and retry. */
  | 'login'
  /** The PIN is wrong, locked or expired: retrying would only lock the token. */
  | 'pin'
  /** The token or library is unusable: recover the connection, fail over, open the circuit. */
  | 'token'
  /** A cached object handle is stale: look the object up again. */
  | 'object'
  /** The input was refused (bad ciphertext, bad signature, wrong length): the request's fault. */
  | 'input'
  /** The token lacks the mechanism or refuses the attribute combination. */
  | 'unsupported'
  /** Anything else. */
  | 'other';

const BY_CODE = new Map<number, Pkcs11Failure>();
const classify = (failure: Pkcs11Failure, codes: number[]) => codes.forEach((c) => BY_CODE.set(c, failure));

classify('session', [
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_COUNT,
]);
classify('login', [pkcs11js.CKR_USER_NOT_LOGGED_IN]);
classify('pin', [
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_LOCKED,
  pkcs11js.CKR_PIN_EXPIRED,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_USER_PIN_NOT_INITIALIZED,
]);
classify('token', [
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_MEMORY,
  pkcs11js.CKR_SLOT_ID_INVALID,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_HOST_MEMORY,
  pkcs11js.CKR_FUNCTION_FAILED,
]);
classify('object', [pkcs11js.CKR_OBJECT_HANDLE_INVALID, pkcs11js.CKR_KEY_HANDLE_INVALID]);
classify('input', [
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11js.CKR_DATA_INVALID,
  pkcs11js.CKR_DATA_LEN_RANGE,
  pkcs11js.CKR_SIGNATURE_INVALID,
  pkcs11js.CKR_SIGNATURE_LEN_RANGE,
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
  pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE,
]);
classify('unsupported', [
  // SoftHSM 2.6 answers ARGUMENTS_BAD to mechanism parameters it does not implement (OAEP with SHA-256).
  pkcs11js.CKR_ARGUMENTS_BAD,
  pkcs11js.CKR_MECHANISM_INVALID,
  pkcs11js.CKR_MECHANISM_PARAM_INVALID,
  pkcs11js.CKR_FUNCTION_NOT_SUPPORTED,
  pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID,
  pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID,
  pkcs11js.CKR_TEMPLATE_INCONSISTENT,
  pkcs11js.CKR_TEMPLATE_INCOMPLETE,
  pkcs11js.CKR_KEY_SIZE_RANGE,
  pkcs11js.CKR_DOMAIN_PARAMS_INVALID,
  pkcs11js.CKR_KEY_TYPE_INCONSISTENT,
  pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED,
]);

/** The CKR_* code of a pkcs11js error, or undefined for anything else. */
export function pkcs11Code(error: unknown): number | undefined {
  return error instanceof pkcs11js.Pkcs11Error ? error.code : undefined;
}

export function classifyPkcs11Error(error: unknown): Pkcs11Failure {
  const code = pkcs11Code(error);
  if (code === undefined) return 'other';
  return BY_CODE.get(code) ?? 'other';
}

const NAMES = new Map<number, string>(
  Object.entries(pkcs11js)
    .filter(([name, value]) => name.startsWith('CKR_') && typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

/** "CKR_PIN_INCORRECT" for diagnostics; never secret. */
export function pkcs11ErrorName(error: unknown): string {
  const code = pkcs11Code(error);
  if (code === undefined) return error instanceof Error ? error.name : 'unknown error';
  return NAMES.get(code) ?? `CKR 0x${code.toString(16)}`;
}
