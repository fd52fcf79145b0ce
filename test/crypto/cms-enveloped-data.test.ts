// CMS EnvelopedData to a recipient key, opened by two independent implementations: the openssl CLI
// (`openssl cms -decrypt`) and a DER reader over node:crypto's RSA-OAEP and AES-CBC.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envelopeForRecipient, subjectKeyIdentifier } from '../../src/crypto/cms-enveloped-data.js';
import { derLength, derOid } from '../../src/crypto/der-writer.js';
import { openEnvelopedData } from '../helpers/nitro-attestation.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhaven-cms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recipient = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits });

function opensslDecrypt(envelope: Buffer, privatePem: string): Buffer {
  const input = join(dir, `in-${randomBytes(4).toString('hex')}.der`);
  const key = join(dir, `key-${randomBytes(4).toString('hex')}.pem`);
  writeFileSync(input, envelope);
  writeFileSync(key, privatePem);
  return execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', input, '-inkey', key], {
    stdio: 'pipe',
  });
}

describe('envelopeForRecipient', () => {
  for (const bits of [2048, 3072]) {
    it(`is opened by openssl cms -decrypt and by an independent DER reader (RSA ${bits})`, () => {
      const { publicKey, privateKey } = recipient(bits);
      // Empty, one block less one, one block exactly, and a 4 KiB plaintext (PKCS#7 padding edges).
      for (const length of [0, 15, 16, 4096]) {
        const plaintext = randomBytes(length);
        const envelope = envelopeForRecipient(publicKey, plaintext);
        expect(
          opensslDecrypt(envelope, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
        ).toEqual(plaintext);
        const opened = openEnvelopedData(envelope, privateKey);
        expect(opened.content).toEqual(plaintext);
        expect(opened.ski).toEqual(subjectKeyIdentifier(publicKey));
      }
    });
  }

  it('names the recipient by the SHA-1 of its RSAPublicKey (RFC 5280 §4.2.1.2 method 1)', () => {
    const { publicKey } = recipient(2048);
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    // The subjectPublicKey BIT STRING is the SPKI's last element: its content after the unused-bits octet.
    const bitString = spki.subarray(spki.lastIndexOf(Buffer.from([0x03, 0x82])) + 4 + 1);
    expect(subjectKeyIdentifier(publicKey)).toEqual(createHash('sha1').update(bitString).digest());
  });

  it('seals under a fresh content key each time: the same plaintext never gives the same envelope', () => {
    const { publicKey, privateKey } = recipient(2048);
    const plaintext = Buffer.from('same plaintext');
    const a = envelopeForRecipient(publicKey, plaintext);
    const b = envelopeForRecipient(publicKey, plaintext);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(plaintext)).toBe(false);
    expect(openEnvelopedData(b, privateKey).content).toEqual(plaintext);
  });

  it('does not open with another key', () => {
    const { publicKey } = recipient(2048);
    const other = recipient(2048);
    const envelope = envelopeForRecipient(publicKey, Buffer.from('for someone else'));
    expect(() => openEnvelopedData(envelope, other.privateKey)).toThrow();
    expect(() =>
      opensslDecrypt(envelope, other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    ).toThrow();
  });
});

describe('der-writer', () => {
  it('writes OBJECT IDENTIFIERs and lengths as openssl does', () => {
    expect(derOid('1.2.840.113549.1.7.3').toString('hex')).toBe('06092a864886f70d010703');
    expect(derOid('2.16.840.1.101.3.4.1.42').toString('hex')).toBe('060960864801650304012a');
    expect(derLength(0x7f).toString('hex')).toBe('7f');
    expect(derLength(0x80).toString('hex')).toBe('8180');
    expect(derLength(0x1234).toString('hex')).toBe('821234');
    expect(derLength(0x10000).toString('hex')).toBe('83010000');
  });
});
