// The SDK's opener of recipient-bound results, against envelopes made by the server's writer and by
// `openssl cms -encrypt` (RSAES-OAEP SHA-256, AES-256-CBC, a certificate's issuer and serial as rid).
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyhavenError } from '../../src/client/index.js';
import { openRecipientEnvelope } from '../../src/client/recipient-envelope.js';
import { envelopeForRecipient } from '../../src/crypto/cms-enveloped-data.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhaven-envelope-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

describe('openRecipientEnvelope', () => {
  it("opens the server's envelopes, of any length", () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const length of [0, 1, 16, 1000]) {
      const plaintext = randomBytes(length);
      expect(openRecipientEnvelope(envelopeForRecipient(publicKey, plaintext), privateKey)).toEqual(
        plaintext,
      );
    }
  });

  it('opens what openssl cms -encrypt writes with RSAES-OAEP SHA-256 and AES-256-CBC', () => {
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'r.key',
      '-out',
      'r.pem',
      '-subj',
      '/CN=r',
      '-days',
      '1',
    ]);
    const plaintext = randomBytes(300);
    writeFileSync(join(dir, 'p.bin'), plaintext);
    openssl([
      'cms',
      '-encrypt',
      '-binary',
      '-aes256',
      '-in',
      'p.bin',
      '-outform',
      'DER',
      '-out',
      'e.der',
      '-recip',
      'r.pem',
      '-keyopt',
      'rsa_padding_mode:oaep',
      '-keyopt',
      'rsa_oaep_md:sha256',
      '-keyopt',
      'rsa_mgf1_md:sha256',
    ]);
    const key = createPrivateKey(readFileSync(join(dir, 'r.key')));
    expect(openRecipientEnvelope(readFileSync(join(dir, 'e.der')), key)).toEqual(plaintext);
  });

  it('answers a KeyhavenError for another key, a truncated envelope and garbage', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const envelope = envelopeForRecipient(publicKey, Buffer.from('secret'));
    for (const der of [
      envelope,
      envelope.subarray(0, envelope.length - 10),
      randomBytes(40),
      Buffer.alloc(0),
    ]) {
      expect(() => openRecipientEnvelope(der, other)).toThrow(KeyhavenError);
    }
  });
});
