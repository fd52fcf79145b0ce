// The transport key that carries key objects between backends (docs/hsm.md "Several HSMs"): on
// every token, one AES-256 value as two public objects made by the security officer, one that can
// only wrap (CKA_TRUSTED, so it may wrap CKA_WRAP_WITH_TRUSTED keys) and one that can only unwrap,
// whose CKA_UNWRAP_TEMPLATE forces whatever it unwraps to be a private, sensitive, non-extractable,
// unmodifiable token object: with the user PIN alone no wrap/unwrap sequence gives a readable copy.
// The value is generated inside the first token and reaches each token wrapped (RSA-OAEP) under an
// RSA key pair that token generated for the purpose: it never exists in clear in this process.
import pkcs11js from 'pkcs11js';
import { withAttributeArray } from './pkcs11-attribute-array.js';
import { mechanismList } from './pkcs11-templates.js';
import type { Handle } from './pkcs11-object-policy.js';
import type { Pkcs11Token, SessionScope } from './pkcs11-token.js';

export interface TransportLabels {
  wrap: string;
  unwrap: string;
}

export const transportLabels = (label: string): TransportLabels => ({
  wrap: `${label}-wrap`,
  unwrap: `${label}-unwrap`,
});

/** Key wrap mechanisms the transport objects may be used with (CKA_ALLOWED_MECHANISMS). */
export const TRANSPORT_MECHANISMS = [pkcs11js.CKM_AES_KEY_WRAP, pkcs11js.CKM_AES_KEY_WRAP_PAD];

/** Forced on every object the unwrap-only transport object makes (PKCS#11 v2.40 §4.8). */
const FORCED_ON_UNWRAP = [
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false },
  { type: pkcs11js.CKA_UNWRAP, value: false },
  { type: pkcs11js.CKA_DERIVE, value: false },
  { type: pkcs11js.CKA_MODIFIABLE, value: false },
];

/** CKM_RSA_PKCS_OAEP with SHA-1, the one OAEP hash SoftHSM 2.6 implements (BYOK uses it too). */
export const OAEP_SHA_1: pkcs11js.Mechanism = {
  mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
  parameter: {
    type: pkcs11js.CK_PARAMS_RSA_OAEP,
    hashAlg: pkcs11js.CKM_SHA_1,
    mgf: pkcs11js.CKG_MGF1_SHA1,
    source: 1, // CKZ_DATA_SPECIFIED
  } as pkcs11js.RsaOAEP,
};
const RECEIVER_BITS = 3072;

/** Whether this token holds both transport objects (each checked for its function on lookup). */
export function hasTransportKey(scope: SessionScope, labels: TransportLabels): boolean {
  const wrap = scope.find(labels.wrap, pkcs11js.CKO_SECRET_KEY, 'transport-wrap');
  const unwrap = scope.find(labels.unwrap, pkcs11js.CKO_SECRET_KEY, 'transport-unwrap');
  return wrap !== undefined && unwrap !== undefined;
}

interface Receiver {
  privateKey: Handle;
  modulus: Buffer;
  exponent: Buffer;
}

/**
 * Puts a fresh transport key into every token, replacing older ones (also the single object of
 * Keyhaven before issue 16, labelled `label` itself). Logs each token's SO in: call it only while
 * nothing else uses the tokens.
 */
export async function distributeTransportKey(tokens: Pkcs11Token[], label: string): Promise<void> {
  const labels = transportLabels(label);
  for (const token of tokens) {
    await token.runAsSecurityOfficer((scope) => destroyLabelled(scope, [label, labels.wrap, labels.unwrap]));
    token.forgetHandle(labels.wrap, pkcs11js.CKO_SECRET_KEY);
    token.forgetHandle(labels.unwrap, pkcs11js.CKO_SECRET_KEY);
  }
  const receivers: Receiver[] = [];
  try {
    for (const token of tokens) receivers.push(await token.runAsSecurityOfficer(makeReceiver));
    const blobs = await tokens[0]!.runAsSecurityOfficer((scope) => wrapFreshKey(scope, receivers));
    for (const [i, token] of tokens.entries()) {
      await token.runAsSecurityOfficer((scope) =>
        receive(scope, receivers[i]!.privateKey, blobs[i]!, labels),
      );
    }
  } finally {
    // Session objects would go with their session anyway; destroyed now so they outlive nothing.
    for (const [i, receiver] of receivers.entries()) {
      await tokens[i]!.run(({ api, session }) => api.C_DestroyObject(session, receiver.privateKey)).catch(
        () => undefined,
      );
    }
  }
}

