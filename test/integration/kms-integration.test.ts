// The integration layer (src/integration) against two real Keyhaven processes: the AWS adapter
// through one's AWS endpoint (real @aws-sdk/client-kms, SigV4, HTTP), the Keyhaven adapter through
// the other's REST API with the SDK. Fallback, envelopes, cache, audit, metrics and health.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { KMSClient } from '@aws-sdk/client-kms';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyhavenClient } from '../../src/client/index.js';
import {
  AllProvidersFailedError,
  AwsKmsProvider,
  KeyhavenProvider,
  KmsIntegrationService,
  type OperationEvent,
} from '../../src/integration/index.js';
import {
  startAwsSide,
  startKeyhavenSide,
  type AwsSide,
  type KeyhavenSide,
} from './kms-integration-fixtures.js';

const SECRET = 'card 4111-1111-1111-1111, a plaintext that must never reach the audit trail';

describe('KmsIntegrationService: AWS adapter via Keyhaven’s AWS endpoint, Keyhaven adapter via the SDK', () => {
  let aws: AwsSide;
  let keyhaven: KeyhavenSide;
  let service: KmsIntegrationService;
  const events: OperationEvent[] = [];
  const registry = new Registry();

  beforeAll(async () => {
    [aws, keyhaven] = await Promise.all([startAwsSide(), startKeyhavenSide()]);
    service = new KmsIntegrationService({
      providers: {
        aws: { provider: aws.provider, retries: 1, retryBaseDelay: 5 },
        keyhaven: { provider: keyhaven.provider, retries: 1, retryBaseDelay: 5 },
      },
      fallbackOrder: ['aws', 'keyhaven'],
      envelopeCache: { ttl: 60_000, maxUses: 2 },
      metricsRegistry: registry,
    });
    service.on('operation', (event) => events.push(event));
    await service.generateKey('orders', { description: 'orders data' });
  });
  afterAll(async () => {
    aws?.kms.destroy();
    await Promise.all([aws?.server.dispose(), keyhaven?.server.dispose()]);
  });

  it('generateKey makes the key at every provider and maps the logical id to each reference', async () => {
    const mapping = service.getKeyMapping();
    expect(mapping.aws!.orders).toMatch(/^[0-9a-f-]{36}$/);
    expect(mapping.keyhaven!.orders).toMatch(/^[0-9a-f-]{36}$/);
    // Two processes, two different keys.
    expect(mapping.aws!.orders).not.toBe(mapping.keyhaven!.orders);
    const info = await service.getKeyInfo('orders');
    expect(info).toMatchObject({
      provider: 'aws',
      keyId: 'orders',
      keyRef: mapping.aws!.orders,
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      state: 'Enabled',
      description: 'orders data',
    });
    // The Keyhaven side holds its key too, under the reference the mapping records.
    expect((await keyhaven.client.getKey(mapping.keyhaven!.orders!)).description).toBe('orders data');
  });

  it('refuses to generate a key id that is already mapped', async () => {
    await expect(service.generateKey('orders')).rejects.toMatchObject({ code: 'InvalidConfiguration' });
  });

  it('encrypts at the first provider and decrypts with the provider that served', async () => {
    const encrypted = await service.encrypt('orders', SECRET);
    expect(encrypted.provider).toBe('aws');
    expect(encrypted.keyRef).toBe(service.getKeyMapping().aws!.orders);
    const decrypted = await service.decrypt('orders', encrypted);
    expect(decrypted).toMatchObject({ provider: 'aws', keyId: 'orders' });
    expect(decrypted.plaintext.toString()).toBe(SECRET);
  });

  it('decrypts bare ciphertext by trying providers in order; the wrong one answering InvalidCiphertext is not a fault', async () => {
    const keyRef = service.getKeyMapping().keyhaven!.orders!;
    const { ciphertext } = await keyhaven.client.encrypt({
      keyId: keyRef,
      plaintext: Buffer.from('from keyhaven'),
    });
    const before = service.getAuditLog().length;
    const decrypted = await service.decrypt('orders', ciphertext);
    expect(decrypted.provider).toBe('keyhaven');
    expect(decrypted.plaintext.toString()).toBe('from keyhaven');
    const calls = service.getAuditLog().slice(before);
    expect(calls.map((c) => [c.provider, c.attempt, c.success, c.errorCode])).toEqual([
      ['aws', 0, false, 'InvalidCiphertext'],
      ['keyhaven', 0, true, undefined],
    ]);
    expect(service.getProvider('aws').circuitBreaker.getState()).toEqual({
      state: 'closed',
      failureCount: 0,
    });
  });

  it('when every provider refuses, one error lists each cause, and client errors are never retried', async () => {
    const encrypted = await service.encrypt('orders', 'x');
    const tampered = Buffer.from(encrypted.ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    const before = service.getAuditLog().length;
    const error = await service.decrypt('orders', tampered).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AllProvidersFailedError);
    const failures = (error as AllProvidersFailedError).failures;
    expect(failures.map((f) => [f.provider, (f.error as { code?: string }).code])).toEqual([
      ['aws', 'InvalidCiphertext'],
      ['keyhaven', 'InvalidCiphertext'],
    ]);
    expect((error as Error).message).toMatch(/aws: InvalidCiphertext .*; keyhaven: InvalidCiphertext/);
    // One attempt each (retries: 1 configured, but InvalidCiphertext is not retryable).
    expect(
      service
        .getAuditLog()
        .slice(before)
        .map((c) => c.attempt),
    ).toEqual([0, 0]);
    for (const name of ['aws', 'keyhaven']) {
      expect(service.getProvider(name).circuitBreaker.getState().state).toBe('closed');
    }
  });

  it('a well-formed key id that exists nowhere is NotFound at each provider, tried once each, and trips no circuit', async () => {
    const missing = randomUUID();
    const before = service.getAuditLog().length;
    const error = (await service.encrypt(missing, 'x').catch((e: unknown) => e)) as AllProvidersFailedError;
    expect(error.failures.map((f) => [f.provider, (f.error as { code?: string }).code])).toEqual([
      ['aws', 'NotFound'],
      ['keyhaven', 'NotFound'],
    ]);
    expect(
      service
        .getAuditLog()
        .slice(before)
        .map((c) => [c.provider, c.keyRef, c.attempt]),
    ).toEqual([
      ['aws', missing, 0],
      ['keyhaven', missing, 0],
    ]);
    expect(service.getProvider('aws').circuitBreaker.getState().failureCount).toBe(0);
  });

  it('an envelope carries the data key wrapped by every provider, and either one opens it', async () => {
    const envelope = await service.envelopeEncrypt(SECRET, 'orders');
    expect(envelope.wrappedKeys.map((w) => w.provider)).toEqual(['aws', 'keyhaven']);
    expect(envelope.ciphertext).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 16));
    const json = JSON.stringify(envelope);
    service.clearEnvelopeCache();
    const opened = await service.envelopeDecrypt(json);
    expect(opened).toMatchObject({ provider: 'aws', cached: false });
    expect(opened.plaintext.toString()).toBe(SECRET);

    // A service that knows only the Keyhaven provider opens the same envelope with its wrapping.
    const keyhavenOnly = new KmsIntegrationService({
      providers: { keyhaven: { provider: keyhaven.provider, keys: service.getKeyMapping().keyhaven } },
    });
    const viaKeyhaven = await keyhavenOnly.envelopeDecrypt(json);
    expect(viaKeyhaven.provider).toBe('keyhaven');
    expect(viaKeyhaven.plaintext.toString()).toBe(SECRET);
  });

  it('a fresh data key per message: two envelopes of the same data share no wrapped key or ciphertext', async () => {
    const [a, b] = [
      await service.envelopeEncrypt('same', 'orders'),
      await service.envelopeEncrypt('same', 'orders'),
    ];
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.wrappedKeys[0]!.ciphertext).not.toBe(b.wrappedKeys[0]!.ciphertext);
  });

  it('a tampered envelope payload does not open, and its header is authenticated', async () => {
    const envelope = await service.envelopeEncrypt(SECRET, 'orders');
    const tag = Buffer.from(envelope.tag, 'base64');
    tag[0]! ^= 1;
    await expect(
      service.envelopeDecrypt({ ...envelope, tag: tag.toString('base64') }),
    ).rejects.toBeInstanceOf(AllProvidersFailedError);
    await expect(service.envelopeDecrypt({ ...envelope, kekId: 'other' })).rejects.toBeInstanceOf(
      AllProvidersFailedError,
    );
    await expect(service.envelopeDecrypt('{"version":1}')).rejects.toMatchObject({ code: 'InvalidEnvelope' });
  });

  it('the data-key cache serves repeat decryptions without a provider call, up to its use limit', async () => {
    const envelope = await service.envelopeEncrypt(SECRET, 'orders');
    service.clearEnvelopeCache();
    const calls = () => service.getAuditLog().filter((c) => c.operation === 'unwrapDataKey').length;
    const before = calls();
    const first = await service.envelopeDecrypt(envelope);
    const second = await service.envelopeDecrypt(envelope);
    const third = await service.envelopeDecrypt(envelope);
    const fourth = await service.envelopeDecrypt(envelope);
    expect([first, second, third, fourth].map((r) => r.cached)).toEqual([false, true, true, false]);
    expect([first, second, third, fourth].every((r) => r.plaintext.toString() === SECRET)).toBe(true);
    // maxUses 2: the first unwrap, two cached uses, then a provider call again.
    expect(calls() - before).toBe(2);
    service.clearEnvelopeCache();
    expect((await service.envelopeDecrypt(envelope)).cached).toBe(false);
  });

  it('the audit trail records every provider call and never plaintext, ciphertext or key material', async () => {
    const log = service.getAuditLog();
    expect(log.length).toBeGreaterThan(10);
    expect(service.getAuditLog(3)).toEqual(log.slice(-3));
    const text = JSON.stringify(log);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 12));
    for (const entry of log) {
      expect(Object.keys(entry).sort()).toEqual(
        expect.arrayContaining(['at', 'attempt', 'durationMs', 'operation', 'provider', 'success']),
      );
      expect(
        Object.keys(entry).every((k) =>
          [
            'at',
            'attempt',
            'durationMs',
            'operation',
            'provider',
            'success',
            'keyId',
            'keyRef',
            'errorCode',
          ].includes(k),
        ),
      ).toBe(true);
    }
  });

  it('emits an operation event per call with the provider that served', () => {
    const encrypts = events.filter((e) => e.operation === 'encrypt');
    expect(encrypts.length).toBeGreaterThan(0);
    expect(encrypts[0]).toMatchObject({
      operation: 'encrypt',
      provider: 'aws',
      keyId: 'orders',
      success: true,
    });
    expect(typeof encrypts[0]!.duration).toBe('number');
    const failed = events.find((e) => e.operation === 'decrypt' && !e.success);
    expect(failed).toMatchObject({ provider: null, errorCode: 'InvalidCiphertext' });
  });

  it('exposes Prometheus metrics per provider: calls, failures, latency and circuit state', async () => {
    expect(service.metricsRegistry).toBe(registry);
    const text = await registry.metrics();
    expect(text).toMatch(
      /keyhaven_integration_provider_calls_total\{provider="aws",operation="encrypt"\} [1-9]/,
    );
    expect(text).toMatch(
      /keyhaven_integration_provider_failures_total\{provider="aws",operation="decrypt",code="InvalidCiphertext"\} [1-9]/,
    );
    expect(text).toMatch(
      /keyhaven_integration_provider_call_duration_seconds_count\{provider="keyhaven",operation="wrapDataKey"\} [1-9]/,
    );
    expect(text).toContain('keyhaven_integration_circuit_state{provider="aws"} 0');
  });

  it('healthCheck asks every provider', async () => {
    const report = await service.healthCheck();
    expect(report).toMatchObject({ overallStatus: 'healthy', healthyProviders: 2, totalProviders: 2 });
    expect(report.results.map((r) => [r.provider, r.kind, r.healthy, r.circuit.state])).toEqual([
      ['aws', 'aws-kms', true, 'closed'],
      ['keyhaven', 'keyhaven', true, 'closed'],
    ]);
  });

  it('signs at one provider and verifies there; a changed message is invalid, not an error', async () => {
    const signer = new KmsIntegrationService({ providers: { aws: { provider: aws.provider } } });
    const { keys } = await signer.generateKey('signer', {
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
    });
    expect(keys.aws!.keySpec).toBe('ECC_NIST_P256');
    const signed = await signer.sign('signer', 'message', 'ECDSA_SHA_256');
    expect(signed.provider).toBe('aws');
    expect((await signer.verify('signer', 'message', signed.signature, 'ECDSA_SHA_256')).valid).toBe(true);
    expect((await signer.verify('signer', 'massage', signed.signature, 'ECDSA_SHA_256')).valid).toBe(false);
  });

  it('AccessDenied (a wrong token) is neither retried nor counted against the circuit', async () => {
    const denied = new KmsIntegrationService({
      providers: {
        keyhaven: {
          provider: new KeyhavenProvider(
            new KeyhavenClient({ endpoint: keyhaven.server.url, token: 'khk_wrong_0000000000' }),
          ),
          retries: 3,
          failureThreshold: 1,
        },
      },
    });
    const error = (await denied.encrypt('orders', 'x').catch((e: unknown) => e)) as AllProvidersFailedError;
    expect(error.failures.map((f) => (f.error as { code?: string }).code)).toEqual(['AccessDenied']);
    expect(denied.getAuditLog().map((c) => c.attempt)).toEqual([0]);
    expect(denied.getProvider('keyhaven').circuitBreaker.getState()).toEqual({
      state: 'closed',
      failureCount: 0,
    });
  });
});

