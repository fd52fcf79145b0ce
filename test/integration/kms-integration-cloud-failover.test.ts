// Failover across the cloud adapters: KmsIntegrationService over an Azure Key Vault stand-in, a
// Google Cloud KMS stand-in (local HTTPS servers speaking their REST wire formats: neither cloud can
// be reached from here) and a real Keyhaven process. The stand-ins are stopped mid-stream, one after
// the other; envelopes written at every stage still open, and the first comes back.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AzureKeyVaultProvider,
  GoogleCloudKmsProvider,
  KmsIntegrationService,
  type Envelope,
} from '../../src/integration/index.js';
import { FakeAzureKeyVault } from '../helpers/fake-azure-key-vault.js';
import { FakeGoogleCloudKms } from '../helpers/fake-google-cloud-kms.js';
import { googleKmsClientFor } from '../helpers/google-kms-client.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';
import { startKeyhavenSide, type KeyhavenSide } from './kms-integration-fixtures.js';

const TOKEN = 'fixed-token-for-the-stand-ins';
const KEY_RING = 'projects/keyhaven-test/locations/global/keyRings/failover';
const RECOVERY_TIMEOUT_MS = 1_000;
// A guard against a hang, not a threshold: the test asserts states and counts.
const GUARD_MS = 30_000;

const credential: TokenCredential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

