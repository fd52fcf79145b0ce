import { spawnSync } from 'node:child_process';
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepMaxPlaintext,
  type RsaOaepAlgorithm,
} from '../../src/crypto/rsa-oaep.js';
import { KmsError } from '../../src/domain/errors.js';
import { attempt, hex, loadWycheproof, VectorTally, type OaepGroup } from './wycheproof.js';

describe('RSAES-OAEP against Wycheproof (SHA-256, MGF1-SHA-256, empty label)', () => {
  for (const bits of [2048, 3072, 4096]) {
    it(`RSA-${bits}: decrypts every valid vector and rejects every invalid one with InvalidCiphertext`, () => {
      const tally = new VectorTally(`RSA-OAEP ${bits}`);
      for (const group of loadWycheproof<OaepGroup>(`rsa_oaep_${bits}_sha256_mgf1sha256_test.json`)
        .testGroups) {
        expect([group.sha, group.mgfSha]).toEqual(['SHA-256', 'SHA-256']);
        const privateKey = createPrivateKey({
          key: hex(group.privateKeyPkcs8),
          format: 'der',
          type: 'pkcs8',
        });
        for (const test of group.tests) {
          // We never use a label (neither does AWS), so labelled vectors test a feature we lack.
          if (test.label !== '') {
            tally.skipped++;
            continue;
          }
          const outcome = attempt(() => rsaOaepDecrypt(privateKey, 'RSAES_OAEP_SHA_256', hex(test.ct)));
          if (outcome.ok) tally.record(test, outcome.value.equals(hex(test.msg)));
          else if (outcome.error instanceof KmsError && outcome.error.code === 'InvalidCiphertext') {
            tally.record(test, false);
          } else tally.failures.push(`tcId ${test.tcId}: unexpected error ${String(outcome.error)}`);
        }
      }
      tally.report();
      expect(tally.failures).toEqual([]);
      expect(tally.validAccepted).toBe(10);
      expect(tally.invalidRejected).toBe(19);
    });
  }
});

describe('RSAES-OAEP', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ALGORITHMS: [RsaOaepAlgorithm, string][] = [
    ['RSAES_OAEP_SHA_1', 'sha1'],
    ['RSAES_OAEP_SHA_256', 'sha256'],
  ];

  it('has the AWS maximum plaintext sizes', () => {
    expect(rsaOaepMaxPlaintext(2048, 'RSAES_OAEP_SHA_1')).toBe(214);
    expect(rsaOaepMaxPlaintext(2048, 'RSAES_OAEP_SHA_256')).toBe(190);
    expect(rsaOaepMaxPlaintext(3072, 'RSAES_OAEP_SHA_1')).toBe(342);
    expect(rsaOaepMaxPlaintext(3072, 'RSAES_OAEP_SHA_256')).toBe(318);
    expect(rsaOaepMaxPlaintext(4096, 'RSAES_OAEP_SHA_1')).toBe(470);
    expect(rsaOaepMaxPlaintext(4096, 'RSAES_OAEP_SHA_256')).toBe(446);
  });

  for (const [algorithm, hash] of ALGORITHMS) {
    it(`${algorithm}: round-trips up to the maximum size and interoperates with plain node:crypto`, () => {
      const max = rsaOaepMaxPlaintext(2048, algorithm);
      for (const length of [0, 1, 32, max]) {
        const plaintext = randomBytes(length);
        const ciphertext = rsaOaepEncrypt(publicKey, algorithm, plaintext);
        expect(ciphertext).toHaveLength(256);
        expect(rsaOaepDecrypt(privateKey, algorithm, ciphertext)).toEqual(plaintext);
        // MGF1 hash = OAEP hash, no label: exactly node's oaepHash behaviour, checked independently.
        const options = { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash };
        expect(privateDecrypt(options, ciphertext)).toEqual(plaintext);
        const theirs = publicEncrypt({ ...options, key: publicKey }, plaintext);
        expect(rsaOaepDecrypt(privateKey, algorithm, theirs)).toEqual(plaintext);
      }
    });

    it(`${algorithm}: refuses plaintext over the maximum with ValidationError`, () => {
      const tooLong = randomBytes(rsaOaepMaxPlaintext(2048, algorithm) + 1);
      expect(() => rsaOaepEncrypt(publicKey, algorithm, tooLong)).toThrow(
        expect.objectContaining({ code: 'ValidationError' }),
      );
    });
  }

  it('rejects the other hash, bit flips and wrong lengths with InvalidCiphertext', () => {
    const ciphertext = rsaOaepEncrypt(publicKey, 'RSAES_OAEP_SHA_256', Buffer.from('secret'));
    const invalid = expect.objectContaining({ code: 'InvalidCiphertext' });
    expect(() => rsaOaepDecrypt(privateKey, 'RSAES_OAEP_SHA_1', ciphertext)).toThrow(invalid);
    for (const bad of [
      Buffer.alloc(0),
      ciphertext.subarray(1),
      Buffer.concat([Buffer.from([0]), ciphertext]),
      Buffer.alloc(256, 0xff),
    ]) {
      expect(() => rsaOaepDecrypt(privateKey, 'RSAES_OAEP_SHA_256', bad)).toThrow(invalid);
    }
    for (let bit = 0; bit < 2048; bit += 61) {
      const flipped = Buffer.from(ciphertext);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(() => rsaOaepDecrypt(privateKey, 'RSAES_OAEP_SHA_256', flipped)).toThrow(invalid);
    }
  });

  it('refuses non-RSA keys with ValidationError', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(() => rsaOaepEncrypt(ec.publicKey, 'RSAES_OAEP_SHA_256', Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'ValidationError' }),
    );
  });

  it('interoperates with openssl pkeyutl for both OAEP hashes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-oaep-'));
    try {
      writeFileSync(join(dir, 'priv.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(
        join(dir, 'pub.pem'),
        createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }),
      );
      for (const [algorithm, hash] of ALGORITHMS) {
        const options = [
          '-pkeyopt',
          'rsa_padding_mode:oaep',
          '-pkeyopt',
          `rsa_oaep_md:${hash}`,
          '-pkeyopt',
          `rsa_mgf1_md:${hash}`,
        ];
        const plaintext = randomBytes(40);
        writeFileSync(join(dir, 'ours.bin'), rsaOaepEncrypt(publicKey, algorithm, plaintext));
        const decrypted = spawnSync('openssl', [
          'pkeyutl',
          '-decrypt',
          '-inkey',
          join(dir, 'priv.pem'),
          '-in',
          join(dir, 'ours.bin'),
          ...options,
        ]);
        expect(decrypted.status, String(decrypted.stderr)).toBe(0);
        expect(Buffer.from(decrypted.stdout)).toEqual(plaintext);

        writeFileSync(join(dir, 'plain.bin'), plaintext);
        const encrypted = spawnSync('openssl', [
          'pkeyutl',
          '-encrypt',
          '-pubin',
          '-inkey',
          join(dir, 'pub.pem'),
          '-in',
          join(dir, 'plain.bin'),
          '-out',
          join(dir, 'theirs.bin'),
          ...options,
        ]);
        expect(encrypted.status, String(encrypted.stderr)).toBe(0);
        expect(rsaOaepDecrypt(privateKey, algorithm, readFileSync(join(dir, 'theirs.bin')))).toEqual(
          plaintext,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
