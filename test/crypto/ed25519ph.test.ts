// Ed25519ph (ED25519_PH_SHA_512) against RFC 8032's own test vector, against @noble/curves as an
// independent verifier, and with AWS KMS's message-type rules (DIGEST only, 64 bytes).
import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { ed25519phSign, ed25519phVerify } from '../../src/crypto/ed25519ph.js';
import { generateKeyMaterial, privateKeyFromMaterial } from '../../src/crypto/key-material.js';
import { signMessage, verifySignature } from '../../src/crypto/signature.js';

// RFC 8032 §7.3, "TEST abc".
const RFC = {
  secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
  public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
  message: '616263',
  signature:
    '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41' +
    '31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
};

const hex = (value: string) => Buffer.from(value, 'hex');

function rfcKey(): KeyObject {
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: hex(RFC.secret).toString('base64url'),
      x: hex(RFC.public).toString('base64url'),
    },
    format: 'jwk',
  });
}

const rawPublicKey = (key: KeyObject) =>
  Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');

describe('Ed25519ph', () => {
  it('signs RFC 8032 §7.3 "TEST abc" to the RFC signature, and verifies it', () => {
    const key = rfcKey();
    expect(rawPublicKey(key).toString('hex')).toBe(RFC.public);
    const signature = ed25519phSign(key, hex(RFC.message));
    expect(signature.toString('hex')).toBe(RFC.signature);
    expect(ed25519phVerify(createPublicKey(key), hex(RFC.message), hex(RFC.signature))).toBe(true);
    expect(ed25519phVerify(createPublicKey(key), Buffer.from('abd'), hex(RFC.signature))).toBe(false);
  });

  it('as ED25519_PH_SHA_512 with MessageType DIGEST: Ed25519ph over the 64-byte digest, as @noble/curves computes it', async () => {
    const privateKey = privateKeyFromMaterial((await generateKeyMaterial('ECC_NIST_EDWARDS25519')).material);
    const publicKey = createPublicKey(privateKey);
    for (let i = 0; i < 10; i++) {
      const digest = createHash('sha512')
        .update(randomBytes(i * 50))
        .digest();
      const signature = signMessage(privateKey, 'ED25519_PH_SHA_512', digest, 'DIGEST');
      // Deterministic (RFC 8032): the same bytes as an independent implementation's.
      const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      expect(signature.equals(Buffer.from(ed25519ph.sign(digest, seed)))).toBe(true);
      expect(ed25519ph.verify(signature, digest, rawPublicKey(privateKey), { zip215: false })).toBe(true);
      expect(verifySignature(publicKey, 'ED25519_PH_SHA_512', digest, 'DIGEST', signature)).toBe(true);
      // Not a pure Ed25519 signature of the same bytes: the schemes are domain-separated.
      expect(verifySignature(publicKey, 'ED25519_SHA_512', digest, 'RAW', signature)).toBe(false);
    }
  });

  it('refuses RAW and a DIGEST that is not 64 bytes, as AWS does', () => {
    const key = rfcKey();
    const validation = expect.objectContaining({ code: 'ValidationError' });
    expect(() => signMessage(key, 'ED25519_PH_SHA_512', hex(RFC.message), 'RAW')).toThrow(validation);
    expect(() => signMessage(key, 'ED25519_PH_SHA_512', randomBytes(32), 'DIGEST')).toThrow(validation);
    expect(() =>
      verifySignature(createPublicKey(key), 'ED25519_PH_SHA_512', randomBytes(63), 'DIGEST', randomBytes(64)),
    ).toThrow(validation);
    // And pure Ed25519 stays RAW only.
    expect(() => signMessage(key, 'ED25519_SHA_512', randomBytes(64), 'DIGEST')).toThrow(validation);
  });

  it('answers false, never throws, for malformed signatures', () => {
    const key = rfcKey();
    const digest = randomBytes(64);
    const good = signMessage(key, 'ED25519_PH_SHA_512', digest, 'DIGEST');
    const flipped = Buffer.from(good);
    flipped[10]! ^= 1;
    for (const signature of [
      Buffer.alloc(0),
      good.subarray(0, 63),
      Buffer.concat([good, Buffer.of(0)]),
      Buffer.alloc(64, 0xff),
      Buffer.alloc(64),
      flipped,
    ]) {
      expect(verifySignature(createPublicKey(key), 'ED25519_PH_SHA_512', digest, 'DIGEST', signature)).toBe(
        false,
      );
    }
  });
});
