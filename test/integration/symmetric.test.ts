// Symmetric cryptography over real HTTP (API.md "Cryptographic operations"): encrypt/decrypt with
// encryption contexts, re-encryption, batches, data keys (checked against node:crypto and the openssl
// CLI), AES-KWP wrapping, HKDF derivation, random bytes and HMAC.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, expectError, unb64, type Api } from './http.js';
import { OpensslWorkspace } from './openssl.js';
import { keyStoreProfiles } from './profiles.js';
import { createKey, serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';
import {
  isBatchError,
  type BatchReply,
  type DataKeyReply,
  type DecryptReply,
  type EncryptReply,
  type KeyReply,
  type KeyView,
  type MacReply,
  type ValidReply,
} from './wire-types.js';

const HMAC_SPECS = [
  { keySpec: 'HMAC_224', algorithm: 'HMAC_SHA_224', length: 28 },
  { keySpec: 'HMAC_256', algorithm: 'HMAC_SHA_256', length: 32 },
  { keySpec: 'HMAC_384', algorithm: 'HMAC_SHA_384', length: 48 },
  { keySpec: 'HMAC_512', algorithm: 'HMAC_SHA_512', length: 64 },
] as const;

const flipBit = (buffer: Buffer, bit: number) => {
  const copy = Buffer.from(buffer);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
};

describe.each(keyStoreProfiles)('symmetric cryptography over REST ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;
  let key: KeyView;
  let otherKey: KeyView;
  let openssl: OpensslWorkspace;

  beforeAll(async () => {
    suite = await startSuiteServer(profile);
    api = suite.api;
    [key, otherKey] = await Promise.all([createKey(api), createKey(api)]);
    openssl = new OpensslWorkspace();
  });
  afterAll(async () => {
    openssl?.dispose();
    await suite?.server.dispose();
  });

  const encrypt = (body: { keyId: string; plaintext: string; context?: Record<string, string> }) =>
    api.ok<EncryptReply>('POST', '/v1/encrypt', body);
  const decrypt = (body: { ciphertext: string; context?: Record<string, string>; keyId?: string }) =>
    api.ok<DecryptReply>('POST', '/v1/decrypt', body);

  describe('encrypt and decrypt', () => {
    it('round-trips without a context; the reply names the key and version', async () => {
      const plaintext = b64('hello keyhaven');
      const sealed = await encrypt({ keyId: key.keyId, plaintext });
      expect(sealed).toMatchObject({ keyId: key.keyId, keyVersion: 1 });
      expect(unb64(sealed.ciphertext).toString()).not.toContain('hello keyhaven');
      expect(await decrypt({ ciphertext: sealed.ciphertext })).toEqual({
        keyId: key.keyId,
        keyVersion: 1,
        plaintext,
      });
    });

    it('encrypting the same plaintext twice gives different ciphertexts (random IV)', async () => {
      const plaintext = b64('same');
      const [a, b] = await Promise.all([
        encrypt({ keyId: key.keyId, plaintext }),
        encrypt({ keyId: key.keyId, plaintext }),
      ]);
      expect(a.ciphertext).not.toBe(b.ciphertext);
    });

    it('round-trips with a context, whatever the order of its pairs (canonical encoding)', async () => {
      const plaintext = b64('bound to a context');
      const sealed = await encrypt({
        keyId: key.keyId,
        plaintext,
        context: { tenant: 'acme', purpose: 'test' },
      });
      const opened = await decrypt({
        ciphertext: sealed.ciphertext,
        context: { purpose: 'test', tenant: 'acme' },
      });
      expect(opened.plaintext).toBe(plaintext);
    });

    it('decrypt with a wrong, missing or extra context fails with 400 InvalidCiphertext', async () => {
      const withContext = await encrypt({ keyId: key.keyId, plaintext: b64('x'), context: { a: '1' } });
      const without = await encrypt({ keyId: key.keyId, plaintext: b64('x') });
      const attempts = [
        { ciphertext: withContext.ciphertext, context: { a: '2' } },
        { ciphertext: withContext.ciphertext, context: { b: '1' } },
        { ciphertext: withContext.ciphertext, context: { a: '1', b: '2' } },
        { ciphertext: withContext.ciphertext },
        { ciphertext: withContext.ciphertext, context: {} },
        { ciphertext: without.ciphertext, context: { a: '1' } },
      ];
      for (const body of attempts) {
        expectError(await api.post('/v1/decrypt', body), 400, 'InvalidCiphertext');
      }
    });

    it('a context with a lone surrogate is 400 ValidationError: it cannot open what U+FFFD sealed', async () => {
      const sealed = await encrypt({ keyId: key.keyId, plaintext: b64('x'), context: { k: '\ufffd' } });
      // JSON.stringify writes a lone surrogate as the escape \ud800, as any JSON client would.
      for (const context of [{ k: '\ud800' }, { '\udfff': 'v' }, { k: 'ok\udbff' }]) {
        expectError(
          await api.post('/v1/decrypt', { ciphertext: sealed.ciphertext, context }),
          400,
          'ValidationError',
        );
        expectError(
          await api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x'), context }),
          400,
          'ValidationError',
        );
      }
      expectError(
        await api.post('/v1/derive', { keyId: key.keyId, context: 'a\ud800', length: 32 }),
        400,
        'ValidationError',
      );
      expect((await decrypt({ ciphertext: sealed.ciphertext, context: { k: '\ufffd' } })).plaintext).toBe(
        b64('x'),
      );
    });

    it('decrypt naming another key as keyId fails with 400 IncorrectKey; naming the right one (any reference) works', async () => {
      const alias = `alias/decrypt-${randomUUID()}`;
      await api.ok('PUT', `/v1/aliases/${encodeURIComponent(alias)}`, { keyId: key.keyId });
      const sealed = await encrypt({ keyId: key.keyId, plaintext: b64('x') });
      expectError(
        await api.post('/v1/decrypt', { ciphertext: sealed.ciphertext, keyId: otherKey.keyId }),
        400,
        'IncorrectKey',
      );
      for (const keyId of [key.keyId, alias, `kh::key/${key.keyId}`]) {
        expect((await decrypt({ ciphertext: sealed.ciphertext, keyId })).keyId).toBe(key.keyId);
      }
    });

    it('encrypts a 4096-byte plaintext and refuses 4097 bytes with 400 ValidationError', async () => {
      const largest = randomBytes(4096);
      const sealed = await encrypt({ keyId: key.keyId, plaintext: b64(largest) });
      expect(unb64((await decrypt({ ciphertext: sealed.ciphertext })).plaintext)).toEqual(largest);
      const response = await api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64(randomBytes(4097)) });
      expectError(response, 400, 'ValidationError');
    });

    it('refuses encryption with a key of another usage with 400 KeyUsageMismatch', async () => {
      const hmac = await createKey(api, { keySpec: 'HMAC_256' });
      const rsa = await createKey(api, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
      for (const keyId of [hmac.keyId, rsa.keyId]) {
        expectError(await api.post('/v1/encrypt', { keyId, plaintext: b64('x') }), 400, 'KeyUsageMismatch');
      }
    });
  });

  describe('re-encryption', () => {
    it('re-encrypts to another key and context; only the destination context opens the result', async () => {
      const plaintext = b64('moving house');
      const sealed = await encrypt({ keyId: key.keyId, plaintext, context: { from: 'a' } });
      const moved = await api.ok<EncryptReply & { sourceKeyId: string }>('POST', '/v1/reencrypt', {
        ciphertext: sealed.ciphertext,
        context: { from: 'a' },
        destinationKeyId: otherKey.keyId,
        destinationContext: { to: 'b' },
      });
      expect(moved).toMatchObject({ keyId: otherKey.keyId, keyVersion: 1, sourceKeyId: key.keyId });
      expect(await decrypt({ ciphertext: moved.ciphertext, context: { to: 'b' } })).toMatchObject({
        keyId: otherKey.keyId,
        plaintext,
      });
      expectError(
        await api.post('/v1/decrypt', { ciphertext: moved.ciphertext, context: { from: 'a' } }),
        400,
        'InvalidCiphertext',
      );
    });

    it('re-encryption with the wrong source context fails with 400 InvalidCiphertext', async () => {
      const sealed = await encrypt({ keyId: key.keyId, plaintext: b64('x'), context: { from: 'a' } });
      const response = await api.post('/v1/reencrypt', {
        ciphertext: sealed.ciphertext,
        context: { from: 'b' },
        destinationKeyId: otherKey.keyId,
      });
      expectError(response, 400, 'InvalidCiphertext');
    });
  });

  describe('batches', () => {
    it('encrypt/batch answers each item in order: good items a ciphertext, bad ones their own error', async () => {
      const disabled = await createKey(api);
      await api.ok('POST', `/v1/keys/${disabled.keyId}/disable`);
      const hmac = await createKey(api, { keySpec: 'HMAC_256' });
      const items = [
        { keyId: key.keyId, plaintext: b64('one') },
        { keyId: randomUUID(), plaintext: b64('two') },
        { keyId: disabled.keyId, plaintext: b64('three') },
        { keyId: hmac.keyId, plaintext: b64('four') },
        { keyId: key.keyId, plaintext: b64(randomBytes(4097)) },
        { keyId: otherKey.keyId, plaintext: b64('six'), context: { n: '6' } },
      ];
      const { results } = await api.ok<BatchReply<EncryptReply>>('POST', '/v1/encrypt/batch', { items });
      expect(results).toHaveLength(items.length);
      expect(results.map((r) => (isBatchError(r) ? r.error.code : 'ok'))).toEqual([
        'ok',
        'NotFound',
        'KeyDisabled',
        'KeyUsageMismatch',
        'ValidationError',
        'ok',
      ]);
      const sixth = results[5] as EncryptReply;
      expect(sixth.keyId).toBe(otherKey.keyId);
      expect((await decrypt({ ciphertext: sixth.ciphertext, context: { n: '6' } })).plaintext).toBe(
        b64('six'),
      );
    });

    it('decrypt/batch answers each item in order with its plaintext or its own error', async () => {
      const good = await encrypt({ keyId: key.keyId, plaintext: b64('good'), context: { c: '1' } });
      const other = await encrypt({ keyId: otherKey.keyId, plaintext: b64('other') });
      const items = [
        { ciphertext: good.ciphertext, context: { c: '1' } },
        { ciphertext: good.ciphertext, context: { c: '2' } },
        { ciphertext: b64(randomBytes(60)) },
        { ciphertext: other.ciphertext, keyId: key.keyId },
        { ciphertext: other.ciphertext },
      ];
      const { results } = await api.ok<BatchReply<DecryptReply>>('POST', '/v1/decrypt/batch', { items });
      expect(results.map((r) => (isBatchError(r) ? r.error.code : 'ok'))).toEqual([
        'ok',
        'InvalidCiphertext',
        'InvalidCiphertext',
        'IncorrectKey',
        'ok',
      ]);
      expect((results[0] as DecryptReply).plaintext).toBe(b64('good'));
      expect((results[4] as DecryptReply).plaintext).toBe(b64('other'));
    });

    it('refuses an empty batch and one of more than 100 items with 400 ValidationError', async () => {
      expectError(await api.post('/v1/encrypt/batch', { items: [] }), 400, 'ValidationError');
      const items = Array.from({ length: 101 }, () => ({ keyId: key.keyId, plaintext: b64('x') }));
      expectError(await api.post('/v1/encrypt/batch', { items }), 400, 'ValidationError');
    });
  });

  describe('data keys', () => {
    it.each([
      ['AES_256', 32],
      ['AES_128', 16],
    ] as const)(
      'generates an %s data key whose ciphertext decrypts (with its context) to the plaintext key',
      async (keySpec, bytes) => {
        const context = { file: 'report.pdf' };
        const dataKey = await api.ok<DataKeyReply>('POST', '/v1/datakey', {
          keyId: key.keyId,
          keySpec,
          context,
        });
        expect(dataKey.keyId).toBe(key.keyId);
        expect(unb64(dataKey.plaintext!)).toHaveLength(bytes);
        expect((await decrypt({ ciphertext: dataKey.ciphertext, context })).plaintext).toBe(
          dataKey.plaintext,
        );
        expectError(
          await api.post('/v1/decrypt', { ciphertext: dataKey.ciphertext }),
          400,
          'InvalidCiphertext',
        );
      },
    );

    it('defaults to AES_256, and withoutPlaintext returns only the ciphertext of a 32-byte key', async () => {
      const plain = await api.ok<DataKeyReply>('POST', '/v1/datakey', { keyId: key.keyId });
      expect(unb64(plain.plaintext!)).toHaveLength(32);
      const without = await api.ok<DataKeyReply>('POST', '/v1/datakey', {
        keyId: key.keyId,
        withoutPlaintext: true,
      });
      expect(without).not.toHaveProperty('plaintext');
      expect(unb64((await decrypt({ ciphertext: without.ciphertext })).plaintext)).toHaveLength(32);
    });

    it('envelope encryption interoperates with node:crypto AES-256-GCM: encrypt locally, recover the key via /v1/decrypt', async () => {
      const context = { object: 'backup.tar' };
      const dataKey = await api.ok<DataKeyReply>('POST', '/v1/datakey', { keyId: key.keyId, context });
      const file = randomBytes(100_000);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', unb64(dataKey.plaintext!), iv);
      const encryptedFile = Buffer.concat([cipher.update(file), cipher.final()]);
      const tag = cipher.getAuthTag();
      // Only the wrapped key is kept next to the file; the plaintext key is forgotten.
      const recovered = unb64((await decrypt({ ciphertext: dataKey.ciphertext, context })).plaintext);
      const decipher = createDecipheriv('aes-256-gcm', recovered, iv);
      decipher.setAuthTag(tag);
      expect(Buffer.concat([decipher.update(encryptedFile), decipher.final()])).toEqual(file);
    });

    it.each([
      ['AES_256', 'aes-256-cbc'],
      ['AES_128', 'aes-128-cbc'],
    ] as const)(
      'an %s data key works with `openssl enc -%s` in both directions',
      async (keySpec, cipherName) => {
        const dataKey = await api.ok<DataKeyReply>('POST', '/v1/datakey', { keyId: key.keyId, keySpec });
        const keyHex = unb64(dataKey.plaintext!).toString('hex');
        const ivHex = randomBytes(16).toString('hex');
        const file = randomBytes(5000);
        const plainPath = openssl.write(`${cipherName}.bin`, file);
        const encPath = openssl.path(`${cipherName}.enc`);
        // openssl enc has no GCM mode, hence CBC: the point is that the key bytes are the key.
        openssl.run(['enc', `-${cipherName}`, '-K', keyHex, '-iv', ivHex, '-in', plainPath, '-out', encPath]);

        const recovered = unb64((await decrypt({ ciphertext: dataKey.ciphertext })).plaintext);
        const decipher = createDecipheriv(cipherName, recovered, Buffer.from(ivHex, 'hex'));
        expect(Buffer.concat([decipher.update(openssl.read(`${cipherName}.enc`)), decipher.final()])).toEqual(
          file,
        );

        const cipher = createCipheriv(cipherName, recovered, Buffer.from(ivHex, 'hex'));
        const back = openssl.write(
          `${cipherName}.node.enc`,
          Buffer.concat([cipher.update(file), cipher.final()]),
        );
        const decrypted = openssl.path(`${cipherName}.node.dec`);
        openssl.run([
          'enc',
          '-d',
          `-${cipherName}`,
          '-K',
          keyHex,
          '-iv',
          ivHex,
          '-in',
          back,
          '-out',
          decrypted,
        ]);
        expect(openssl.read(`${cipherName}.node.dec`)).toEqual(file);
      },
    );
  });

  describe('key wrapping (AES-KWP)', () => {
    it('wraps and unwraps key material of several lengths', async () => {
      for (const length of [1, 16, 32, 33, 512]) {
        const keyMaterial = b64(randomBytes(length));
        const wrapped = await api.ok<{ wrappedKey: string }>('POST', '/v1/wrap', {
          keyId: key.keyId,
          keyMaterial,
        });
        // RFC 5649: 8-byte integrity block, padded up to a multiple of 8.
        expect(unb64(wrapped.wrappedKey)).toHaveLength(8 + Math.max(8, Math.ceil(length / 8) * 8));
        const unwrapped = await api.ok<{ keyMaterial: string }>('POST', '/v1/unwrap', {
          keyId: key.keyId,
          wrappedKey: wrapped.wrappedKey,
        });
        expect(unwrapped.keyMaterial).toBe(keyMaterial);
      }
    });

    it('unwrap of a tampered blob, or under another key, fails with 400 InvalidCiphertext', async () => {
      const wrapped = await api.ok<{ wrappedKey: string }>('POST', '/v1/wrap', {
        keyId: key.keyId,
        keyMaterial: b64(randomBytes(32)),
      });
      const blob = unb64(wrapped.wrappedKey);
      for (const bit of [0, 63, 64, blob.length * 8 - 1]) {
        const response = await api.post('/v1/unwrap', {
          keyId: key.keyId,
          wrappedKey: b64(flipBit(blob, bit)),
        });
        expectError(response, 400, 'InvalidCiphertext');
      }
      expectError(
        await api.post('/v1/unwrap', { keyId: otherKey.keyId, wrappedKey: wrapped.wrappedKey }),
        400,
        'InvalidCiphertext',
      );
    });

    it('material wrapped before a rotation still unwraps after it', async () => {
      const rotating = await createKey(api);
      const keyMaterial = b64(randomBytes(32));
      const wrapped = await api.ok<{ wrappedKey: string }>('POST', '/v1/wrap', {
        keyId: rotating.keyId,
        keyMaterial,
      });
      await api.ok<KeyReply>('POST', `/v1/keys/${rotating.keyId}/rotate`);
      const unwrapped = await api.ok<{ keyMaterial: string; keyVersion: number }>('POST', '/v1/unwrap', {
        keyId: rotating.keyId,
        wrappedKey: wrapped.wrappedKey,
      });
      expect(unwrapped).toMatchObject({ keyMaterial, keyVersion: 1 });
    });
  });

  describe('key derivation (HKDF-SHA-256)', () => {
    const derive = (body: Record<string, unknown>) =>
      api.ok<{ derivedKey: string }>('POST', '/v1/derive', body);

    it('is deterministic for the same key, context, salt and length', async () => {
      const body = { keyId: key.keyId, context: 'tenant=acme', salt: b64('salt'), length: 32 };
      const [a, b] = await Promise.all([derive(body), derive(body)]);
      expect(unb64(a.derivedKey)).toHaveLength(32);
      expect(a.derivedKey).toBe(b.derivedKey);
    });

    it('differs with the context, the salt, the key, and prefixes agree across lengths', async () => {
      const base = { keyId: key.keyId, context: 'tenant=acme', length: 32 };
      const results = await Promise.all([
        derive(base),
        derive({ ...base, context: 'tenant=other' }),
        derive({ ...base, salt: b64('pepper') }),
        derive({ ...base, keyId: otherKey.keyId }),
      ]);
      expect(new Set(results.map((r) => r.derivedKey)).size).toBe(4);
      // HKDF-Expand output of length L is a prefix of any longer output for the same inputs.
      const longer = await derive({ ...base, length: 64 });
      expect(unb64(longer.derivedKey).subarray(0, 32)).toEqual(unb64(results[0]!.derivedKey));
    });

    it('accepts lengths 1 and 1024 and refuses 0 and 1025 with 400 ValidationError', async () => {
      for (const length of [1, 1024]) {
        const { derivedKey } = await derive({ keyId: key.keyId, context: 'c', length });
        expect(unb64(derivedKey)).toHaveLength(length);
      }
      for (const length of [0, 1025, -1]) {
        expectError(
          await api.post('/v1/derive', { keyId: key.keyId, context: 'c', length }),
          400,
          'ValidationError',
        );
      }
    });
  });

  describe('random bytes', () => {
    it.each([1, 16, 1024])('returns exactly %i random bytes', async (bytes) => {
      const { random } = await api.ok<{ random: string }>('GET', `/v1/random?bytes=${bytes}`);
      expect(unb64(random)).toHaveLength(bytes);
    });

    it('two 32-byte draws differ', async () => {
      const [a, b] = await Promise.all([
        api.ok<{ random: string }>('GET', '/v1/random?bytes=32'),
        api.ok<{ random: string }>('GET', '/v1/random?bytes=32'),
      ]);
      expect(a.random).not.toBe(b.random);
    });

    it.each(['0', '1025', 'many', '-1', ''])('refuses bytes=%j with 400 ValidationError', async (bytes) => {
      expectError(await api.get(`/v1/random?bytes=${bytes}`), 400, 'ValidationError');
    });
  });

  describe('HMAC', () => {
    it.each(HMAC_SPECS)(
      '$keySpec: mac has $length bytes, verifies, and a wrong mac or message does not',
      async (spec) => {
        const hmac = await createKey(api, { keySpec: spec.keySpec });
        const message = b64('authenticate me');
        const { mac } = await api.ok<MacReply>('POST', '/v1/mac', {
          keyId: hmac.keyId,
          message,
          algorithm: spec.algorithm,
        });
        expect(unb64(mac)).toHaveLength(spec.length);
        const verify = (body: { message: string; mac: string }) =>
          api.ok<ValidReply>('POST', '/v1/mac/verify', {
            keyId: hmac.keyId,
            algorithm: spec.algorithm,
            ...body,
          });
        expect((await verify({ message, mac })).valid).toBe(true);
        expect((await verify({ message, mac: b64(flipBit(unb64(mac), 5)) })).valid).toBe(false);
        expect((await verify({ message, mac: b64(unb64(mac).subarray(0, spec.length - 1)) })).valid).toBe(
          false,
        );
        expect((await verify({ message: b64('authenticate me!'), mac })).valid).toBe(false);
        // Deterministic: the same message gives the same MAC.
        const again = await api.ok<MacReply>('POST', '/v1/mac', {
          keyId: hmac.keyId,
          message,
          algorithm: spec.algorithm,
        });
        expect(again.mac).toBe(mac);
      },
    );

    it('refuses an algorithm that does not match the HMAC key spec with 400 KeyUsageMismatch', async () => {
      const hmac = await createKey(api, { keySpec: 'HMAC_256' });
      const response = await api.post('/v1/mac', {
        keyId: hmac.keyId,
        message: b64('m'),
        algorithm: 'HMAC_SHA_512',
      });
      expectError(response, 400, 'KeyUsageMismatch');
      expectError(
        await api.post('/v1/mac', { keyId: key.keyId, message: b64('m'), algorithm: 'HMAC_SHA_256' }),
        400,
        'KeyUsageMismatch',
      );
    });

    it('a MAC made before rotation still verifies after it; new MACs come from the new version', async () => {
      const hmac = await createKey(api, { keySpec: 'HMAC_256' });
      const message = b64('rotate me');
      const before = await api.ok<MacReply>('POST', '/v1/mac', {
        keyId: hmac.keyId,
        message,
        algorithm: 'HMAC_SHA_256',
      });
      await api.ok('POST', `/v1/keys/${hmac.keyId}/rotate`);
      const after = await api.ok<MacReply>('POST', '/v1/mac', {
        keyId: hmac.keyId,
        message,
        algorithm: 'HMAC_SHA_256',
      });
      expect(after.keyVersion).toBe(2);
      expect(after.mac).not.toBe(before.mac);
      for (const mac of [before.mac, after.mac]) {
        const { valid } = await api.ok<ValidReply>('POST', '/v1/mac/verify', {
          keyId: hmac.keyId,
          message,
          mac,
          algorithm: 'HMAC_SHA_256',
        });
        expect(valid).toBe(true);
      }
    });
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