/** An RSA key pair (session objects) whose private half can only unwrap, for receiving the key. */
async function makeReceiver({ api, session }: SessionScope): Promise<Receiver> {
  const pair = await api.C_GenerateKeyPairAsync(
    session,
    { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
    [
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_MODULUS_BITS, value: RECEIVER_BITS },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
      { type: pkcs11js.CKA_ENCRYPT, value: false },
      { type: pkcs11js.CKA_VERIFY, value: false },
    ],
    [
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      { type: pkcs11js.CKA_SIGN, value: false },
    ],
  );
  try {
    const [modulus, exponent] = api.C_GetAttributeValue(session, pair.publicKey, [
      { type: pkcs11js.CKA_MODULUS },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT },
    ]);
    return { privateKey: pair.privateKey, modulus: modulus!.value!, exponent: exponent!.value! };
  } finally {
    api.C_DestroyObject(session, pair.publicKey);
  }
}

/** Generates the value in this token (extractable only under trusted keys) and wraps it per receiver. */
function wrapFreshKey({ api, session }: SessionScope, receivers: Receiver[]): Buffer[] {
  const value = api.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    { type: pkcs11js.CKA_WRAP_WITH_TRUSTED, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
  ]);
  try {
    return receivers.map((receiver) => {
      // The receiver's public key, trusted (the SO may set CKA_TRUSTED) so it may wrap the value.
      const wrapping = api.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_MODULUS, value: receiver.modulus },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: receiver.exponent },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
        { type: pkcs11js.CKA_TRUSTED, value: true },
      ]);
      try {
        return Buffer.from(
          api.C_WrapKey(session, OAEP_SHA_1, wrapping, value, Buffer.alloc(RECEIVER_BITS / 8)),
        );
      } finally {
        api.C_DestroyObject(session, wrapping);
      }
    });
  } finally {
    api.C_DestroyObject(session, value);
  }
}

/** Unwraps the value twice: the wrap-only and the unwrap-only transport objects. */
function receive(
  { api, session }: SessionScope,
  privateKey: Handle,
  blob: Buffer,
  labels: TransportLabels,
): void {
  const common = (label: string): pkcs11js.Template => [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: true },
    // The SO can create public objects only (SoftHSM: CKR_USER_NOT_LOGGED_IN for CKA_PRIVATE true).
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: mechanismList(TRANSPORT_MECHANISMS) },
  ];
  // CKA_MODIFIABLE false last: SoftHSM 2.6 refuses every attribute that follows it in a template.
  try {
    api.C_UnwrapKey(session, OAEP_SHA_1, privateKey, blob, [
      ...common(labels.wrap),
      { type: pkcs11js.CKA_TRUSTED, value: true },
      { type: pkcs11js.CKA_WRAP, value: true },
      { type: pkcs11js.CKA_UNWRAP, value: false },
      { type: pkcs11js.CKA_MODIFIABLE, value: false },
    ]);
    withAttributeArray(pkcs11js.CKA_UNWRAP_TEMPLATE, FORCED_ON_UNWRAP, (unwrapTemplate) =>
      api.C_UnwrapKey(session, OAEP_SHA_1, privateKey, blob, [
        ...common(labels.unwrap),
        { type: pkcs11js.CKA_WRAP, value: false },
        { type: pkcs11js.CKA_UNWRAP, value: true },
        unwrapTemplate,
        { type: pkcs11js.CKA_MODIFIABLE, value: false },
      ]),
    );
  } finally {
    blob.fill(0);
  }
}

function destroyLabelled({ api, session }: SessionScope, labels: string[]): void {
  for (const label of labels) {
    api.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    let found: Handle[];
    try {
      found = api.C_FindObjects(session, 16);
    } finally {
      api.C_FindObjectsFinal(session);
    }
    for (const handle of found) api.C_DestroyObject(session, handle);
  }
}

/** What every replica's unwrap template must contain for the unwrap-only object to accept it. */
export const REPLICA_FORCED_ATTRIBUTES = FORCED_ON_UNWRAP;
