import { spawnSync } from 'node:child_process';
import {
  constants,
  createHash,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
  type SignKeyObjectInput,
  type VerifyKeyObjectInput,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeyMaterial,
  privateKeyFromMaterial,
  publicKeyFromSpki,
} from '../../src/crypto/key-material.js';
import { digestForSigning, signMessage, verifySignature } from '../../src/crypto/signature.js';
import {
  isAsymmetric,
  KEY_SPECS,
  signingAlgorithmsFor,
  type KeySpec,
  type SigningAlgorithm,
} from '../../src/domain/key-spec.js';

interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const SIGNING_SPECS = KEY_SPECS.filter(isAsymmetric);
const keys = new Map<KeySpec, KeyPair>();

beforeAll(async () => {
  await Promise.all(
    SIGNING_SPECS.map(async (spec) => {
      const { material, publicKeySpki } = await generateKeyMaterial(spec);
      keys.set(spec, {
        privateKey: privateKeyFromMaterial(material),
        publicKey: publicKeyFromSpki(publicKeySpki!),
      });
    }),
  );
});

function keyPair(spec: KeySpec): KeyPair {
  const pair = keys.get(spec);
  if (!pair) throw new Error(`no key for ${spec}`);
  return pair;
}

const hashOf = (algorithm: SigningAlgorithm) =>
  algorithm === 'ED25519_SHA_512' ? null : `sha${algorithm.slice(-3)}`;

/** Plain node:crypto parameters for an algorithm, written out independently of signature.ts. */
function nodeOptions(algorithm: SigningAlgorithm): Omit<SignKeyObjectInput, 'key'> {
  if (algorithm.startsWith('RSASSA_PSS_')) {
    return {
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Number(algorithm.slice(-3)) / 8,
    };
  }
  if (algorithm.startsWith('RSASSA_PKCS1_')) return { padding: constants.RSA_PKCS1_PADDING };
  if (algorithm.startsWith('ECDSA_')) return { dsaEncoding: 'der' };
  return {};
}

const nodeVerify = (publicKey: KeyObject, algorithm: SigningAlgorithm, message: Buffer, signature: Buffer) =>
  verify(
    hashOf(algorithm),
    message,
    { key: publicKey, ...nodeOptions(algorithm) } as VerifyKeyObjectInput,
    signature,
  );

const nodeSign = (privateKey: KeyObject, algorithm: SigningAlgorithm, message: Buffer) =>
  sign(hashOf(algorithm), message, { key: privateKey, ...nodeOptions(algorithm) });

/** DIGEST mode interoperates with node:crypto over the message both ways: we sign, it verifies; it signs, we verify. */
function expectDigestInterop(
  privateKey: KeyObject,
  publicKey: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
) {
  const digest = digestForSigning(algorithm, message);
  expect(
    nodeVerify(publicKey, algorithm, message, signMessage(privateKey, algorithm, digest, 'DIGEST')),
  ).toBe(true);
  expect(
    verifySignature(publicKey, algorithm, digest, 'DIGEST', nodeSign(privateKey, algorithm, message)),
  ).toBe(true);
}

// Ed25519ph has no node:crypto counterpart to cross-check with: test/crypto/ed25519ph.test.ts covers it.
const CASES = SIGNING_SPECS.flatMap((spec) =>
  signingAlgorithmsFor(spec)
    .filter((algorithm) => algorithm !== 'ED25519_PH_SHA_512')
    .map((algorithm) => ({ spec, algorithm })),
);

