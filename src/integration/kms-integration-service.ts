// KmsIntegrationService: one interface over several KMS providers, with an ordered fallback list,
// a circuit breaker, per-call timeout and retries per provider, envelope encryption whose data key
// every provider wraps, an audit trail, Prometheus metrics and an `operation` event.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { AuditLog, type AuditEntry } from './audit-log.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import { DataKeyCache } from './data-key-cache.js';
import {
  dataKeyIdOf,
  ENVELOPE_ALGORITHM,
  ENVELOPE_VERSION,
  openPayload,
  parseEnvelope,
  sealPayload,
  type Envelope,
  type WrappedDataKey,
} from './envelope.js';
import {
  AllProvidersFailedError,
  CircuitOpenError,
  codeOf,
  IntegrationConfigError,
  InvalidEnvelopeError,
  ProviderError,
  type ProviderFailure,
} from './errors.js';
import { KeyMapping, type KeyReferences } from './key-mapping.js';
import { IntegrationMetrics } from './metrics.js';
import type { Bytes, CallContext, GenerateKeyOptions, KmsProvider, ProviderKeyInfo } from './provider.js';
import { withRetries } from './retry-policy.js';
import { withTimeout } from './timeout.js';

export interface ProviderConfig {
  provider: KmsProvider;
  /** Logical key id -> this provider's key reference; an unmapped id is sent as-is. */
  keys?: KeyReferences;
  /** Consecutive provider faults that open the circuit (default 5). */
  failureThreshold?: number;
  /** Milliseconds an open circuit waits before its one half-open probe (default 30 000). */
  recoveryTimeout?: number;
  /** Per-attempt deadline in milliseconds (default 10 000). */
  timeout?: number;
  /** Retries after the first attempt, for retryable errors only (default 2). */
  retries?: number;
  /** Backoff base and cap in milliseconds (defaults 50 and 2 000); the delay is jittered in [0, ceiling). */
  retryBaseDelay?: number;
  retryMaxDelay?: number;
}

export interface EnvelopeCacheOptions {
  /** Milliseconds an unwrapped data key stays cached. */
  ttl: number;
  /** Decryptions one cached data key serves before it is evicted. */
  maxUses: number;
  maxEntries?: number;
}

export interface KmsIntegrationOptions {
  providers: Record<string, ProviderConfig>;
  /** Provider names, first tried first; every configured provider when absent, in declaration order. */
  fallbackOrder?: string[];
  /** Cache unwrapped envelope data keys (off when absent). */
  envelopeCache?: EnvelopeCacheOptions;
  /** prom-client registry for the metrics; a fresh one (service.metricsRegistry) when absent. */
  metricsRegistry?: Registry;
  /** Audit entries kept in memory (default 10 000). */
  auditLogSize?: number;
  /** Clock for circuit breakers and the cache (Date.now). */
  now?: () => number;
}

export interface RegisteredProvider {
  name: string;
  kind: string;
  provider: KmsProvider;
  circuitBreaker: CircuitBreaker;
}

export interface OperationEvent {
  operation: string;
  /** The provider that served, or null when none did. */
  provider: string | null;
  keyId: string;
  duration: number;
  success: boolean;
  errorCode?: string;
}

export interface ProviderHealth {
  provider: string;
  kind: string;
  healthy: boolean;
  latencyMs: number;
  circuit: { state: CircuitState; failureCount: number };
  errorCode?: string;
}

export interface HealthReport {
  overallStatus: 'healthy' | 'degraded' | 'unhealthy';
  healthyProviders: number;
  totalProviders: number;
  results: ProviderHealth[];
}

/** A data key wrapped by one provider under one of its keys. */
export interface WrappedKey {
  provider: string;
  keyRef: string;
  ciphertext: Buffer;
}

/** Bare ciphertext, or encrypt's result (its provider, and the key reference it used when present). */
export type CiphertextInput = Bytes | { ciphertext: Bytes; provider: string; keyRef?: string };

