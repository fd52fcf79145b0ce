import { createHash, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/crypto/signature.js';
import type { SigningAlgorithm } from '../../src/domain/key-spec.js';
import { hex, loadWycheproof, VectorTally, type SignatureGroup } from './wycheproof.js';

const HASH_OF_WYCHEPROOF: Record<string, { node: string; length: number }> = {
  'SHA-256': { node: 'sha256', length: 32 },
  'SHA-384': { node: 'sha384', length: 48 },
  'SHA-512': { node: 'sha512', length: 64 },
};

function hashOfGroup(group: SignatureGroup) {
  const hash = HASH_OF_WYCHEPROOF[group.sha ?? ''];
  if (!hash) throw new Error(`unexpected hash ${group.sha}`);
  return hash;
}

/**
 * Runs a verify-only file through verifySignature twice: RAW over msg, and DIGEST over hash(msg),
 * which exercises our own EMSA-PSS / EMSA-PKCS1-v1_5 / ECDSA code against the same vectors.
 */
function runSignatureFile(
  name: string,
  file: string,
  algorithmFor: (group: SignatureGroup) => SigningAlgorithm | undefined,
  modes: ('RAW' | 'DIGEST')[] = ['RAW', 'DIGEST'],
): Record<'RAW' | 'DIGEST', VectorTally> {
  const tallies = { RAW: new VectorTally(`${name} RAW`), DIGEST: new VectorTally(`${name} DIGEST`) };
  for (const group of loadWycheproof<SignatureGroup>(file).testGroups) {
    const algorithm = algorithmFor(group);
    if (!algorithm) {
      for (const mode of modes) tallies[mode].skipped += group.tests.length;
      continue;
    }
    const publicKey = createPublicKey({ key: hex(group.publicKeyDer), format: 'der', type: 'spki' });
    for (const test of group.tests) {
      const [msg, sig] = [hex(test.msg), hex(test.sig)];
      for (const mode of modes) {
        const message = mode === 'RAW' ? msg : createHash(hashOfGroup(group).node).update(msg).digest();
        tallies[mode].record(test, verifySignature(publicKey, algorithm, message, mode, sig));
      }
    }
  }
  for (const mode of modes) tallies[mode].report();
  return tallies;
}

const ECDSA_FILES: [string, string, SigningAlgorithm][] = [
  ['ECDSA P-256', 'ecdsa_secp256r1_sha256_test.json', 'ECDSA_SHA_256'],
  ['ECDSA P-384', 'ecdsa_secp384r1_sha384_test.json', 'ECDSA_SHA_384'],
  ['ECDSA P-521', 'ecdsa_secp521r1_sha512_test.json', 'ECDSA_SHA_512'],
  ['ECDSA secp256k1', 'ecdsa_secp256k1_sha256_test.json', 'ECDSA_SHA_256'],
];

describe('ECDSA (DER signatures) against Wycheproof', () => {
  for (const [name, file, algorithm] of ECDSA_FILES) {
    it(`${name}: accepts every valid and rejects every invalid vector, in RAW and DIGEST mode`, () => {
      const tallies = runSignatureFile(name, file, () => algorithm);
      for (const tally of Object.values(tallies)) {
        expect(tally.failures).toEqual([]);
        expect(tally.validAccepted).toBeGreaterThan(100);
        expect(tally.invalidRejected).toBeGreaterThan(250);
      }
    });
  }
});

describe('Ed25519 against Wycheproof', () => {
  it('accepts every valid and rejects every invalid vector (RAW only, as AWS)', () => {
    const { RAW } = runSignatureFile('Ed25519', 'ed25519_test.json', () => 'ED25519_SHA_512', ['RAW']);
    expect(RAW.failures).toEqual([]);
    expect(RAW.validAccepted).toBeGreaterThan(80);
    expect(RAW.invalidRejected).toBeGreaterThan(50);
  });
});

/** AWS KMS RSASSA-PSS: MGF1 with the signature hash and a salt as long as the hash. */
function awsPssAlgorithm(group: SignatureGroup): SigningAlgorithm | undefined {
  const hash = hashOfGroup(group);
  if (group.mgfSha !== group.sha || group.sLen !== hash.length) return undefined;
  return `RSASSA_PSS_SHA_${hash.node.slice(3)}` as SigningAlgorithm;
}

describe('RSASSA-PSS against Wycheproof', () => {
  for (const bits of [2048, 3072]) {
    it(`RSA-${bits} SHA-256, MGF1-SHA-256, sLen 32: valid accepted and invalid rejected, RAW and DIGEST`, () => {
      const tallies = runSignatureFile(
        `RSA-PSS ${bits}`,
        `rsa_pss_${bits}_sha256_mgf1_32_test.json`,
        awsPssAlgorithm,
      );
      for (const tally of Object.values(tallies)) {
        expect(tally.failures).toEqual([]);
        expect(tally.skipped).toBe(0);
        expect(tally.validAccepted).toBeGreaterThan(50);
        expect(tally.invalidRejected).toBeGreaterThan(40);
      }
    });
  }

  it('rejects even the valid SHA-512 vectors whose salt is 32 bytes: AWS fixes sLen at 64', () => {
    const file = 'rsa_pss_4096_sha512_mgf1_32_test.json';
    // The file does not fit AWS's parameters, so it is skipped as a vector file; instead every one of
    // its signatures, valid under sLen = 32, must fail under our sLen = 64 in both modes.
    expect(
      runSignatureFile('RSA-PSS 4096 SHA-512 sLen 32', file, awsPssAlgorithm).RAW.skipped,
    ).toBeGreaterThan(100);
    let rejected = 0;
    for (const group of loadWycheproof<SignatureGroup>(file).testGroups) {
      const publicKey = createPublicKey({ key: hex(group.publicKeyDer), format: 'der', type: 'spki' });
      for (const test of group.tests) {
        const msg = hex(test.msg);
        const digest = createHash('sha512').update(msg).digest();
        expect(verifySignature(publicKey, 'RSASSA_PSS_SHA_512', msg, 'RAW', hex(test.sig))).toBe(false);
        expect(verifySignature(publicKey, 'RSASSA_PSS_SHA_512', digest, 'DIGEST', hex(test.sig))).toBe(false);
        rejected++;
      }
    }
    console.log(`RSA-PSS 4096 SHA-512 sLen 32: ${rejected} signatures rejected for their 32-byte salt`);
    expect(rejected).toBeGreaterThan(150);
  });
});

const PKCS1_FILES: [number, string][] = [
  [2048, 'rsa_signature_2048_sha256_test.json'],
  [3072, 'rsa_signature_3072_sha384_test.json'],
  [4096, 'rsa_signature_4096_sha512_test.json'],
];

describe('RSASSA-PKCS1-v1_5 against Wycheproof', () => {
  for (const [bits, file] of PKCS1_FILES) {
    it(`RSA-${bits}: valid accepted, invalid rejected, MissingNull ("acceptable") rejected, RAW and DIGEST`, () => {
      const tallies = runSignatureFile(
        `RSA PKCS#1 v1.5 ${bits}`,
        file,
        (group) => `RSASSA_PKCS1_V1_5_SHA_${hashOfGroup(group).node.slice(3)}` as SigningAlgorithm,
      );
      for (const tally of Object.values(tallies)) {
        expect(tally.failures).toEqual([]);
        expect(tally.validAccepted).toBeGreaterThan(5);
        expect(tally.invalidRejected).toBeGreaterThan(240);
        // DigestInfo without the NULL parameters: RFC 8017 §9.2 note 1 allows verifiers to accept it;
        // we accept only the canonical encoding, like AWS, in both modes.
        expect(tally.acceptableAccepted).toBe(0);
      }
    });
  }
});