describe('signMessage / verifySignature round trips, cross-checked with node:crypto', () => {
  it('covers every asymmetric key spec and each of its AWS signing algorithms', () => {
    expect(CASES).toHaveLength(18 + 4 + 1);
  });

  for (const { spec, algorithm } of CASES) {
    const digestMode = algorithm !== 'ED25519_SHA_512';

    it(`${spec} ${algorithm}: RAW signatures verify with crypto.verify and in both of our modes`, () => {
      const { privateKey, publicKey } = keyPair(spec);
      const message = randomBytes(200);
      const signature = signMessage(privateKey, algorithm, message, 'RAW');
      expect(nodeVerify(publicKey, algorithm, message, signature)).toBe(true);
      expect(verifySignature(publicKey, algorithm, message, 'RAW', signature)).toBe(true);
      if (digestMode) {
        expect(
          verifySignature(publicKey, algorithm, digestForSigning(algorithm, message), 'DIGEST', signature),
        ).toBe(true);
      }
      expect(
        verifySignature(publicKey, algorithm, Buffer.concat([message, Buffer.from([0])]), 'RAW', signature),
      ).toBe(false);
    });

    it(`${spec} ${algorithm}: crypto.sign signatures verify in RAW and DIGEST mode`, () => {
      const { privateKey, publicKey } = keyPair(spec);
      const message = randomBytes(77);
      const signature = nodeSign(privateKey, algorithm, message);
      expect(verifySignature(publicKey, algorithm, message, 'RAW', signature)).toBe(true);
      if (digestMode) {
        const digest = createHash(hashOf(algorithm)!).update(message).digest();
        expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', signature)).toBe(true);
        digest[0] = (digest[0] ?? 0) ^ 1;
        expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', signature)).toBe(false);
      }
    });

    if (digestMode) {
      it(`${spec} ${algorithm}: DIGEST signatures over sha(m) verify over m with crypto.verify (20 messages)`, () => {
        const { privateKey, publicKey } = keyPair(spec);
        for (let i = 0; i < 20; i++) {
          const message = randomBytes(i * 13);
          const digest = createHash(hashOf(algorithm)!).update(message).digest();
          const signature = signMessage(privateKey, algorithm, digest, 'DIGEST');
          expect(nodeVerify(publicKey, algorithm, message, signature)).toBe(true);
          expect(verifySignature(publicKey, algorithm, message, 'RAW', signature)).toBe(true);
          expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', signature)).toBe(true);
          expect(nodeVerify(publicKey, algorithm, digest, signature)).toBe(false);
        }
      });
    } else {
      it(`${spec} ${algorithm}: DIGEST mode is refused with ValidationError`, () => {
        const { privateKey, publicKey } = keyPair(spec);
        const digest = randomBytes(64);
        const validation = expect.objectContaining({ code: 'ValidationError' });
        expect(() => signMessage(privateKey, algorithm, digest, 'DIGEST')).toThrow(validation);
        expect(() => verifySignature(publicKey, algorithm, digest, 'DIGEST', randomBytes(64))).toThrow(
          validation,
        );
      });
    }
  }

  it('ECDSA DIGEST signing holds up over many signatures on every curve (200 each)', () => {
    for (const spec of ['ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'] as const) {
      const { privateKey, publicKey } = keyPair(spec);
      const algorithm = signingAlgorithmsFor(spec)[0]!;
      for (let i = 0; i < 200; i++) {
        const message = randomBytes(16);
        const signature = signMessage(privateKey, algorithm, digestForSigning(algorithm, message), 'DIGEST');
        expect(nodeVerify(publicKey, algorithm, message, signature)).toBe(true);
      }
    }
  });

  it('ECDSA DIGEST handles digests longer and shorter than the curve order (SEC 1 §4.1.3 truncation)', () => {
    for (const [spec, algorithm] of [
      ['ECC_NIST_P256', 'ECDSA_SHA_512'],
      ['ECC_NIST_P384', 'ECDSA_SHA_512'],
      ['ECC_NIST_P521', 'ECDSA_SHA_256'],
    ] as const) {
      const { privateKey, publicKey } = keyPair(spec);
      expectDigestInterop(privateKey, publicKey, algorithm, randomBytes(40));
    }
  });

  it('ECDSA DIGEST signatures are randomized', () => {
    const { privateKey } = keyPair('ECC_NIST_P256');
    const digest = randomBytes(32);
    const a = signMessage(privateKey, 'ECDSA_SHA_256', digest, 'DIGEST');
    const b = signMessage(privateKey, 'ECDSA_SHA_256', digest, 'DIGEST');
    expect(a.equals(b)).toBe(false);
  });

  it('RSA DIGEST signing works for a modulus whose bit length is 1 mod 8 (EM one octet shorter than k)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2049 });
    for (const algorithm of ['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384'] as const) {
      expectDigestInterop(privateKey, publicKey, algorithm, randomBytes(10));
    }
  });
});