interface ResolvedProvider extends RegisteredProvider {
  timeoutMs: number;
  retries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

const toBytes = (data: Bytes | string): Bytes =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : data;

export class KmsIntegrationService extends EventEmitter<{ operation: [OperationEvent] }> {
  readonly metricsRegistry: Registry;
  private readonly registered = new Map<string, ResolvedProvider>();
  private readonly order: string[];
  private readonly mapping: KeyMapping;
  private readonly metrics: IntegrationMetrics;
  private readonly audit: AuditLog;
  private readonly cache: DataKeyCache | undefined;

  constructor(options: KmsIntegrationOptions) {
    super();
    const names = Object.keys(options.providers);
    if (names.length === 0) throw new IntegrationConfigError('at least one provider is required');
    this.order = options.fallbackOrder ?? names;
    for (const name of this.order) {
      if (!options.providers[name])
        throw new IntegrationConfigError(`fallbackOrder names ${name}, which is not configured`);
    }
    if (new Set(this.order).size !== this.order.length) {
      throw new IntegrationConfigError('fallbackOrder names a provider twice');
    }
    this.metrics = new IntegrationMetrics(options.metricsRegistry);
    this.metricsRegistry = this.metrics.registry;
    this.audit = new AuditLog(options.auditLogSize ?? 10_000);
    this.mapping = new KeyMapping(
      Object.fromEntries(names.map((name) => [name, options.providers[name]!.keys])),
    );
    for (const name of this.order) {
      const config = options.providers[name]!;
      const circuitBreaker = new CircuitBreaker({
        failureThreshold: positive(config.failureThreshold ?? 5, 'failureThreshold', name),
        recoveryTimeoutMs: nonNegative(config.recoveryTimeout ?? 30_000, 'recoveryTimeout', name),
        now: options.now,
        onStateChange: (state) => this.metrics.recordCircuitState(name, state),
      });
      this.metrics.recordCircuitState(name, 'closed');
      this.registered.set(name, {
        name,
        kind: config.provider.kind,
        provider: config.provider,
        circuitBreaker,
        timeoutMs: positive(config.timeout ?? 10_000, 'timeout', name),
        retries: nonNegative(config.retries ?? 2, 'retries', name),
        retryBaseDelayMs: nonNegative(config.retryBaseDelay ?? 50, 'retryBaseDelay', name),
        retryMaxDelayMs: nonNegative(config.retryMaxDelay ?? 2_000, 'retryMaxDelay', name),
      });
    }
    if (options.envelopeCache) {
      this.cache = new DataKeyCache({
        ttlMs: options.envelopeCache.ttl,
        maxUses: options.envelopeCache.maxUses,
        maxEntries: options.envelopeCache.maxEntries,
        now: options.now,
      });
    }
  }

  getProvider(name: string): RegisteredProvider {
    const found = this.registered.get(name);
    if (!found) throw new IntegrationConfigError(`no provider named ${name}`);
    const { provider, kind, circuitBreaker } = found;
    return { name, kind, provider, circuitBreaker };
  }

  /** The logical-id to key-reference mapping per provider, including keys generateKey made. */
  getKeyMapping(): Record<string, Record<string, string>> {
    return this.mapping.snapshot();
  }

  getAuditLog(count?: number): AuditEntry[] {
    return this.audit.latest(count);
  }

  clearEnvelopeCache(): void {
    this.cache?.clear();
  }

  // ---- Operations with fallback ------------------------------------------------------------------

  async encrypt(keyId: string, data: Bytes | string) {
    const plaintext = toBytes(data);
    return this.operation('encrypt', keyId, this.order, async (name, keyRef, context) => {
      const { ciphertext } = await this.provider(name).encrypt(keyRef, plaintext, context);
      return { ciphertext, keyId, keyRef };
    });
  }

  /**
   * Decrypts what encrypt returned. Given encrypt's result (or `{ciphertext, provider}`), only that
   * provider can open it; given bare bytes, providers are tried in fallback order.
   */
  async decrypt(keyId: string, input: CiphertextInput) {
    const tagged = !(input instanceof Uint8Array);
    const ciphertext = tagged ? input.ciphertext : input;
    const candidates = tagged ? [this.getProvider(input.provider).name] : this.order;
    // The reference encrypt used, so that a mapping changed since does not strand the ciphertext.
    const usedRef = tagged ? input.keyRef : undefined;
    return this.operation('decrypt', keyId, candidates, async (name, keyRef, context) => {
      const { plaintext } = await this.provider(name).decrypt(usedRef ?? keyRef, ciphertext, context);
      return { plaintext, keyId };
    });
  }

