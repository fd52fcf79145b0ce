// Attestation documents as AWS Nitro signs them, from a PKI of the test's own: what verifies, and
// every way a document is refused (tampered, unsigned, forged, untrusted, malformed).
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAttestationDocument } from '../../src/crypto/nitro-attestation.js';
import { decodeCbor } from '../../src/domain/cbor.js';
import { KmsError } from '../../src/domain/errors.js';
import {
  attestationDocument,
  cbor,
  createAttestationPki,
  type AttestationPki,
} from '../helpers/nitro-attestation.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhaven-nitro-'));
let pki: AttestationPki;
let other: AttestationPki;
let anchors: X509Certificate[];
const recipientSpki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
  type: 'spki',
  format: 'der',
});
const pcrs = new Map([
  [0, Buffer.alloc(48, 0xa0)],
  [1, Buffer.alloc(48, 0xa1)],
  [8, Buffer.alloc(48, 0xa8)],
]);

beforeAll(() => {
  pki = createAttestationPki(dir, 'trusted');
  other = createAttestationPki(dir, 'untrusted');
  anchors = [new X509Certificate(readFileSync(pki.rootPemPath))];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError);
    expect((error as KmsError).code).toBe('ValidationError');
    return (error as KmsError).message;
  }
  throw new Error('the document was accepted');
}

describe('verifyAttestationDocument', () => {
  it('answers the public key and PCRs of a document signed by a leaf chained to a trust anchor', () => {
    const claims = verifyAttestationDocument(
      attestationDocument(pki, { publicKey: recipientSpki, pcrs }),
      anchors,
      new Date(),
    );
    expect(claims.publicKey).toEqual(recipientSpki);
    expect([...claims.pcrs.keys()]).toEqual([0, 1, 8]);
    expect(claims.pcrs.get(8)).toEqual(Buffer.alloc(48, 0xa8));
    expect(claims.moduleId).toMatch(/^i-/);
  });

  it('accepts the COSE_Sign1 tag (18) around the structure', () => {
    const plain = decodeCbor(attestationDocument(pki, { publicKey: recipientSpki, pcrs }));
    const tagged = cbor({ tag: 18, value: plain as never });
    expect(verifyAttestationDocument(tagged, anchors, new Date()).publicKey).toEqual(recipientSpki);
  });

  it('refuses a document whose payload changed after signing', () => {
    const document = attestationDocument(pki, {
      publicKey: recipientSpki,
      pcrs,
      tamper: (payload) => {
        const changed = Buffer.from(payload);
        const at = changed.indexOf(Buffer.alloc(48, 0xa8));
        changed[at] = 0xa9;
        return changed;
      },
    });
    expect(refusal(() => verifyAttestationDocument(document, anchors, new Date()))).toContain('signature');
  });

  it('refuses an unsigned document and one signed by a key other than its certificate', () => {
    const unsigned = attestationDocument(pki, { publicKey: recipientSpki, pcrs, unsigned: true });
    expect(refusal(() => verifyAttestationDocument(unsigned, anchors, new Date()))).toContain('signature');
    const forged = attestationDocument(pki, { publicKey: recipientSpki, pcrs, signingKey: other.leafKey });
    expect(refusal(() => verifyAttestationDocument(forged, anchors, new Date()))).toContain('signature');
  });

  it('refuses a document of another root, however well signed', () => {
    const document = attestationDocument(other, { publicKey: recipientSpki, pcrs });
    expect(refusal(() => verifyAttestationDocument(document, anchors, new Date()))).toContain(
      'configured attestation root',
    );
    // Nor does a chain that names the trusted root but swaps in another intermediate.
    const spliced = attestationDocument(
      { ...other, rootDer: pki.rootDer },
      { publicKey: recipientSpki, pcrs },
    );
    expect(refusal(() => verifyAttestationDocument(spliced, anchors, new Date()))).toContain('broken');
  });

  it('refuses a leaf whose key is not P-384, even under a trusted root', () => {
    const p256 = createAttestationPki(dir, 'p256', 'prime256v1');
    const document = attestationDocument(p256, { publicKey: recipientSpki, pcrs });
    const root = new X509Certificate(readFileSync(p256.rootPemPath));
    expect(refusal(() => verifyAttestationDocument(document, [root], new Date()))).toContain('P-384');
  });

  it('refuses a chain that is not valid at the time of the request', () => {
    const document = attestationDocument(pki, { publicKey: recipientSpki, pcrs });
    const later = new Date(Date.now() + 60 * 86_400_000);
    expect(refusal(() => verifyAttestationDocument(document, anchors, later))).toContain('not valid now');
  });

  it('refuses another algorithm than ES384, garbage, and structures that are not COSE_Sign1', () => {
    const es256 = attestationDocument(pki, { publicKey: recipientSpki, pcrs, alg: -7 });
    expect(refusal(() => verifyAttestationDocument(es256, anchors, new Date()))).toContain('ES384');
    for (const garbage of [
      Buffer.from('not cbor at all'),
      Buffer.alloc(0),
      cbor([Buffer.alloc(0), new Map(), Buffer.alloc(0)]),
      cbor('a text string'),
      // An array claiming 2^32 elements: refused before any is read.
      Buffer.from([0x9a, 0xff, 0xff, 0xff, 0xff]),
      // Indefinite length.
      Buffer.from([0x9f, 0x01, 0xff]),
    ]) {
      refusal(() => verifyAttestationDocument(garbage, anchors, new Date()));
    }
  });

  it('refuses CBOR nested deeper than a document needs', () => {
    const deep = Buffer.concat([Buffer.alloc(1000, 0x81), Buffer.from([0x01])]);
    expect(refusal(() => decodeCbor(deep))).toContain('nested too deeply');
  });
});
