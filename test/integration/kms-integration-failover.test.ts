// Failover across real processes: a stream of operations through the integration layer while the
// first provider's Keyhaven process (reached through its AWS endpoint) is stopped and started again
// on the same data directory and port. Prints the figures: requests, failures, ms to open and close.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsIntegrationService, type Envelope } from '../../src/integration/index.js';
import {
  startAwsSide,
  startKeyhavenSide,
  type AwsSide,
  type KeyhavenSide,
} from './kms-integration-fixtures.js';

const RECOVERY_TIMEOUT_MS = 1_500;
// A guard against a hang, not a threshold: the test asserts states and counts.
const GUARD_MS = 60_000;

describe('KmsIntegrationService failover: the first provider’s process stops mid-stream and comes back', () => {
  let aws: AwsSide;
  let keyhaven: KeyhavenSide;
  let service: KmsIntegrationService;

  beforeAll(async () => {
    [aws, keyhaven] = await Promise.all([startAwsSide(), startKeyhavenSide()]);
    service = new KmsIntegrationService({
      providers: {
        aws: {
          provider: aws.provider,
          failureThreshold: 3,
          recoveryTimeout: RECOVERY_TIMEOUT_MS,
          timeout: 5_000,
          retries: 1,
          retryBaseDelay: 10,
        },
        keyhaven: { provider: keyhaven.provider, failureThreshold: 3, recoveryTimeout: RECOVERY_TIMEOUT_MS },
      },
      fallbackOrder: ['aws', 'keyhaven'],
    });
    await service.generateKey('stream');
  });
  afterAll(async () => {
    aws?.kms.destroy();
    await Promise.all([aws?.server.dispose(), keyhaven?.server.dispose()]);
  });

  it('keeps serving from the next provider, opens the circuit, closes it after recovery, and old envelopes open', async () => {
    const breaker = service.getProvider('aws').circuitBreaker;
    const figures = {
      requests: 0,
      failedRequests: 0,
      servedBy: { aws: 0, keyhaven: 0 } as Record<string, number>,
    };
    const envelopes: Array<{ envelope: Envelope; message: string; phase: string }> = [];
    const ciphertexts: Array<{
      result: Awaited<ReturnType<KmsIntegrationService['encrypt']>>;
      message: string;
    }> = [];

    const step = async (phase: string) => {
      const i = figures.requests;
      const message = `${phase} message ${i}`;
      figures.requests += 2;
      try {
        const encrypted = await service.encrypt('stream', message);
        figures.servedBy[encrypted.provider]!++;
        if (phase === 'before') ciphertexts.push({ result: encrypted, message });
      } catch {
        figures.failedRequests++;
      }
      try {
        const envelope = await service.envelopeEncrypt(message, 'stream');
        figures.servedBy[envelope.wrappedKeys[0]!.provider]!++;
        envelopes.push({ envelope, message, phase });
      } catch {
        figures.failedRequests++;
      }
    };

    // Phase 1: both up.
    for (let i = 0; i < 10; i++) await step('before');
    expect(breaker.getState()).toEqual({ state: 'closed', failureCount: 0 });
    expect(figures.servedBy.aws).toBe(20);

    // Phase 2: the AWS-side process is stopped (SIGTERM, then SIGKILL if it lingers).
    const stoppedAt = Date.now();
    await aws.server.stop();
    let openedAt: number | undefined;
    const servedBeforeOutage = { ...figures.servedBy };
    for (let i = 0; i < 15; i++) {
      await step('down');
      if (openedAt === undefined && breaker.getState().state === 'open') openedAt = Date.now();
    }
    expect(openedAt, 'the circuit never opened').toBeDefined();
    expect(breaker.getState().state).toBe('open');
    // Every request was served anyway, by the next provider.
    expect(figures.failedRequests).toBe(0);
    expect(figures.servedBy.keyhaven! - servedBeforeOutage.keyhaven!).toBe(30);
    expect(figures.servedBy.aws).toBe(servedBeforeOutage.aws);
    // Envelopes written while it was down carry only the healthy provider's wrapping.
    const downEnvelopes = envelopes.filter((e) => e.phase === 'down');
    expect(
      downEnvelopes.every((e) => e.envelope.wrappedKeys.map((w) => w.provider).join() === 'keyhaven'),
    ).toBe(true);
    const awsFailures = service.getAuditLog().filter((c) => c.provider === 'aws' && !c.success);
    // With the circuit open, the provider is not called: only the calls before it opened failed.
    expect(awsFailures.length).toBe(3);
    expect(awsFailures.every((c) => c.errorCode === 'Unavailable')).toBe(true);

    const health = await service.healthCheck();
    expect(health).toMatchObject({ overallStatus: 'degraded', healthyProviders: 1, totalProviders: 2 });
    expect(health.results.map((r) => [r.provider, r.healthy, r.errorCode, r.circuit.state])).toEqual([
      ['aws', false, 'Unavailable', 'open'],
      ['keyhaven', true, undefined, 'closed'],
    ]);

    const gauge = async () =>
      (await service.metricsRegistry.metrics()).match(
        /keyhaven_integration_circuit_state\{provider="aws"\} (\d)/,
      )?.[1];
    expect(await gauge()).toBe('2');

    // Past the recovery timeout, still down: the circuit turns half-open and lets exactly one probe
    // through while five requests arrive at once (its retry and the others are refused), then opens again.
    await sleep(RECOVERY_TIMEOUT_MS - (Date.now() - openedAt!) + 100);
    const callsBeforeProbe = service.getAuditLog().filter((c) => c.provider === 'aws').length;
    const burst = await Promise.all(
      Array.from({ length: 5 }, (_, i) => service.encrypt('stream', `burst ${i}`).then((r) => r.provider)),
    );
    figures.requests += burst.length;
    for (const provider of burst) figures.servedBy[provider]!++;
    expect(burst).toEqual(Array(5).fill('keyhaven'));
    const probes = service
      .getAuditLog()
      .filter((c) => c.provider === 'aws')
      .slice(callsBeforeProbe);
    expect(probes.map((c) => [c.operation, c.success, c.errorCode])).toEqual([
      ['encrypt', false, 'Unavailable'],
    ]);
    expect(breaker.getState()).toEqual({ state: 'open', failureCount: 4 });
    expect(figures.failedRequests).toBe(0);

    // Phase 3: start it again on the same data directory and port.
    const restartStartedAt = Date.now();
    await aws.server.restart();
    const restartedAt = Date.now();
    let closedAt: number | undefined;
    let stepsUntilClosed = 0;
    while (Date.now() - restartedAt < GUARD_MS) {
      await step('after');
      stepsUntilClosed++;
      if (breaker.getState().state === 'closed') {
        closedAt = Date.now();
        break;
      }
      await sleep(100);
    }
    expect(closedAt, 'the circuit never closed').toBeDefined();
    expect(breaker.getState()).toEqual({ state: 'closed', failureCount: 0 });
    expect(await gauge()).toBe('0');
    const next = await service.encrypt('stream', 'after recovery');
    expect(next.provider).toBe('aws');

    // Everything written before, during and after the outage still opens, and ciphertext the AWS
    // side made before it stopped decrypts there after the restart (same data directory).
    for (const { envelope, message } of envelopes) {
      expect((await service.envelopeDecrypt(envelope)).plaintext.toString()).toBe(message);
    }
    const downOpened = await service.envelopeDecrypt(downEnvelopes[0]!.envelope);
    expect(downOpened.provider).toBe('keyhaven');
    for (const { result, message } of ciphertexts) {
      const decrypted = await service.decrypt('stream', result);
      expect(decrypted.provider).toBe('aws');
      expect(decrypted.plaintext.toString()).toBe(message);
    }

    const log = service.getAuditLog();
    const report = {
      requests: figures.requests,
      failedRequests: figures.failedRequests,
      servedBy: figures.servedBy,
      // Calls that carried an operation (health checks apart).
      awsProviderCalls: log.filter((c) => c.provider === 'aws' && c.operation !== 'health').length,
      awsProviderFailures: log.filter((c) => c.provider === 'aws' && c.operation !== 'health' && !c.success)
        .length,
      halfOpenProbesWhileDown: 1,
      msStopToOpen: openedAt! - stoppedAt,
      msOpenToClosed: closedAt! - openedAt!,
      msRestartTook: restartedAt - restartStartedAt,
      msReadyToClosed: closedAt! - restartedAt,
      stepsAfterRestartUntilClosed: stepsUntilClosed,
      recoveryTimeoutMs: RECOVERY_TIMEOUT_MS,
      envelopesWrittenWhileDown: envelopes.filter((e) => e.phase === 'down').length,
      envelopesDecryptedAfterwards: envelopes.length,
    };
    console.log(`failover figures: ${JSON.stringify(report)}`);
  });
});