  async sign(keyId: string, message: Bytes | string, algorithm: string) {
    const bytes = toBytes(message);
    return this.operation('sign', keyId, this.order, async (name, keyRef, context) => ({
      ...(await this.provider(name).sign(keyRef, bytes, algorithm, context)),
      keyId,
    }));
  }

  /** Verifies at the first provider that answers; a signature made by another provider's key is invalid there. */
  async verify(
    keyId: string,
    message: Bytes | string,
    signature: Bytes,
    algorithm: string,
    provider?: string,
  ) {
    const bytes = toBytes(message);
    const candidates = provider ? [this.getProvider(provider).name] : this.order;
    return this.operation('verify', keyId, candidates, async (name, keyRef, context) => ({
      ...(await this.provider(name).verify(keyRef, bytes, signature, algorithm, context)),
      keyId,
    }));
  }

  async getKeyInfo(keyId: string): Promise<ProviderKeyInfo & { keyId: string; provider: string }> {
    return this.operation('keyInfo', keyId, this.order, async (name, keyRef, context) => ({
      ...(await this.provider(name).keyInfo(keyRef, context)),
      keyId,
    }));
  }

  /**
   * Creates the key at every configured provider (so that fallback has a key to fall back to) and
   * maps `keyId` to each new key reference. Not retried: a lost answer could leave a second key.
   * Providers that fail are listed in `failures`; when all fail, AllProvidersFailedError.
   */
  async generateKey(keyId: string, options: GenerateKeyOptions = {}) {
    const mapped = this.order.filter((name) => this.mapping.resolve(name, keyId) !== keyId);
    if (mapped.length > 0) {
      throw new IntegrationConfigError(`key ${keyId} is already mapped at ${mapped.join(', ')}`);
    }
    const description = options.description ?? `keyhaven-integration key ${keyId}`;
    const { keys, failures } = await this.createKeys(keyId, { ...options, description });
    for (const [name, info] of Object.entries(keys)) this.mapping.set(name, keyId, info.keyRef);
    return { keyId, keys, failures };
  }

  /**
   * Creates a key at every configured provider, without mapping it (generateKey maps it; Keyhaven's
   * EXTERNAL keys record the references themselves). `label` names the call in the audit trail.
   * Not retried: a lost answer could leave a second key. When all fail, AllProvidersFailedError.
   */
  async createKeys(
    label: string,
    options: GenerateKeyOptions,
  ): Promise<{ keys: Record<string, ProviderKeyInfo>; failures: ProviderFailure[] }> {
    const started = performance.now();
    const outcomes = await Promise.all(
      this.order.map(async (name) => {
        try {
          const info = await this.callProvider(
            name,
            'generateKey',
            label,
            undefined,
            { retries: 0 },
            (context) => this.provider(name).generateKey(options, context),
          );
          return { name, info };
        } catch (error) {
          return { name, error: error as Error };
        }
      }),
    );
    const keys: Record<string, ProviderKeyInfo> = {};
    const failures: ProviderFailure[] = [];
    for (const outcome of outcomes) {
      if (outcome.info) keys[outcome.name] = outcome.info;
      else failures.push({ provider: outcome.name, error: outcome.error! });
    }
    const served = Object.keys(keys);
    this.emitOperation('generateKey', served[0] ?? null, label, started, served.length > 0, failures);
    if (served.length === 0) throw new AllProvidersFailedError('generateKey', failures);
    return { keys, failures };
  }

  // ---- Envelope encryption -----------------------------------------------------------------------

