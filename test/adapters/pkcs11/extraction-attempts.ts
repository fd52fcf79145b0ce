// An attacker holding only the user PIN, as its own process with pkcs11js and nothing of Keyhaven:
// tries every way we know to get a readable copy of a key object out of a token (issue 16). Each
// attempt reports the PKCS#11 result; the test asserts each one was refused.
import { runAsPinHolder } from './pin-holder-script.js';

export interface AttemptResults {
  [attempt: string]: string;
}

const SCRIPT = String.raw`
const [keyLabel, wrapLabel, unwrapLabel] = args;
const find = (label) => {
  lib.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: label }]);
  const [handle] = lib.C_FindObjects(session, 1);
  lib.C_FindObjectsFinal(session);
  return handle;
};
const results = {};
const attempt = (name, run) => {
  try {
    results[name] = 'ALLOWED: ' + String(run());
  } catch (error) {
    results[name] = error.message;
  }
};
const key = find(keyLabel);
const wrap = find(wrapLabel);
const unwrap = find(unwrapLabel);
results.found = [key, wrap, unwrap].map((h) => (h ? 'yes' : 'no')).join(',');
const [{ value: keyType }] = lib.C_GetAttributeValue(session, key, [{ type: P.CKA_KEY_TYPE }]);
const [{ value: objectClass }] = lib.C_GetAttributeValue(session, key, [{ type: P.CKA_CLASS }]);
const mechanism = { mechanism: keyType.readUInt32LE(0) === P.CKK_AES ? P.CKM_AES_KEY_WRAP : P.CKM_AES_KEY_WRAP_PAD };
const readable = [
  { type: P.CKA_CLASS, value: objectClass.readUInt32LE(0) },
  { type: P.CKA_KEY_TYPE, value: keyType.readUInt32LE(0) },
  { type: P.CKA_SENSITIVE, value: false },
  { type: P.CKA_EXTRACTABLE, value: true },
];
attempt('read CKA_VALUE', () => lib.C_GetAttributeValue(session, key, [{ type: P.CKA_VALUE }])[0].value.length);
let blob;
attempt('wrap under the wrap-only transport object', () => (blob = lib.C_WrapKey(session, mechanism, wrap, key, Buffer.alloc(8192))).length);
attempt('wrap under the unwrap-only transport object', () => lib.C_WrapKey(session, mechanism, unwrap, key, Buffer.alloc(8192)).length);
const ownKey = lib.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, [
  { type: P.CKA_VALUE_LEN, value: 32 }, { type: P.CKA_TOKEN, value: false }, { type: P.CKA_WRAP, value: true },
  { type: P.CKA_UNWRAP, value: true }, { type: P.CKA_EXTRACTABLE, value: true }, { type: P.CKA_SENSITIVE, value: false },
]);
attempt('wrap under a key of the attacker', () => lib.C_WrapKey(session, mechanism, ownKey, key, Buffer.alloc(8192)).length);
if (blob) {
  attempt('unwrap as sensitive=false, extractable=true', () => {
    const copy = lib.C_UnwrapKey(session, mechanism, unwrap, blob, readable);
    return lib.C_GetAttributeValue(session, copy, [{ type: P.CKA_VALUE }])[0].value.toString('hex');
  });
  attempt('unwrap as a public session object', () =>
    lib.C_UnwrapKey(session, mechanism, unwrap, blob, [...readable.slice(0, 2), { type: P.CKA_TOKEN, value: false }, { type: P.CKA_PRIVATE, value: false }]));
  attempt('unwrap with the wrap-only transport object', () => lib.C_UnwrapKey(session, mechanism, wrap, blob, readable));
  attempt('decrypt the blob with the unwrap-only transport object', () => {
    lib.C_DecryptInit(session, { mechanism: P.CKM_AES_ECB }, unwrap);
    return lib.C_Decrypt(session, blob, Buffer.alloc(blob.length)).toString('hex');
  });
}
attempt('clear the unwrap template', () => lib.C_SetAttributeValue(session, unwrap, [{ type: P.CKA_UNWRAP_TEMPLATE, value: Buffer.alloc(0) }]));
attempt('copy the key without CKA_WRAP_WITH_TRUSTED', () => lib.C_CopyObject(session, key, [{ type: P.CKA_WRAP_WITH_TRUSTED, value: false }]));
process.stdout.write(JSON.stringify(results));
`;

/** Runs the attempts in a child process against `keyLabel` on the token; returns each outcome. */
export function attemptExtraction(options: {
  env: Record<string, string>;
  modulePath: string;
  tokenLabel: string;
  pin: string;
  keyLabel: string;
  transportKeyLabel: string;
}): AttemptResults {
  const output = runAsPinHolder(options, SCRIPT, [
    options.keyLabel,
    `${options.transportKeyLabel}-wrap`,
    `${options.transportKeyLabel}-unwrap`,
  ]);
  return JSON.parse(output) as AttemptResults;
}