describe('KmsIntegrationService failover: Azure Key Vault and Google Cloud KMS local HTTPS stand-ins, then a real Keyhaven process', () => {
  let certs: TestCertificates;
  let vault: FakeAzureKeyVault;
  let kms: FakeGoogleCloudKms;
  let keyhaven: KeyhavenSide;
  let service: KmsIntegrationService;

  beforeAll(async () => {
    certs = createTestCertificates();
    const tls = { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) };
    vault = new FakeAzureKeyVault(tls, TOKEN);
    kms = new FakeGoogleCloudKms(tls, TOKEN);
    kms.addKeyRing(KEY_RING);
    [keyhaven] = await Promise.all([startKeyhavenSide(), vault.start(), kms.start()]);
    const keyClient = new KeyClient(vault.url, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: certs.read(certs.caCert) },
      retryOptions: { maxRetries: 0 },
    });
    const breaker = {
      failureThreshold: 2,
      recoveryTimeout: RECOVERY_TIMEOUT_MS,
      retries: 1,
      retryBaseDelay: 5,
    };
    service = new KmsIntegrationService({
      providers: {
        azure: { provider: new AzureKeyVaultProvider({ keyClient }), ...breaker },
        gcp: {
          provider: new GoogleCloudKmsProvider({
            client: googleKmsClientFor(kms.port, certs.read(certs.caCert), TOKEN),
            keyRing: KEY_RING,
          }),
          ...breaker,
        },
        keyhaven: { provider: keyhaven.provider, ...breaker },
      },
      fallbackOrder: ['azure', 'gcp', 'keyhaven'],
    });
    const created = await service.generateKey('stream');
    expect(created.failures).toEqual([]);
  });
  afterAll(async () => {
    await Promise.all([vault?.stop(), kms?.stop(), keyhaven?.server.dispose()]);
    certs?.dispose();
  });

  it('serves from the next provider as each stand-in stops, and every envelope still opens', async () => {
    const envelopes: Array<{ envelope: Envelope; message: string; phase: string }> = [];
    const ciphertexts: Array<{
      result: Awaited<ReturnType<KmsIntegrationService['encrypt']>>;
      message: string;
    }> = [];
    const servedBy: Record<string, number> = { azure: 0, gcp: 0, keyhaven: 0 };
    let failed = 0;
    const step = async (phase: string, i: number) => {
      const message = `${phase} message ${i}`;
      try {
        const encrypted = await service.encrypt('stream', message);
        servedBy[encrypted.provider]!++;
        ciphertexts.push({ result: encrypted, message });
        envelopes.push({ envelope: await service.envelopeEncrypt(message, 'stream'), message, phase });
      } catch {
        failed++;
      }
    };
    const wrappers = (phase: string) => [
      ...new Set(
        envelopes
          .filter((e) => e.phase === phase)
          .map((e) => e.envelope.wrappedKeys.map((w) => w.provider).join()),
      ),
    ];

    for (let i = 0; i < 5; i++) await step('all-up', i);
    expect(servedBy).toEqual({ azure: 5, gcp: 0, keyhaven: 0 });
    expect(wrappers('all-up')).toEqual(['azure,gcp,keyhaven']);

    await vault.stop();
    for (let i = 0; i < 6; i++) await step('azure-down', i);
    expect(service.getProvider('azure').circuitBreaker.getState().state).toBe('open');
    expect(servedBy).toEqual({ azure: 5, gcp: 6, keyhaven: 0 });
    expect(wrappers('azure-down')).toEqual(['gcp,keyhaven']);

    await kms.stop();
    for (let i = 0; i < 6; i++) await step('both-down', i);
    expect(service.getProvider('gcp').circuitBreaker.getState().state).toBe('open');
    expect(servedBy).toEqual({ azure: 5, gcp: 6, keyhaven: 6 });
    expect(wrappers('both-down')).toEqual(['keyhaven']);
    expect(failed).toBe(0);
    const cloudFailures = service
      .getAuditLog()
      .filter((e) => e.provider !== 'keyhaven' && !e.success)
      .map((e) => e.errorCode);
    expect(new Set(cloudFailures)).toEqual(new Set(['Unavailable']));

    // With both clouds down, every envelope, whoever else wrapped it, opens at Keyhaven.
    for (const { envelope, message } of envelopes) {
      const opened = await service.envelopeDecrypt(envelope);
      expect(opened.plaintext.toString()).toBe(message);
      expect(opened.provider).toBe('keyhaven');
    }
    const health = await service.healthCheck();
    expect(health).toMatchObject({ overallStatus: 'degraded', healthyProviders: 1, totalProviders: 3 });

    // The Azure stand-in comes back on its port with its keys; after the recovery timeout the
    // circuit's probe succeeds and Azure serves again, and what it wrapped before opens there.
    await vault.start(vault.port);
    const restartedAt = Date.now();
    while (service.getProvider('azure').circuitBreaker.getState().state !== 'closed') {
      if (Date.now() - restartedAt > GUARD_MS) throw new Error('the Azure circuit never closed');
      await sleep(RECOVERY_TIMEOUT_MS / 4);
      await step('azure-back', 0);
    }
    const msRestartToClosed = Date.now() - restartedAt;
    expect((await service.encrypt('stream', 'after recovery')).provider).toBe('azure');
    const first = envelopes.find((e) => e.phase === 'all-up')!;
    expect(await service.envelopeDecrypt(first.envelope)).toMatchObject({ provider: 'azure' });
    for (const { result, message } of ciphertexts.filter((c) => c.result.provider === 'azure')) {
      expect((await service.decrypt('stream', result)).plaintext.toString()).toBe(message);
    }
    // Ciphertext the Google stand-in made opens only there: while it is down, decrypt says so.
    const googleMade = ciphertexts.find((c) => c.result.provider === 'gcp')!;
    await expect(service.decrypt('stream', googleMade.result)).rejects.toMatchObject({
      code: 'AllProvidersFailed',
    });
    await kms.start(kms.port);
    await sleep(RECOVERY_TIMEOUT_MS + 100);
    expect((await service.decrypt('stream', googleMade.result)).plaintext.toString()).toBe(
      googleMade.message,
    );

    const log = service.getAuditLog();
    const failuresOf = (provider: string) =>
      log.filter((e) => e.provider === provider && !e.success && e.operation !== 'health').length;
    const figures = {
      servedBy,
      failedRequests: failed,
      envelopes: envelopes.length,
      providerFailures: { azure: failuresOf('azure'), gcp: failuresOf('gcp') },
      msRestartToClosed,
      recoveryTimeoutMs: RECOVERY_TIMEOUT_MS,
    };
    console.log(`cloud failover figures: ${JSON.stringify(figures)}`);
  });
});