  /**
   * Encrypts `data` under a fresh 256-bit data key (AES-256-GCM, here), and wraps the data key with
   * `kekId` at every configured provider that answers, so that any of them can open it later. A
   * provider that fails to wrap (down, circuit open, or refusing) is left out of the envelope, its
   * failure in the audit trail and metrics; when none wraps, AllProvidersFailedError.
   */
  async envelopeEncrypt(data: Bytes | string, kekId: string): Promise<Envelope> {
    const started = performance.now();
    const dataKey = randomBytes(32);
    try {
      const sealed = sealPayload(dataKey, kekId, toBytes(data));
      const references = this.order.map((provider) => ({
        provider,
        keyRef: this.mapping.resolve(provider, kekId),
      }));
      const { wrapped, failures } = await this.wrapEverywhere(kekId, dataKey, references);
      const success = wrapped.length > 0;
      this.emitOperation('envelopeEncrypt', wrapped[0]?.provider ?? null, kekId, started, success);
      if (!success) throw new AllProvidersFailedError('envelopeEncrypt', failures);
      const wrappedKeys: WrappedDataKey[] = wrapped.map((w) => ({
        provider: w.provider,
        keyRef: w.keyRef,
        ciphertext: w.ciphertext.toString('base64'),
      }));
      return { version: ENVELOPE_VERSION, algorithm: ENVELOPE_ALGORITHM, kekId, ...sealed, wrappedKeys };
    } finally {
      dataKey.fill(0);
    }
  }

  /** Opens an envelope (object or its JSON) with the first configured provider, in fallback order, that unwraps its data key. */
  async envelopeDecrypt(
    input: Envelope | string,
  ): Promise<{ plaintext: Buffer; provider: string; cached: boolean }> {
    const started = performance.now();
    const envelope = parseEnvelope(input);
    const cacheId = this.cache ? dataKeyIdOf(envelope) : '';
    const hit = this.cache?.use(cacheId, (key) => openPayload(key, envelope));
    if (hit) {
      this.emitOperation('envelopeDecrypt', hit.provider, envelope.kekId, started, true);
      return { plaintext: hit.result, provider: hit.provider, cached: true };
    }
    if (!envelope.wrappedKeys.some((w) => this.registered.has(w.provider))) {
      throw new InvalidEnvelopeError('no provider that wrapped this envelope is configured');
    }
    try {
      const opened = await this.unwrapDataKey(
        envelope.kekId,
        envelope.wrappedKeys.map((w) => ({ ...w, ciphertext: Buffer.from(w.ciphertext, 'base64') })),
        (dataKey, provider) => {
          const plaintext = openPayload(dataKey, envelope);
          this.cache?.put(cacheId, dataKey, provider);
          return plaintext;
        },
      );
      this.emitOperation('envelopeDecrypt', opened.provider, envelope.kekId, started, true);
      return { plaintext: opened.result, provider: opened.provider, cached: false };
    } catch (error) {
      const failures = error instanceof AllProvidersFailedError ? [...error.failures] : [];
      this.emitOperation('envelopeDecrypt', null, envelope.kekId, started, false, failures);
      throw error;
    }
  }

  /**
   * Wraps `dataKey` at each of `references`' providers at once (each under its key reference). A
   * provider that fails (down, circuit open, or refusing) is left out, with its failure listed; the
   * caller decides whether what was wrapped is enough. With `graceMs`, the answer comes at most
   * that long after the first provider wrapped: one that is slower (hung until its timeout, say) is
   * left out as `Timeout`, so it does not hold every caller up. Each call gets its own copy of the
   * data key, zeroized when that call ends, so the caller may zeroize `dataKey` on return.
   */
  async wrapEverywhere(
    kekId: string,
    dataKey: Bytes,
    references: readonly { provider: string; keyRef: string }[],
    options: { graceMs?: number } = {},
  ): Promise<{ wrapped: WrappedKey[]; failures: ProviderFailure[] }> {
    const outcomes: ({ wrapped: WrappedKey } | { failure: ProviderFailure } | undefined)[] = references.map(
      () => undefined,
    );
    let endGrace: (() => void) | undefined;
    const graceOver = new Promise<void>((resolve) => (endGrace = resolve));
    let graceTimer: NodeJS.Timeout | undefined;
    const calls = references.map(async ({ provider, keyRef }, index) => {
      const copy = Buffer.from(dataKey);
      try {
        if (!this.registered.has(provider)) {
          throw new IntegrationConfigError(`no provider named ${provider}`);
        }
        const { ciphertext } = await this.callProvider(
          provider,
          'wrapDataKey',
          kekId,
          keyRef,
          {},
          (context) => this.provider(provider).encrypt(keyRef, copy, context),
        );
        outcomes[index] = { wrapped: { provider, keyRef, ciphertext } };
        if (options.graceMs !== undefined && graceTimer === undefined) {
          graceTimer = setTimeout(() => endGrace!(), options.graceMs);
        }
      } catch (error) {
        outcomes[index] = { failure: { provider, error: error as Error } };
      } finally {
        copy.fill(0);
      }
    });
    await Promise.race([Promise.all(calls), graceOver]);
    clearTimeout(graceTimer);
    const wrapped: WrappedKey[] = [];
    const failures: ProviderFailure[] = [];
    references.forEach(({ provider }, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) {
        failures.push({
          provider,
          error: new ProviderError(
            'Timeout',
            `${provider} did not wrap within ${options.graceMs} ms of the first`,
          ),
        });
      } else if ('wrapped' in outcome) {
        wrapped.push(outcome.wrapped);
      } else {
        failures.push(outcome.failure);
      }
    });
    return { wrapped, failures };
  }