const DECRYPT_SCRIPT = String.raw`
const [keyLabel, ciphertextHex, operation] = args;
lib.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: keyLabel }, { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }]);
const [key] = lib.C_FindObjects(session, 1);
lib.C_FindObjectsFinal(session);
const ciphertext = Buffer.from(ciphertextHex, 'hex');
try {
  if (operation === 'sign') {
    lib.C_SignInit(session, { mechanism: P.CKM_SHA256_RSA_PKCS }, key);
    process.stdout.write('ALLOWED: ' + lib.C_Sign(session, ciphertext, Buffer.alloc(1024)).length);
    process.exit(0);
  }
  lib.C_DecryptInit(session, { mechanism: P.CKM_RSA_PKCS_OAEP, parameter: { type: P.CK_PARAMS_RSA_OAEP, hashAlg: P.CKM_SHA_1, mgf: P.CKG_MGF1_SHA1, source: 1 } }, key);
  process.stdout.write('ALLOWED: ' + lib.C_Decrypt(session, ciphertext, Buffer.alloc(ciphertext.length)).toString());
} catch (error) {
  process.stdout.write(error.message);
}
`;

/**
 * Single-part C_Decrypt (RSA-OAEP SHA-1) of `input`, or C_Sign (SHA256-RSA-PKCS) of it, with the
 * private key `keyLabel`; returns the result or the error.
 */
export function attemptRsaOperation(options: {
  operation: 'decrypt' | 'sign';
  env: Record<string, string>;
  modulePath: string;
  tokenLabel: string;
  pin: string;
  keyLabel: string;
  input: Buffer;
}): string {
  return runAsPinHolder(options, DECRYPT_SCRIPT, [
    options.keyLabel,
    options.input.toString('hex'),
    options.operation,
  ]);
}

const IMPORT_SCRIPT = String.raw`
const [importLabel, blobHex] = args;
lib.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: importLabel }, { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }]);
const [key] = lib.C_FindObjects(session, 1);
lib.C_FindObjectsFinal(session);
const blob = Buffer.from(blobHex, 'hex');
const oaep = { mechanism: P.CKM_RSA_PKCS_OAEP, parameter: { type: P.CK_PARAMS_RSA_OAEP, hashAlg: P.CKM_SHA_1, mgf: P.CKG_MGF1_SHA1, source: 1 } };
const results = { found: key ? 'yes' : 'no' };
const attempt = (name, run) => {
  try {
    results[name] = 'ALLOWED: ' + String(run());
  } catch (error) {
    results[name] = error.message;
  }
};
const value = (handle) => lib.C_GetAttributeValue(session, handle, [{ type: P.CKA_VALUE }])[0].value.toString('hex');
const secret = (keyType, extra) => [{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }, { type: P.CKA_KEY_TYPE, value: keyType }, ...extra];
attempt('decrypt the wrapped material', () => {
  lib.C_DecryptInit(session, oaep, key);
  return lib.C_Decrypt(session, blob, Buffer.alloc(blob.length)).toString('hex');
});
attempt('unwrap as sensitive=false, extractable=true', () =>
  value(lib.C_UnwrapKey(session, oaep, key, blob, secret(P.CKK_GENERIC_SECRET, [
    { type: P.CKA_TOKEN, value: false }, { type: P.CKA_SENSITIVE, value: false }, { type: P.CKA_EXTRACTABLE, value: true }]))));
attempt('unwrap as a public session object', () =>
  lib.C_UnwrapKey(session, oaep, key, blob, secret(P.CKK_AES, [{ type: P.CKA_TOKEN, value: false }, { type: P.CKA_PRIVATE, value: false }])));
attempt('unwrap with the template forced, then wrap under a key of the attacker', () => {
  const copy = lib.C_UnwrapKey(session, oaep, key, blob, secret(P.CKK_AES, [
    { type: P.CKA_TOKEN, value: true }, { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false }, { type: P.CKA_DERIVE, value: false }, { type: P.CKA_LABEL, value: 'attacker-copy' }]));
  const own = lib.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, [
    { type: P.CKA_VALUE_LEN, value: 32 }, { type: P.CKA_TOKEN, value: false }, { type: P.CKA_WRAP, value: true }]);
  try {
    return lib.C_WrapKey(session, { mechanism: P.CKM_AES_KEY_WRAP_PAD }, own, copy, Buffer.alloc(1024)).length;
  } finally {
    lib.C_DestroyObject(session, copy);
  }
});
attempt('clear the unwrap template', () => lib.C_SetAttributeValue(session, key, [{ type: P.CKA_UNWRAP_TEMPLATE, value: Buffer.alloc(0) }]));
attempt('allow decryption', () => lib.C_SetAttributeValue(session, key, [{ type: P.CKA_DECRYPT, value: true }]));
attempt('copy the key with decryption allowed', () => lib.C_CopyObject(session, key, [{ type: P.CKA_DECRYPT, value: true }]));
attempt('copy the key as it is (to outlive its single use)', () => lib.C_CopyObject(session, key, [{ type: P.CKA_TOKEN, value: false }]));
process.stdout.write(JSON.stringify(results));
`;

/**
 * With the user PIN and wrapped material captured on its way to an HSM import, tries to read the
 * material through the import's wrapping key (`importLabel`) while it exists; returns each outcome.
 */
export function attemptImportExtraction(options: {
  env: Record<string, string>;
  modulePath: string;
  tokenLabel: string;
  pin: string;
  importLabel: string;
  wrapped: Buffer;
}): AttemptResults {
  const output = runAsPinHolder(options, IMPORT_SCRIPT, [
    options.importLabel,
    options.wrapped.toString('hex'),
  ]);
  return JSON.parse(output) as AttemptResults;
}