describe('KmsIntegrationService: per-call timeout against a real socket that never answers', () => {
  let blackhole: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    blackhole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => blackhole.close(() => resolve()));
  });

  it('times out each attempt, retries it, and opens the circuit at the threshold', async () => {
    const address = blackhole.address() as { port: number };
    const kms = new KMSClient({
      endpoint: `http://127.0.0.1:${address.port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const service = new KmsIntegrationService({
      providers: {
        silent: {
          provider: new AwsKmsProvider(kms),
          timeout: 200,
          retries: 2,
          retryBaseDelay: 1,
          failureThreshold: 3,
        },
      },
    });
    const error = (await service.encrypt('k', 'x').catch((e: unknown) => e)) as AllProvidersFailedError;
    expect(error).toBeInstanceOf(AllProvidersFailedError);
    expect(service.getAuditLog().map((c) => [c.attempt, c.errorCode])).toEqual([
      [0, 'Timeout'],
      [1, 'Timeout'],
      [2, 'Timeout'],
    ]);
    expect(service.getProvider('silent').circuitBreaker.getState()).toEqual({
      state: 'open',
      failureCount: 3,
    });
    // With the circuit open the provider is not called at all.
    const refused = (await service.encrypt('k', 'x').catch((e: unknown) => e)) as AllProvidersFailedError;
    expect(refused.failures.map((f) => (f.error as { code?: string }).code)).toEqual(['CircuitOpen']);
    expect(service.getAuditLog()).toHaveLength(3);
    kms.destroy();
  });
});