  /**
   * Unwraps a data key with the first provider, in fallback order, among those that wrapped it, and
   * hands it to `use` (which may throw to try the next one: a key that does not open what it should).
   * The data key is zeroized when `use` returns. Wrappings by unconfigured providers are skipped.
   */
  async unwrapDataKey<T>(
    kekId: string,
    wrappings: readonly WrappedKey[],
    use: (dataKey: Buffer, provider: string) => T,
  ): Promise<{ result: T; provider: string }> {
    const ordered = this.order.flatMap((name) => wrappings.filter((w) => w.provider === name));
    const failures: ProviderFailure[] = [];
    for (const wrapped of ordered) {
      let dataKey: Buffer;
      try {
        ({ plaintext: dataKey } = await this.callProvider(
          wrapped.provider,
          'unwrapDataKey',
          kekId,
          wrapped.keyRef,
          {},
          (context) => this.provider(wrapped.provider).decrypt(wrapped.keyRef, wrapped.ciphertext, context),
        ));
      } catch (error) {
        failures.push({ provider: wrapped.provider, error: error as Error });
        continue;
      }
      try {
        return { result: use(dataKey, wrapped.provider), provider: wrapped.provider };
      } catch (error) {
        failures.push({ provider: wrapped.provider, error: error as Error });
      } finally {
        dataKey.fill(0);
      }
    }
    throw new AllProvidersFailedError('unwrapDataKey', failures);
  }

  // ---- Health --------------------------------------------------------------------------------------

  /**
   * Asks every provider at once. Circuit breakers are left as they are, unless `probeOpenCircuits`:
   * then a provider whose circuit is not closed is asked through it, as its half-open probe once the
   * recovery timeout has passed (an answer closes the circuit, a fault opens it again), so that a
   * provider no traffic reaches still recovers (Keyhaven's readiness probe uses it).
   */
  async healthCheck(options: { probeOpenCircuits?: boolean } = {}): Promise<HealthReport> {
    const results = await Promise.all(
      this.order.map(async (name): Promise<ProviderHealth> => {
        const registered = this.registered.get(name)!;
        const started = performance.now();
        let errorCode: string | undefined;
        const throughCircuit =
          options.probeOpenCircuits === true && registered.circuitBreaker.getState().state !== 'closed';
        try {
          if (throughCircuit) {
            await this.callProvider(name, 'health', '', undefined, { retries: 0 }, (context) =>
              registered.provider.health(context),
            );
          } else {
            await withTimeout(`${name} health`, registered.timeoutMs, (context) =>
              registered.provider.health(context),
            );
          }
        } catch (error) {
          errorCode = codeOf(error as Error);
        }
        const latencyMs = performance.now() - started;
        if (!throughCircuit) this.record(name, 'health', undefined, undefined, 0, latencyMs, errorCode);
        return {
          provider: name,
          kind: registered.kind,
          healthy: errorCode === undefined,
          latencyMs,
          circuit: registered.circuitBreaker.getState(),
          ...(errorCode === undefined ? {} : { errorCode }),
        };
      }),
    );
    const healthyProviders = results.filter((r) => r.healthy).length;
    const overallStatus =
      healthyProviders === results.length ? 'healthy' : healthyProviders === 0 ? 'unhealthy' : 'degraded';
    return { overallStatus, healthyProviders, totalProviders: results.length, results };
  }