describe('signature argument checks', () => {
  const validation = expect.objectContaining({ code: 'ValidationError' });

  it('refuses a DIGEST whose length is not the hash length', () => {
    const { privateKey, publicKey } = keyPair('RSA_2048');
    for (const length of [0, 31, 33, 48, 64]) {
      expect(() => signMessage(privateKey, 'RSASSA_PSS_SHA_256', randomBytes(length), 'DIGEST')).toThrow(
        validation,
      );
      expect(() =>
        verifySignature(publicKey, 'RSASSA_PSS_SHA_256', randomBytes(length), 'DIGEST', randomBytes(256)),
      ).toThrow(validation);
    }
    const ec = keyPair('ECC_NIST_P384');
    expect(() => signMessage(ec.privateKey, 'ECDSA_SHA_384', randomBytes(32), 'DIGEST')).toThrow(validation);
  });

  it('refuses an algorithm of another key family and a public key for signing', () => {
    const rsa = keyPair('RSA_2048');
    const ec = keyPair('ECC_NIST_P256');
    const ed = keyPair('ECC_NIST_EDWARDS25519');
    const message = Buffer.from('m');
    expect(() => signMessage(rsa.privateKey, 'ECDSA_SHA_256', message, 'RAW')).toThrow(validation);
    expect(() => signMessage(ec.privateKey, 'RSASSA_PSS_SHA_256', message, 'RAW')).toThrow(validation);
    expect(() => signMessage(ec.privateKey, 'ED25519_SHA_512', message, 'RAW')).toThrow(validation);
    expect(() => verifySignature(ed.publicKey, 'ECDSA_SHA_256', message, 'RAW', Buffer.alloc(64))).toThrow(
      validation,
    );
    expect(() => signMessage(rsa.publicKey, 'RSASSA_PSS_SHA_256', message, 'RAW')).toThrow(validation);
  });

  it('verifies with a private KeyObject as well as a public one', () => {
    const { privateKey } = keyPair('ECC_NIST_P256');
    const digest = randomBytes(32);
    const signature = signMessage(privateKey, 'ECDSA_SHA_256', digest, 'DIGEST');
    expect(verifySignature(privateKey, 'ECDSA_SHA_256', digest, 'DIGEST', signature)).toBe(true);
  });

  it('returns false, never throws, for malformed signatures of every algorithm and mode', () => {
    let checked = 0;
    for (const { spec, algorithm } of CASES) {
      const { privateKey, publicKey } = keyPair(spec);
      const message = randomBytes(32);
      const digest = digestForSigning(algorithm, message);
      const good = signMessage(privateKey, algorithm, message, 'RAW');
      const malformed = [
        Buffer.alloc(0),
        Buffer.from([0]),
        good.subarray(0, good.length - 1),
        Buffer.concat([good, Buffer.from([0])]),
        Buffer.concat([Buffer.from([0]), good]),
        Buffer.alloc(good.length, 0xff),
        Buffer.alloc(good.length),
        randomBytes(good.length),
        randomBytes(1000),
      ];
      for (const signature of malformed) {
        expect(verifySignature(publicKey, algorithm, message, 'RAW', signature)).toBe(false);
        if (algorithm !== 'ED25519_SHA_512') {
          expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', signature)).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBe(CASES.length * 9);
  });

  it('keeps RSA schemes apart: a PKCS#1 v1.5 signature does not verify as PSS and vice versa', () => {
    const { privateKey, publicKey } = keyPair('RSA_3072');
    const message = randomBytes(20);
    const pkcs1 = signMessage(privateKey, 'RSASSA_PKCS1_V1_5_SHA_256', message, 'RAW');
    const pss = signMessage(privateKey, 'RSASSA_PSS_SHA_256', message, 'RAW');
    const digest = digestForSigning('RSASSA_PSS_SHA_256', message);
    expect(verifySignature(publicKey, 'RSASSA_PSS_SHA_256', message, 'RAW', pkcs1)).toBe(false);
    expect(verifySignature(publicKey, 'RSASSA_PSS_SHA_256', digest, 'DIGEST', pkcs1)).toBe(false);
    expect(verifySignature(publicKey, 'RSASSA_PKCS1_V1_5_SHA_256', message, 'RAW', pss)).toBe(false);
    expect(verifySignature(publicKey, 'RSASSA_PKCS1_V1_5_SHA_256', digest, 'DIGEST', pss)).toBe(false);
    expect(verifySignature(publicKey, 'RSASSA_PSS_SHA_384', message, 'RAW', pss)).toBe(false);
  });
});

describe('signatures against the openssl CLI', () => {
  let dir = '';
  const path = (name: string) => join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-sig-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function openssl(args: string[]): { ok: boolean; output: string } {
    const run = spawnSync('openssl', args, { encoding: 'utf8' });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  }

  function writeKeys(spec: KeySpec): void {
    const { privateKey, publicKey } = keyPair(spec);
    writeFileSync(path('priv.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(path('pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  }

  /** `openssl pkeyutl` options that select the AWS parameters of an algorithm (the input is a digest). */
  function pkeyoptFor(algorithm: SigningAlgorithm): string[] {
    const hash = `sha${algorithm.slice(-3)}`;
    const options = ['-pkeyopt', `digest:${hash}`];
    if (algorithm.startsWith('RSASSA_PSS_')) {
      options.push(
        '-pkeyopt',
        'rsa_padding_mode:pss',
        '-pkeyopt',
        'rsa_pss_saltlen:digest',
        '-pkeyopt',
        `rsa_mgf1_md:${hash}`,
      );
    }
    if (algorithm.startsWith('RSASSA_PKCS1_')) options.push('-pkeyopt', 'rsa_padding_mode:pkcs1');
    return options;
  }

  const DIGEST_CASES: [KeySpec, SigningAlgorithm][] = [
    ['RSA_2048', 'RSASSA_PSS_SHA_256'],
    ['RSA_3072', 'RSASSA_PSS_SHA_512'],
    ['RSA_4096', 'RSASSA_PKCS1_V1_5_SHA_384'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_512'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
  ];

  for (const [spec, algorithm] of DIGEST_CASES) {
    it(`${spec} ${algorithm}: our DIGEST signatures pass openssl pkeyutl -verify, and theirs pass ours`, () => {
      writeKeys(spec);
      const { privateKey, publicKey } = keyPair(spec);
      const message = randomBytes(64);
      const digest = digestForSigning(algorithm, message);
      writeFileSync(path('digest.bin'), digest);
      writeFileSync(path('msg.bin'), message);

      writeFileSync(path('ours.sig'), signMessage(privateKey, algorithm, digest, 'DIGEST'));
      const verified = openssl([
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        path('pub.pem'),
        '-in',
        path('digest.bin'),
        '-sigfile',
        path('ours.sig'),
        ...pkeyoptFor(algorithm),
      ]);
      expect(verified.output).toContain('Signature Verified Successfully');

      const signed = openssl([
        'pkeyutl',
        '-sign',
        '-inkey',
        path('priv.pem'),
        '-in',
        path('digest.bin'),
        '-out',
        path('theirs.sig'),
        ...pkeyoptFor(algorithm),
      ]);
      expect(signed.ok, signed.output).toBe(true);
      const theirs = readFileSync(path('theirs.sig'));
      expect(verifySignature(publicKey, algorithm, digest, 'DIGEST', theirs)).toBe(true);
      expect(verifySignature(publicKey, algorithm, message, 'RAW', theirs)).toBe(true);

      // A wrong digest must fail on their side too, so the check above is not vacuous.
      writeFileSync(
        path('digest.bin'),
        createHash(`sha${algorithm.slice(-3)}`)
          .update('other')
          .digest(),
      );
      const refused = openssl([
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        path('pub.pem'),
        '-in',
        path('digest.bin'),
        '-sigfile',
        path('ours.sig'),
        ...pkeyoptFor(algorithm),
      ]);
      expect(refused.output).not.toContain('Signature Verified Successfully');
    });
  }

  it('ECC_NIST_EDWARDS25519 ED25519_SHA_512: our signatures pass openssl pkeyutl -rawin, and theirs pass ours', () => {
    writeKeys('ECC_NIST_EDWARDS25519');
    const { privateKey, publicKey } = keyPair('ECC_NIST_EDWARDS25519');
    const message = randomBytes(100);
    writeFileSync(path('msg.bin'), message);
    writeFileSync(path('ours.sig'), signMessage(privateKey, 'ED25519_SHA_512', message, 'RAW'));
    const verified = openssl([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      path('pub.pem'),
      '-rawin',
      '-in',
      path('msg.bin'),
      '-sigfile',
      path('ours.sig'),
    ]);
    expect(verified.output).toContain('Signature Verified Successfully');
    const signed = openssl([
      'pkeyutl',
      '-sign',
      '-inkey',
      path('priv.pem'),
      '-rawin',
      '-in',
      path('msg.bin'),
      '-out',
      path('theirs.sig'),
    ]);
    expect(signed.ok, signed.output).toBe(true);
    expect(
      verifySignature(publicKey, 'ED25519_SHA_512', message, 'RAW', readFileSync(path('theirs.sig'))),
    ).toBe(true);
  });

  it('RSA_2048 RSASSA_PSS_SHA_384: RAW signatures agree with openssl dgst', () => {
    writeKeys('RSA_2048');
    const { privateKey, publicKey } = keyPair('RSA_2048');
    const message = randomBytes(300);
    writeFileSync(path('msg.bin'), message);
    writeFileSync(path('ours.sig'), signMessage(privateKey, 'RSASSA_PSS_SHA_384', message, 'RAW'));
    const pss = [
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:48',
      '-sigopt',
      'rsa_mgf1_md:sha384',
    ];
    const verified = openssl([
      'dgst',
      '-sha384',
      '-verify',
      path('pub.pem'),
      ...pss,
      '-signature',
      path('ours.sig'),
      path('msg.bin'),
    ]);
    expect(verified.output).toContain('Verified OK');
    const signed = openssl([
      'dgst',
      '-sha384',
      '-sign',
      path('priv.pem'),
      ...pss,
      '-out',
      path('theirs.sig'),
      path('msg.bin'),
    ]);
    expect(signed.ok, signed.output).toBe(true);
    expect(
      verifySignature(publicKey, 'RSASSA_PSS_SHA_384', message, 'RAW', readFileSync(path('theirs.sig'))),
    ).toBe(true);
  });
});
