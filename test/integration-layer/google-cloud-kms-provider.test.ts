// GoogleCloudKmsProvider (the real @google-cloud/kms KeyManagementServiceClient over its HTTP/JSON
// REST fallback) against a local HTTPS stand-in for Cloud KMS: Google cannot be reached from here.
// The stand-in does real AES-256-GCM and signatures and checks every CRC32C the SDK sends.
import { createHash, createPublicKey, verify as verifySignature, constants } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/integration/crc32c.js';
import {
  GoogleCloudKmsProvider,
  KmsIntegrationService,
  ProviderError,
  type CallContext,
} from '../../src/integration/index.js';
import { FakeGoogleCloudKms } from '../helpers/fake-google-cloud-kms.js';
import { googleKmsClientFor } from '../helpers/google-kms-client.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';

const TOKEN = 'ya29.fixed-test-token-for-the-stand-in';
const KEY_RING = 'projects/keyhaven-test/locations/europe-west1/keyRings/integration';
const context = (): CallContext => ({ signal: new AbortController().signal });

describe('GoogleCloudKmsProvider against a local HTTPS stand-in speaking the Cloud KMS v1 REST wire format', () => {
  let certs: TestCertificates;
  let kms: FakeGoogleCloudKms;
  let provider: GoogleCloudKmsProvider;

  beforeAll(async () => {
    certs = createTestCertificates();
    kms = new FakeGoogleCloudKms(
      { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) },
      TOKEN,
    );
    kms.addKeyRing(KEY_RING);
    await kms.start();
    provider = new GoogleCloudKmsProvider({
      client: googleKmsClientFor(kms.port, certs.read(certs.caCert), TOKEN),
      keyRing: KEY_RING,
    });
  });
  afterAll(async () => {
    await kms?.stop();
    certs?.dispose();
  });

  it('creates a key in the key ring with createCryptoKey, over REST with the bearer token', async () => {
    const info = await provider.generateKey({}, context());
    expect(info.keyRef).toMatch(new RegExp(`^${KEY_RING}/cryptoKeys/keyhaven-[0-9a-f-]{36}$`));
    expect(info).toMatchObject({
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      state: 'ENABLED',
    });
    const create = kms.calls('/cryptoKeys').at(-1)!;
    expect(create.method).toBe('POST');
    expect(create.query.get('cryptoKeyId')).toBe(info.keyRef.split('/').at(-1));
    expect(create.authorization).toBe(`Bearer ${TOKEN}`);
    // REST transport with numeric enums: purpose 1 = ENCRYPT_DECRYPT, algorithm 1 = GOOGLE_SYMMETRIC_ENCRYPTION.
    expect(create.query.get('$alt')).toBe('json;enum-encoding=int');
    expect(create.body).toMatchObject({ purpose: 1, versionTemplate: { algorithm: 1, protectionLevel: 1 } });
    expect(await provider.keyInfo(info.keyRef, context())).toMatchObject({
      keyRef: info.keyRef,
      keySpec: 'SYMMETRIC_DEFAULT',
    });
  });

  it('encrypts and decrypts, sending each byte field’s CRC32C and checking the answer’s', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const plaintext = Buffer.from('a secret of thirty-two bytes....');
    const { ciphertext } = await provider.encrypt(keyRef, plaintext, context());
    const sent = kms.calls(':encrypt').at(-1)!.body!;
    expect(sent.plaintext).toBe(plaintext.toString('base64'));
    // int64 wrappers travel as JSON strings.
    expect(sent.plaintextCrc32c).toBe(String(crc32c(plaintext)));
    const { plaintext: opened } = await provider.decrypt(keyRef, ciphertext, context());
    expect(opened.equals(plaintext)).toBe(true);
    expect(kms.calls(':decrypt').at(-1)!.body!.ciphertextCrc32c).toBe(String(crc32c(ciphertext)));
  });

  it('generateDataKey: 32 random bytes, encrypted there', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const { plaintext, ciphertext } = await provider.generateDataKey(keyRef, context());
    expect(plaintext.length).toBe(32);
    expect((await provider.decrypt(keyRef, ciphertext, context())).plaintext.equals(plaintext)).toBe(true);
  });

  it('tampered ciphertext is InvalidCiphertext (INVALID_ARGUMENT on decrypt), not retryable', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const { ciphertext } = await provider.encrypt(keyRef, Buffer.alloc(32, 2), context());
    ciphertext[20]! ^= 0x80;
    const error = await provider.decrypt(keyRef, ciphertext, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'InvalidCiphertext', retryable: false });
    const service = new KmsIntegrationService({
      providers: { gcp: { provider, keys: { k: keyRef }, retries: 2 } },
    });
    const before = kms.calls(':decrypt').length;
    await expect(service.decrypt('k', { ciphertext, provider: 'gcp' })).rejects.toMatchObject({
      code: 'AllProvidersFailed',
    });
    expect(kms.calls(':decrypt').length - before).toBe(1);
  });

  it('a response whose CRC32C does not match is rejected (and, being corruption in transit, retryable)', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const { ciphertext } = await provider.encrypt(keyRef, Buffer.alloc(32, 3), context());
    for (const [operation, field] of [
      ['encrypt', 'ciphertextCrc32c'],
      ['encrypt', 'verifiedPlaintextCrc32c'],
      ['decrypt', 'plaintextCrc32c'],
    ] as const) {
      kms.corruptNext(field);
      const call =
        operation === 'encrypt'
          ? provider.encrypt(keyRef, Buffer.alloc(32, 3), context())
          : provider.decrypt(keyRef, ciphertext, context());
      const error = await call.catch((e: unknown) => e);
      expect(error, field).toBeInstanceOf(ProviderError);
      expect(error, field).toMatchObject({ code: 'Unavailable', retryable: true });
      expect((error as Error).message).toMatch(/integrity check/);
    }
    // Through the service, the retry gets a sound answer.
    const service = new KmsIntegrationService({
      providers: { gcp: { provider, keys: { k: keyRef }, retries: 1, retryBaseDelay: 1 } },
    });
    kms.corruptNext('plaintextCrc32c');
    const opened = await service.decrypt('k', { ciphertext, provider: 'gcp' });
    expect(opened.plaintext.equals(Buffer.alloc(32, 3))).toBe(true);
    expect(service.getAuditLog(2).map((e) => [e.attempt, e.success])).toEqual([
      [0, false],
      [1, true],
    ]);
  });

  it('403 is AccessDenied and not retried; 429 and 503 are retried by the service, then succeed', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const service = new KmsIntegrationService({
      providers: { gcp: { provider, keys: { k: keyRef }, retries: 2, retryBaseDelay: 1, retryMaxDelay: 2 } },
    });
    kms.injectFaults({ httpStatus: 403, status: 'PERMISSION_DENIED', pathSuffix: ':encrypt' });
    let before = kms.calls(':encrypt').length;
    await expect(service.encrypt('k', 'x')).rejects.toMatchObject({ code: 'AllProvidersFailed' });
    expect(service.getAuditLog(1)[0]).toMatchObject({ errorCode: 'AccessDenied', attempt: 0 });
    expect(kms.calls(':encrypt').length - before).toBe(1);

    kms.injectFaults(
      { httpStatus: 429, status: 'RESOURCE_EXHAUSTED', pathSuffix: ':encrypt' },
      { httpStatus: 503, status: 'UNAVAILABLE', pathSuffix: ':encrypt' },
    );
    before = kms.calls(':encrypt').length;
    const encrypted = await service.encrypt('k', 'after two faults');
    // Three requests: gax did not retry on its own.
    expect(kms.calls(':encrypt').length - before).toBe(3);
    expect(service.getAuditLog(3).map((e) => [e.attempt, e.success, e.errorCode])).toEqual([
      [0, false, 'Throttled'],
      [1, false, 'Unavailable'],
      [2, true, undefined],
    ]);
    expect((await service.decrypt('k', encrypted)).plaintext.toString()).toBe('after two faults');
  });

  it('a failed call’s error carries no plaintext, even deep in its cause (the GaxiosError keeps the request)', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const secret = Buffer.from('plaintext that must not leak!!!!');
    kms.injectFaults({ httpStatus: 503, status: 'UNAVAILABLE', pathSuffix: ':encrypt' });
    const error = await provider.encrypt(keyRef, secret, context()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Unavailable' });
    const dump = inspect(error, { depth: Infinity, showHidden: true });
    expect(dump).toContain('503');
    expect((error as Error).cause).toMatchObject({ status: 503 });
    expect((error as Error).cause).not.toHaveProperty('config');
    for (const encoding of ['base64', 'hex', 'utf8'] as const) {
      expect(dump).not.toContain(secret.toString(encoding));
    }
  });

  it('a service that never answers: the per-call timeout fires and the retry succeeds', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const service = new KmsIntegrationService({
      providers: { gcp: { provider, keys: { k: keyRef }, timeout: 1_000, retries: 1, retryBaseDelay: 1 } },
    });
    kms.injectFaults({ httpStatus: 0, status: '', pathSuffix: ':encrypt' });
    const encrypted = await service.encrypt('k', 'after a hang');
    expect(service.getAuditLog(2).map((e) => [e.attempt, e.success, e.errorCode])).toEqual([
      [0, false, 'Timeout'],
      [1, true, undefined],
    ]);
    expect((await service.decrypt('k', encrypted)).plaintext.toString()).toBe('after a hang');
  });

  it('a missing key is NotFound; a disabled key is KeyUnavailable', async () => {
    await expect(provider.keyInfo(`${KEY_RING}/cryptoKeys/absent`, context())).rejects.toMatchObject({
      code: 'NotFound',
    });
    const { keyRef } = await provider.generateKey({}, context());
    kms.setEnabled(keyRef, false);
    await expect(provider.encrypt(keyRef, Buffer.alloc(32), context())).rejects.toMatchObject({
      code: 'KeyUnavailable',
    });
    expect(await provider.keyInfo(keyRef, context())).toMatchObject({ enabled: false, state: 'DISABLED' });
  });

  for (const [keySpec, padding, algorithm] of [
    ['ECC_NIST_P256', undefined, 'ECDSA_SHA_256'],
    ['RSA_2048', 'PSS', 'RSASSA_PSS_SHA_256'],
    ['RSA_2048', 'PKCS1', 'RSASSA_PKCS1_V1_5_SHA_256'],
  ] as const) {
    it(`asymmetricSign ${algorithm} (${keySpec}); node:crypto verifies it against getPublicKey's PEM; verify is local`, async () => {
      const signer = new GoogleCloudKmsProvider({
        client: googleKmsClientFor(kms.port, certs.read(certs.caCert), TOKEN),
        keyRing: KEY_RING,
        ...(padding ? { rsaSigningPadding: padding } : {}),
      });
      const { keyRef, keyUsage } = await signer.generateKey({ keySpec, keyUsage: 'SIGN_VERIFY' }, context());
      expect(keyUsage).toBe('SIGN_VERIFY');
      expect(keyRef).toMatch(/\/cryptoKeyVersions\/1$/);
      const message = Buffer.from(`a message for ${algorithm}`);
      const { signature } = await signer.sign(keyRef, message, algorithm, context());
      const digest = createHash('sha256').update(message).digest();
      const sent = kms.calls(':asymmetricSign').at(-1)!.body!;
      expect(sent).toMatchObject({
        digest: { sha256: digest.toString('base64') },
        digestCrc32c: String(crc32c(digest)),
      });

      const pem = (await (await fetchPublicKey(kms, keyRef, certs)).json()) as { pem: string };
      const options =
        algorithm === 'RSASSA_PSS_SHA_256'
          ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
          : algorithm === 'RSASSA_PKCS1_V1_5_SHA_256'
            ? { padding: constants.RSA_PKCS1_PADDING }
            : {};
      expect(
        verifySignature('sha256', message, { key: createPublicKey(pem.pem), ...options }, signature),
      ).toBe(true);

      const signs = kms.calls(':asymmetricSign').length;
      expect((await signer.verify(keyRef, message, signature, algorithm, context())).valid).toBe(true);
      expect(
        (await signer.verify(keyRef, Buffer.from('changed'), signature, algorithm, context())).valid,
      ).toBe(false);
      expect(kms.calls(':asymmetricSign').length).toBe(signs); // no RPC for verify
      // Google fixes one algorithm per key: another is refused before any request.
      await expect(signer.sign(keyRef, message, 'ECDSA_SHA_384', context())).rejects.toMatchObject({
        code: 'InvalidRequest',
      });
    });
  }

  it('health is a getKeyRing of the configured key ring', async () => {
    await provider.health(context());
    expect(kms.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v1/${KEY_RING}` });
    const elsewhere = new GoogleCloudKmsProvider({
      client: googleKmsClientFor(kms.port, certs.read(certs.caCert), TOKEN),
      keyRing: `${KEY_RING}-absent`,
    });
    await expect(elsewhere.health(context())).rejects.toMatchObject({ code: 'NotFound' });
  });
});

/** GET /v1/{version}/publicKey straight over HTTPS, independent of the SDK. */
async function fetchPublicKey(kms: FakeGoogleCloudKms, version: string, certs: TestCertificates) {
  const { request } = await import('node:https');
  return new Promise<{ json(): Promise<unknown> }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: kms.port,
        path: `/v1/${version}/publicKey`,
        ca: certs.read(certs.caCert),
        servername: 'localhost',
        headers: { authorization: `Bearer ${kms.token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ json: async () => JSON.parse(Buffer.concat(chunks).toString()) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
