// AzureKeyVaultProvider (the real @azure/keyvault-keys KeyClient and CryptographyClient) against a
// local HTTPS stand-in for Key Vault: Azure cannot be reached from here. The stand-in does real
// RSA-OAEP-256, A256KW and signatures, so round trips, tampering and the SDK's wire format are checked.
import { createHash, createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { inspect } from 'node:util';
import type { TokenCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AzureKeyVaultProvider,
  KmsIntegrationService,
  ProviderError,
  type CallContext,
} from '../../src/integration/index.js';
import { FakeAzureKeyVault, KEY_VAULT_RESOURCE } from '../helpers/fake-azure-key-vault.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';

const TOKEN = 'fixed-test-token-for-the-stand-in';
const context = (): CallContext => ({ signal: new AbortController().signal });

/** A TokenCredential that hands out one fixed token and records the scopes it was asked for. */
function fixedTokenCredential(scopesAsked: string[]): TokenCredential {
  return {
    getToken: async (scopes) => {
      scopesAsked.push(...(Array.isArray(scopes) ? scopes : [scopes]));
      return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

function keyClientFor(vault: FakeAzureKeyVault, certs: TestCertificates, scopesAsked: string[] = []) {
  return new KeyClient(vault.url, fixedTokenCredential(scopesAsked), {
    // The stand-in is localhost, not *.vault.azure.net: the challenge's resource cannot match its host.
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: certs.read(certs.caCert) },
    // Retries are the integration service's.
    retryOptions: { maxRetries: 0 },
  });
}

describe('AzureKeyVaultProvider against a local HTTPS stand-in speaking the Key Vault REST wire format', () => {
  let certs: TestCertificates;
  let vault: FakeAzureKeyVault;
  let provider: AzureKeyVaultProvider;
  const scopesAsked: string[] = [];

  beforeAll(async () => {
    certs = createTestCertificates();
    vault = new FakeAzureKeyVault(
      { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) },
      TOKEN,
    );
    await vault.start();
    provider = new AzureKeyVaultProvider({ keyClient: keyClientFor(vault, certs, scopesAsked) });
  });
  afterAll(async () => {
    await vault?.stop();
    certs?.dispose();
  });

  it('answers the bearer challenge, then sends the token and api-version on every call', async () => {
    const info = await provider.generateKey({ description: 'orders' }, context());
    expect(info).toMatchObject({
      keySpec: 'RSA_3072',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      state: 'Enabled',
      description: 'orders',
    });
    expect(info.keyRef).toMatch(new RegExp(`^${vault.url}/keys/keyhaven-[0-9a-f-]{36}/[0-9a-f]{32}$`));
    // The SDK's first request carries no token and no body; the 401 challenge names the resource.
    const [first, second] = vault.requests;
    expect(first).toMatchObject({ method: 'POST', authorization: undefined, body: undefined });
    expect(second).toMatchObject({ method: 'POST', authorization: `Bearer ${TOKEN}` });
    expect(second!.body).toMatchObject({
      kty: 'RSA',
      key_size: 3072,
      key_ops: ['wrapKey', 'unwrapKey'],
      tags: { description: 'orders' },
    });
    expect(scopesAsked).toContain(`${KEY_VAULT_RESOURCE}/.default`);
    expect(
      vault.requests
        .filter((r) => r.authorization)
        .every((r) => r.apiVersion && /^\d{4}-\d{2}-\d{2}/.test(r.apiVersion)),
    ).toBe(true);
  });

  it('encrypts with wrapKey RSA-OAEP-256 and decrypts with unwrapKey, under a versioned key id', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const { ciphertext } = await provider.encrypt(
      keyRef,
      Buffer.from('a data key, 32 bytes long......'),
      context(),
    );
    expect(ciphertext.length).toBe(384); // one RSA-3072 block
    const wrap = vault.operations('wrapkey').at(-1)!;
    expect(wrap.path).toBe(new URL(keyRef).pathname + '/wrapkey');
    expect(wrap.body).toMatchObject({ alg: 'RSA-OAEP-256' });
    const { plaintext } = await provider.decrypt(keyRef, ciphertext, context());
    expect(plaintext.toString()).toBe('a data key, 32 bytes long......');
    expect(vault.operations('unwrapkey').at(-1)!.body).toMatchObject({ alg: 'RSA-OAEP-256' });
  });

  it('generateDataKey returns 32 random bytes and their wrapping, which unwraps to them', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const a = await provider.generateDataKey(keyRef, context());
    const b = await provider.generateDataKey(keyRef, context());
    expect(a.plaintext.length).toBe(32);
    expect(a.plaintext.equals(b.plaintext)).toBe(false);
    expect((await provider.decrypt(keyRef, a.ciphertext, context())).plaintext.equals(a.plaintext)).toBe(
      true,
    );
  });

  it('an oct-HSM key (Managed HSM) wraps with A256KW, RFC 3394', async () => {
    const hsm = new AzureKeyVaultProvider({
      keyClient: keyClientFor(vault, certs),
      symmetricKeyType: 'oct-HSM',
    });
    const { keyRef, keySpec } = await hsm.generateKey({}, context());
    expect(keySpec).toBe('SYMMETRIC_DEFAULT');
    const secret = Buffer.alloc(32, 7);
    const { ciphertext } = await hsm.encrypt(keyRef, secret, context());
    expect(ciphertext.length).toBe(40); // RFC 3394: input + 8 bytes
    expect(vault.operations('wrapkey').at(-1)!.body).toMatchObject({ alg: 'A256KW' });
    expect((await hsm.decrypt(keyRef, ciphertext, context())).plaintext.equals(secret)).toBe(true);
    // RFC 3394 takes whole 8-byte blocks only: refused before any request.
    const before = vault.requests.length;
    await expect(hsm.encrypt(keyRef, Buffer.from('odd'), context())).rejects.toMatchObject({
      code: 'InvalidRequest',
    });
    expect(vault.requests.length).toBe(before);
  });

  it('takes a key name, name/version or key identifier, and refuses anything else without a call', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const [, , name, version] = new URL(keyRef).pathname.split('/');
    // name/version and the key identifier reach the same key.
    const { ciphertext } = await provider.encrypt(`${name}/${version}`, Buffer.alloc(32, 7), context());
    expect((await provider.decrypt(keyRef, ciphertext, context())).plaintext).toEqual(Buffer.alloc(32, 7));
    const before = vault.requests.length;
    for (const wrong of [
      `${vault.url}/secrets/${name}`,
      `${vault.url}/keys/`,
      `${vault.url}/keys/${name}/v1/extra`,
      `${vault.url}/keys/bad_name`,
      'https://',
      'a/b/c',
      // Another vault's key: the client would call this vault with its name.
      `https://another-vault.example/keys/${name}/${version}`,
    ]) {
      await expect(provider.encrypt(wrong, Buffer.alloc(32), context()), wrong).rejects.toMatchObject({
        code: 'InvalidRequest',
      });
    }
    expect(vault.requests.length).toBe(before);
  });

  it('tampered ciphertext is InvalidCiphertext, not retryable', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const { ciphertext } = await provider.encrypt(keyRef, Buffer.alloc(32, 1), context());
    ciphertext[10]! ^= 0x01;
    const error = await provider.decrypt(keyRef, ciphertext, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'InvalidCiphertext', retryable: false });
    // Through the service: one unwrap request, no retry, and the circuit not charged.
    const service = new KmsIntegrationService({
      providers: { azure: { provider, keys: { k: keyRef }, retries: 2 } },
    });
    const unwrapsBefore = vault.operations('unwrapkey').length;
    await expect(service.decrypt('k', { ciphertext, provider: 'azure' })).rejects.toMatchObject({
      code: 'AllProvidersFailed',
    });
    expect(vault.operations('unwrapkey').length - unwrapsBefore).toBe(1);
    expect(service.getProvider('azure').circuitBreaker.getState()).toEqual({
      state: 'closed',
      failureCount: 0,
    });
  });

  it('a failed call’s error carries no plaintext, even deep in its cause (the SDK error keeps the request)', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    await provider.encrypt(keyRef, Buffer.alloc(32), context()); // resolve the key first
    const secret = Buffer.from('plaintext that must not leak!!!!');
    vault.injectFaults({ status: 503, code: 'ServiceUnavailable', pathSuffix: '/wrapkey' });
    const error = await provider.encrypt(keyRef, secret, context()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Unavailable' });
    const dump = inspect(error, { depth: Infinity, showHidden: true });
    expect(dump).toContain('ServiceUnavailable');
    // The SDK's RestError holds the sent request (its body: the plaintext); the cause kept is a summary.
    expect((error as Error).cause).toMatchObject({ name: 'RestError', status: 503 });
    expect((error as Error).cause).not.toHaveProperty('request');
    for (const encoding of ['base64url', 'base64', 'hex', 'utf8'] as const) {
      expect(dump).not.toContain(secret.toString(encoding));
    }
  });

  it('a vault that never answers: the per-call timeout fires, the SDK call is aborted, the retry succeeds', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const service = new KmsIntegrationService({
      providers: { azure: { provider, keys: { k: keyRef }, timeout: 1_000, retries: 1, retryBaseDelay: 1 } },
    });
    await service.encrypt('k', 'resolve the key first');
    vault.injectFaults({ status: 0, code: '', pathSuffix: '/wrapkey' });
    const encrypted = await service.encrypt('k', 'after a hang');
    expect(service.getAuditLog(2).map((e) => [e.attempt, e.success, e.errorCode])).toEqual([
      [0, false, 'Timeout'],
      [1, true, undefined],
    ]);
    expect((await service.decrypt('k', encrypted)).plaintext.toString()).toBe('after a hang');
    // The SDK honoured the AbortSignal: it closed the hanging request's connection.
    await expect.poll(() => vault.abandonedRequests).toBe(1);
  });

  it('a missing key is NotFound; keyInfo reads getKey', async () => {
    await expect(provider.keyInfo('no-such-key', context())).rejects.toMatchObject({ code: 'NotFound' });
    const created = await provider.generateKey(
      { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
      context(),
    );
    const byName = await provider.keyInfo(new URL(created.keyRef).pathname.split('/')[2]!, context());
    expect(byName).toMatchObject({
      keyRef: created.keyRef,
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
    });
  });

  for (const [keySpec, algorithm, verifyOptions] of [
    ['ECC_NIST_P256', 'ECDSA_SHA_256', {}],
    ['RSA_2048', 'RSASSA_PSS_SHA_256', { padding: 6, saltLength: 32 }],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', { padding: 1 }],
  ] as const) {
    it(`signs ${algorithm} with a ${keySpec} key; node:crypto verifies the signature; verify rejects a changed message`, async () => {
      const { keyRef } = await provider.generateKey({ keySpec, keyUsage: 'SIGN_VERIFY' }, context());
      const message = Buffer.from(`a message for ${algorithm}`);
      const { signature } = await provider.sign(keyRef, message, algorithm, context());
      const sent = vault.operations('sign').at(-1)!.body!;
      // Key Vault signs a digest the client computed (JWS names on the wire).
      expect(sent.alg).toBe(
        { ECDSA_SHA_256: 'ES256', RSASSA_PSS_SHA_256: 'PS256', RSASSA_PKCS1_V1_5_SHA_256: 'RS256' }[
          algorithm
        ],
      );
      expect(
        Buffer.from(String(sent.value), 'base64url').equals(createHash('sha256').update(message).digest()),
      ).toBe(true);
      const jwk = await publicJwkOf(keyRef, vault, certs);
      const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      // The interface's ECDSA signature is DER, as AWS KMS's is.
      expect(verifySignature('sha256', message, { key: publicKey, ...verifyOptions }, signature)).toBe(true);
      expect((await provider.verify(keyRef, message, signature, algorithm, context())).valid).toBe(true);
      expect(
        (await provider.verify(keyRef, Buffer.from('another message'), signature, algorithm, context()))
          .valid,
      ).toBe(false);
      expect(vault.operations('verify').length).toBeGreaterThan(0);
    });
  }

  it('403 is AccessDenied, not retried; 429 and 503 are retried by the service, then succeed', async () => {
    const { keyRef } = await provider.generateKey({}, context());
    const service = new KmsIntegrationService({
      providers: {
        azure: { provider, keys: { k: keyRef }, retries: 2, retryBaseDelay: 1, retryMaxDelay: 2 },
      },
    });
    await service.encrypt('k', 'warm the key cache'); // the key's getKey is done once
    vault.injectFaults({ status: 403, code: 'Forbidden', pathSuffix: '/wrapkey' });
    const before = vault.operations('wrapkey').length;
    await expect(service.encrypt('k', 'x')).rejects.toMatchObject({ code: 'AllProvidersFailed' });
    expect(service.getAuditLog(1)[0]).toMatchObject({ errorCode: 'AccessDenied', attempt: 0 });
    expect(vault.operations('wrapkey').length - before).toBe(1); // not retried

    vault.injectFaults(
      { status: 429, code: 'Throttled', pathSuffix: '/wrapkey' },
      { status: 503, code: 'ServiceUnavailable', pathSuffix: '/wrapkey' },
    );
    const wrapsBefore = vault.operations('wrapkey').length;
    const encrypted = await service.encrypt('k', 'after two faults');
    // Three requests in all: the SDK itself did not retry (retryOptions.maxRetries 0).
    expect(vault.operations('wrapkey').length - wrapsBefore).toBe(3);
    expect(service.getAuditLog(3).map((e) => [e.attempt, e.success, e.errorCode])).toEqual([
      [0, false, 'Throttled'],
      [1, false, 'Unavailable'],
      [2, true, undefined],
    ]);
    expect((await service.decrypt('k', encrypted)).plaintext.toString()).toBe('after two faults');
  });
});

/** The public JWK as the vault serves it (GET /keys/{name}/{version}), read through the SDK. */
async function publicJwkOf(
  keyRef: string,
  vault: FakeAzureKeyVault,
  certs: TestCertificates,
): Promise<JsonWebKey> {
  const [, , name, version] = new URL(keyRef).pathname.split('/');
  const key = await keyClientFor(vault, certs).getKey(name!, { version });
  const jwk = key.key!;
  const b64 = (bytes?: Uint8Array) => (bytes ? Buffer.from(bytes).toString('base64url') : undefined);
  return jwk.kty === 'EC'
    ? { kty: 'EC', crv: jwk.crv, x: b64(jwk.x), y: b64(jwk.y) }
    : { kty: 'RSA', n: b64(jwk.n), e: b64(jwk.e) };
}