  /** Closes every provider's client (each that has a close); the service is not used afterwards. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.registered.values()].map(async (r) => r.provider.close?.()));
  }

  // ---- plumbing --------------------------------------------------------------------------------------

  private provider(name: string): KmsProvider {
    return this.registered.get(name)!.provider;
  }

  /** Tries `candidates` in order; the first to answer serves. Every failure is kept for the final error. */
  private async operation<T>(
    operation: string,
    keyId: string,
    candidates: string[],
    work: (name: string, keyRef: string, context: CallContext) => Promise<T>,
  ): Promise<T & { provider: string }> {
    const started = performance.now();
    const failures: ProviderFailure[] = [];
    for (const name of candidates) {
      const keyRef = this.mapping.resolve(name, keyId);
      try {
        const result = await this.callProvider(name, operation, keyId, keyRef, {}, (context) =>
          work(name, keyRef, context),
        );
        this.emitOperation(operation, name, keyId, started, true);
        return { ...result, provider: name };
      } catch (error) {
        failures.push({ provider: name, error: error as Error });
      }
    }
    this.emitOperation(operation, null, keyId, started, false, failures);
    throw new AllProvidersFailedError(operation, failures);
  }

  /**
   * One call to one provider: each attempt asks the circuit breaker first, runs under the deadline,
   * and is audited and measured; retryable failures are retried with backoff. A circuit open
   * mid-retries ends the retries (CircuitOpenError is not retryable).
   */
  private async callProvider<T>(
    name: string,
    operation: string,
    keyId: string,
    keyRef: string | undefined,
    overrides: { retries?: number },
    work: (context: CallContext) => Promise<T>,
  ): Promise<T> {
    const registered = this.registered.get(name)!;
    const breaker = registered.circuitBreaker;
    return withRetries(
      async (attempt) => {
        if (!breaker.tryAcquire()) throw new CircuitOpenError(name, breaker.getState().state);
        const started = performance.now();
        try {
          const result = await withTimeout(`${name} ${operation}`, registered.timeoutMs, work);
          breaker.recordSuccess();
          this.record(name, operation, keyId, keyRef, attempt, performance.now() - started);
          return result;
        } catch (error) {
          const fault = !(error instanceof ProviderError) || error.isProviderFault;
          if (fault) breaker.recordFailure();
          else breaker.releaseProbe();
          this.record(
            name,
            operation,
            keyId,
            keyRef,
            attempt,
            performance.now() - started,
            codeOf(error as Error),
          );
          throw error;
        }
      },
      {
        retries: overrides.retries ?? registered.retries,
        baseDelayMs: registered.retryBaseDelayMs,
        maxDelayMs: registered.retryMaxDelayMs,
      },
    );
  }

  private record(
    provider: string,
    operation: string,
    keyId: string | undefined,
    keyRef: string | undefined,
    attempt: number,
    durationMs: number,
    errorCode?: string,
  ): void {
    this.metrics.recordCall(provider, operation, durationMs, errorCode);
    this.audit.append({
      at: new Date(),
      operation,
      provider,
      ...(keyId === undefined ? {} : { keyId }),
      ...(keyRef === undefined ? {} : { keyRef }),
      attempt,
      success: errorCode === undefined,
      durationMs,
      ...(errorCode === undefined ? {} : { errorCode }),
    });
  }

  private emitOperation(
    operation: string,
    provider: string | null,
    keyId: string,
    started: number,
    success: boolean,
    failures: ProviderFailure[] = [],
  ): void {
    const event: OperationEvent = {
      operation,
      provider,
      keyId,
      duration: performance.now() - started,
      success,
    };
    if (!success && failures.length > 0) event.errorCode = codeOf(failures[failures.length - 1]!.error);
    this.emit('operation', event);
  }
}

function positive(value: number, option: string, provider: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new IntegrationConfigError(`provider ${provider}: ${option} must be a positive number`);
  }
  return value;
}

function nonNegative(value: number, option: string, provider: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new IntegrationConfigError(`provider ${provider}: ${option} must be zero or more`);
  }
  return value;
}
