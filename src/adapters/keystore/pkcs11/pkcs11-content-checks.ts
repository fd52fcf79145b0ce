// What a key object holds, checked without reading it, so that an object planted under one of our
// labels with a value someone chose is refused (with several backends the attribute checks alone
// cannot tell a copy from such an object: pkcs11-object-policy.ts). Run once per handle, before
// first use (pkcs11-object-lookup.ts).
//
// Secret keys: a key check value, a fixed function of the value computed inside the token, as HSM
// vendors' KCVs are, recorded when the version is made or imported. It also stands in for imported
// material in the key's material id (services/key-import-service.ts), which the host never sees.
// AES: the GCM tag of the empty message under a fixed IV and associated data (one deterministic
// value per key, never a ciphertext: no message is sealed under this IV and data). HMAC: the MAC of
// a fixed message with the key's own mechanism.
//
// Private keys: they must be the private half of the public key recorded at creation: an RSA key's
// public attributes must be its modulus and exponent; an EC or Ed25519 key signs a random challenge
// that the recorded public key verifies.
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import { keyFamily, type KeySpec } from '../../../domain/key-spec.js';
import { gcmMechanism } from './hsm-aes-gcm.js';
import { CKM_EDDSA } from './pkcs11-ec-keys.js';
import { UntrustedObjectError, type Handle } from './pkcs11-object-policy.js';
import { hmacMechanismOf } from './pkcs11-templates.js';
import type { SessionScope } from './pkcs11-token.js';

const CHECK_INPUT = Buffer.from('keyhaven key check value v1', 'utf8');
const CHECK_IV = Buffer.alloc(12);

/** The check value of the secret key `handle` of `spec`, computed by the token. */
export function keyCheckValue({ api, session }: SessionScope, handle: Handle, spec: KeySpec): Buffer {
  const family = keyFamily(spec);
  if (family === 'AES') {
    api.C_EncryptInit(session, gcmMechanism(CHECK_IV, CHECK_INPUT), handle);
    return Buffer.from(api.C_EncryptFinal(session, Buffer.alloc(16)));
  }
  const mechanism = hmacMechanismOf(spec);
  if (family !== 'HMAC' || mechanism === undefined) {
    throw new KmsError('Internal', `no key check value for ${spec}`);
  }
  api.C_SignInit(session, { mechanism }, handle);
  return Buffer.from(api.C_Sign(session, CHECK_INPUT, Buffer.alloc(64)));
}

/** A lookup verifier: the object must hold the material whose check value was recorded. */
export function expectCheckValue(
  scope: SessionScope,
  spec: KeySpec,
  expected: Buffer,
  where: { label: string },
): (handle: Handle) => void {
  return (handle) => {
    const actual = keyCheckValue(scope, handle, spec);
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new UntrustedObjectError(
        `refusing object "${where.label}": it does not hold the material recorded for it (key check value differs; docs/hsm.md "Object checks")`,
      );
    }
  };
}

/** A lookup verifier: the private key object must be the private half of `publicKeySpki`. */
export function expectPrivateHalfOf(
  scope: SessionScope,
  spec: KeySpec,
  publicKeySpki: Buffer,
  where: { label: string },
): (handle: Handle) => void {
  return (handle) => {
    if (!holdsPrivateHalf(scope, handle, spec, publicKeySpki)) {
      throw new UntrustedObjectError(
        `refusing object "${where.label}": it is not the private half of the public key recorded for it (docs/hsm.md "Object checks")`,
      );
    }
  };
}

function holdsPrivateHalf(
  { api, session }: SessionScope,
  handle: Handle,
  spec: KeySpec,
  publicKeySpki: Buffer,
): boolean {
  const publicKey = createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' });
  const family = keyFamily(spec);
  if (family === 'RSA') {
    const jwk = publicKey.export({ format: 'jwk' });
    const [modulus, exponent] = api.C_GetAttributeValue(session, handle, [
      { type: pkcs11js.CKA_MODULUS },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT },
    ]);
    return (
      modulus?.value?.toString('base64url') === jwk.n && exponent?.value?.toString('base64url') === jwk.e
    );
  }
  const challenge = randomBytes(32);
  if (family === 'ED25519') {
    api.C_SignInit(session, { mechanism: CKM_EDDSA }, handle);
    const signature = api.C_Sign(session, challenge, Buffer.alloc(64));
    return verify(null, challenge, publicKey, signature);
  }
  // CKM_ECDSA signs a digest we give it: SHA-256 of the challenge, verified as such.
  const digest = createHash('sha256').update(challenge).digest();
  api.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, handle);
  const signature = api.C_Sign(session, digest, Buffer.alloc(132));
  return verify('sha256', challenge, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
}
