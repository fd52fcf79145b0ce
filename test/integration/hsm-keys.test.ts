// HSM-protected keys over real HTTP, against a server whose key store is a fresh SoftHSM2 token:
// every supported spec works through the same API as SOFTWARE keys, each version is its own token
// object, and without the token the root key (hence every SOFTWARE key) is unavailable.
import { constants, createHash, createPublicKey, publicEncrypt, randomBytes, verify } from 'node:crypto';
import { cpSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { parseListObjects } from '../adapters/pkcs11/fixtures.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from './http.js';
import { createKey } from './suite-server.js';
import type { KeyReply, KeyView } from './wire-types.js';

const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');

interface Signed {
  signature: string;
  keyVersion: number;
}

describe('HSM-protected keys over REST (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let server: TestServer;
  let api: Api;
  const labels = () => parseListObjects(hsm.pkcs11Tool(['--list-objects']));
  const createHsmKey = async (input: Record<string, unknown> = {}): Promise<KeyView> => {
    const response = await api.post<KeyReply>('/v1/keys', { protectionLevel: 'HSM', ...input });
    expect(response.status, response.text).toBe(201);
    return response.body.key;
  };

  beforeAll(async () => {
    hsm = createSoftHsm({ labelPrefix: 'keyhaven-hsm-api' });
    server = await startServer({ env: { ...hsm.keyhavenEnv, KEYHAVEN_LOG_LEVEL: 'error' } });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('/ready lists the HSM backend with its circuit and session pool', async () => {
    const ready = await api.get<{
      ready: boolean;
      backends: { name: string; kind: string; detail: string }[];
    }>('/ready');
    expect(ready.status).toBe(200);
    const backend = ready.body.backends.find((b) => b.kind === 'pkcs11');
    expect(backend?.name).toBe('hsm-1');
    expect(backend?.detail).toMatch(/circuit closed, sessions \d+\/\d+ in use/);
  });

  it('encrypts and decrypts with an HSM AES key in the same ciphertext format as SOFTWARE keys', async () => {
    const key = await createHsmKey();
    expect(key.protectionLevel).toBe('HSM');
    const software = await createKey(api);
    const plaintext = b64('hello from the HSM');
    const context = { purpose: 'test' };
    for (const keyId of [key.keyId, software.keyId]) {
      const sealed = await api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
        keyId,
        plaintext,
        context,
      });
      const blob = Buffer.from(sealed.ciphertext, 'base64');
      expect(blob[0]).toBe(0x01);
      expect(blob.length).toBe(34 + 18 + 16);
      const opened = await api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
        ciphertext: sealed.ciphertext,
        context,
      });
      expect(opened.plaintext).toBe(plaintext);
      const wrong = await api.post('/v1/decrypt', {
        ciphertext: sealed.ciphertext,
        context: { purpose: 'x' },
      });
      expect(wrong.status).toBe(400);
    }
    const object = labels().find((o) => o.label === `keyhaven/${key.keyId}/v1`);
    expect(object?.flags).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
  });

  it.each([
    ['RSA_2048', 'RSASSA_PSS_SHA_256'],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_384'],
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384'],
  ])(
    'signs with an HSM %s key; node:crypto verifies with the exported public key',
    async (keySpec, algorithm) => {
      const key = await createHsmKey({ keySpec, keyUsage: 'SIGN_VERIFY' });
      const { publicKey } = await api.ok<{ publicKey: string }>('GET', `/v1/keys/${key.keyId}/public-key`);
      const message = Buffer.from(`signed by ${keySpec} in the HSM`);
      const signed = await api.ok<Signed>('POST', '/v1/sign', {
        keyId: key.keyId,
        message: b64(message),
        algorithm,
      });
      const hash = `sha${/SHA_(\d+)$/.exec(algorithm)![1]}`;
      const pub = createPublicKey(publicKey);
      const options = algorithm.startsWith('RSASSA_PSS')
        ? { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(hash.slice(3)) / 8 }
        : algorithm.startsWith('ECDSA')
          ? { key: pub, dsaEncoding: 'der' as const }
          : { key: pub, padding: constants.RSA_PKCS1_PADDING };
      expect(verify(hash, message, options, Buffer.from(signed.signature, 'base64'))).toBe(true);
      const digest = createHash(hash).update(message).digest();
      const pre = await api.ok<Signed>('POST', '/v1/sign', {
        keyId: key.keyId,
        message: b64(digest),
        messageType: 'DIGEST',
        algorithm,
      });
      const valid = await api.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: key.keyId,
        message: b64(message),
        signature: pre.signature,
        algorithm,
      });
      expect(valid.valid).toBe(true);
    },
  );

  it('generates and verifies MACs with an HSM HMAC key', async () => {
    const key = await createHsmKey({ keySpec: 'HMAC_256' });
    const message = b64('mac me');
    const { mac } = await api.ok<{ mac: string }>('POST', '/v1/mac', {
      keyId: key.keyId,
      message,
      algorithm: 'HMAC_SHA_256',
    });
    expect(Buffer.from(mac, 'base64').length).toBe(32);
    const check = await api.ok<{ valid: boolean }>('POST', '/v1/mac/verify', {
      keyId: key.keyId,
      message,
      mac,
      algorithm: 'HMAC_SHA_256',
    });
    expect(check.valid).toBe(true);
  });

  it('decrypts RSAES-OAEP with an HSM RSA key', async () => {
    const key = await createHsmKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const { publicKey } = await api.ok<{ publicKey: string }>('GET', `/v1/keys/${key.keyId}/public-key`);
    const ciphertext = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from('secret'),
    );
    const opened = await api.ok<{ plaintext: string }>('POST', '/v1/asymmetric/decrypt', {
      keyId: key.keyId,
      ciphertext: b64(ciphertext),
      algorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('secret');
  });

  it('rotation creates a new HSM object per version; old ciphertexts still decrypt', async () => {
    const key = await createHsmKey();
    const sealed = await api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('v1'),
    });
    await api.ok('POST', `/v1/keys/${key.keyId}/rotate`);
    const names = labels().map((o) => o.label);
    expect(names).toEqual(expect.arrayContaining([`keyhaven/${key.keyId}/v1`, `keyhaven/${key.keyId}/v2`]));
    const opened = await api.ok<{ plaintext: string; keyVersion: number }>('POST', '/v1/decrypt', {
      ciphertext: sealed.ciphertext,
    });
    expect(opened.keyVersion).toBe(1);
  });

  it.each([
    ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256'],
  ])(
    'signs with an HSM %s key: DER ECDSA that node:crypto verifies, RAW and DIGEST, many messages',
    async (keySpec, algorithm, hash) => {
      const key = await createHsmKey({ keySpec, keyUsage: 'SIGN_VERIFY' });
      const { publicKey } = await api.ok<{ publicKey: string }>('GET', `/v1/keys/${key.keyId}/public-key`);
      const pub = createPublicKey(publicKey);
      for (let i = 0; i < 20; i++) {
        const message = randomBytes(1 + i * 61);
        const signed = await api.ok<Signed>('POST', '/v1/sign', {
          keyId: key.keyId,
          message: b64(message),
          algorithm,
        });
        const signature = Buffer.from(signed.signature, 'base64');
        expect(verify(hash, message, { key: pub, dsaEncoding: 'der' }, signature), `message ${i}`).toBe(true);
        const pre = await api.ok<Signed>('POST', '/v1/sign', {
          keyId: key.keyId,
          message: b64(createHash(hash).update(message).digest()),
          messageType: 'DIGEST',
          algorithm,
        });
        const check = await api.ok<{ valid: boolean }>('POST', '/v1/verify', {
          keyId: key.keyId,
          message: b64(message),
          signature: pre.signature,
          algorithm,
        });
        expect(check.valid).toBe(true);
      }
      const object = labels().find((o) => o.label === `keyhaven/${key.keyId}/v1`);
      expect(object?.flags).toEqual(expect.arrayContaining(['sensitive', 'never extractable']));
    },
  );

  it('signs with an HSM Ed25519 key (ED25519_SHA_512, RAW); Ed25519ph and DIGEST answer 400', async () => {
    const key = await createHsmKey({ keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' });
    const { publicKey } = await api.ok<{ publicKey: string }>('GET', `/v1/keys/${key.keyId}/public-key`);
    const pub = createPublicKey(publicKey);
    for (let i = 0; i < 20; i++) {
      const message = randomBytes(1 + i * 97);
      const signed = await api.ok<Signed>('POST', '/v1/sign', {
        keyId: key.keyId,
        message: b64(message),
        algorithm: 'ED25519_SHA_512',
      });
      const signature = Buffer.from(signed.signature, 'base64');
      expect(signature).toHaveLength(64);
      expect(verify(null, message, pub, signature), `message ${i}`).toBe(true);
      const check = await api.ok<{ valid: boolean }>('POST', '/v1/verify', {
        keyId: key.keyId,
        message: b64(message),
        signature: signed.signature,
        algorithm: 'ED25519_SHA_512',
      });
      expect(check.valid).toBe(true);
    }
    const ph = await api.post<{ error: { code: string } }>('/v1/sign', {
      keyId: key.keyId,
      message: b64(createHash('sha512').update('m').digest()),
      messageType: 'DIGEST',
      algorithm: 'ED25519_PH_SHA_512',
    });
    expect(ph.status, ph.text).toBe(400);
    expect(ph.text).toContain('ED25519_PH_SHA_512 is not available for HSM keys');
    const digest = await api.post('/v1/sign', {
      keyId: key.keyId,
      message: b64(createHash('sha512').update('m').digest()),
      messageType: 'DIGEST',
      algorithm: 'ED25519_SHA_512',
    });
    expect(digest.status, digest.text).toBe(400);
  });

  it('wraps and unwraps (RFC 5649) with an HSM AES key; lengths the token would pad wrongly answer 400', async () => {
    const key = await createHsmKey();
    const material = randomBytes(32);
    const wrapped = await api.ok<{ wrappedKey: string; keyVersion: number }>('POST', '/v1/wrap', {
      keyId: key.keyId,
      keyMaterial: b64(material),
    });
    expect(Buffer.from(wrapped.wrappedKey, 'base64')).toHaveLength(40);
    const unwrapped = await api.ok<{ keyMaterial: string }>('POST', '/v1/unwrap', {
      keyId: key.keyId,
      wrappedKey: wrapped.wrappedKey,
    });
    expect(Buffer.from(unwrapped.keyMaterial, 'base64')).toEqual(material);
    const changed = Buffer.from(wrapped.wrappedKey, 'base64');
    changed[3]! ^= 1;
    const bad = await api.post('/v1/unwrap', { keyId: key.keyId, wrappedKey: b64(changed) });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.text).toContain('InvalidCiphertext');
    const odd = await api.post('/v1/wrap', { keyId: key.keyId, keyMaterial: b64(randomBytes(20)) });
    expect(odd.status, odd.text).toBe(400);
    expect(odd.text).toContain('multiple of 8 bytes');
    // After a rotation the older version still unwraps what it wrapped.
    await api.ok('POST', `/v1/keys/${key.keyId}/rotate`, {});
    const again = await api.ok<{ keyMaterial: string; keyVersion: number }>('POST', '/v1/unwrap', {
      keyId: key.keyId,
      wrappedKey: wrapped.wrappedKey,
    });
    expect(again.keyVersion).toBe(wrapped.keyVersion);
    expect(Buffer.from(again.keyMaterial, 'base64')).toEqual(material);
  });

  it('refuses operations the HSM level does not offer with 400, never 500', async () => {
    const key = await createHsmKey();
    const derive = await api.post('/v1/derive', { keyId: key.keyId, context: 'x', length: 32 });
    expect(derive.status).toBe(400);
  });

  it('/ready answers from the background probe: a hundred anonymous calls make no call to the token', async () => {
    const calls = async () => {
      const text = (await api.get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith('keyhaven_keystore_backend_calls_total{'));
      return Number(line?.split(' ').at(-1));
    };
    const before = await calls();
    const started = Date.now();
    for (let i = 0; i < 100; i++) expect((await api.get('/ready', { token: null })).status).toBe(200);
    const elapsedSeconds = (Date.now() - started) / 1000;
    // The background probes (one every 2 s, plus the token's own health check) are all that may run.
    expect((await calls()) - before).toBeLessThanOrEqual(2 * Math.ceil(elapsedSeconds / 2) + 2);
    const detailed = await api.get<{ checkedAt: string }>('/ready');
    expect(Date.now() - Date.parse(detailed.body.checkedAt)).toBeLessThan(10_000);
  });

  it('without the token, SOFTWARE keys are Unavailable (503): the root key lives only in the HSM', async () => {
    const key = await createKey(api);
    const sealed = await api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('x'),
    });
    await server.stop();
    const tokenDir = hsm.tokens[0]!.directory();
    const saved = `${server.dataDir}/token-saved`;
    cpSync(tokenDir, saved, { recursive: true });
    rmSync(tokenDir, { recursive: true, force: true });
    try {
      await server.restart();
      const decrypt = await api.post<{ error: { code: string } }>('/v1/decrypt', {
        ciphertext: sealed.ciphertext,
      });
      expect(decrypt.status).toBe(503);
      expect(decrypt.body.error.code).toBe('Unavailable');
      const encrypt = await api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('y') });
      expect(encrypt.status).toBe(503);
      expect((await api.get('/ready', { token: null })).status).toBe(503);
    } finally {
      await server.stop();
      cpSync(saved, tokenDir, { recursive: true });
      await server.restart();
    }
    const opened = await api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
      ciphertext: sealed.ciphertext,
    });
    expect(opened.plaintext).toBe(b64('x'));
  });
});
