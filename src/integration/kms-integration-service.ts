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
    const started = performance.now();
    const mapped = this.order.filter((name) => this.mapping.resolve(name, keyId) !== keyId);
    if (mapped.length > 0) {
      throw new IntegrationConfigError(`key ${keyId} is already mapped at ${mapped.join(', ')}`);
    }
    const description = options.description ?? `keyhaven-integration key ${keyId}`;
    const outcomes = await Promise.all(
      this.order.map(async (name) => {
        try {
          const info = await this.callProvider(
            name,
            'generateKey',
            keyId,
            undefined,
            { retries: 0 },
            (context) => this.provider(name).generateKey({ ...options, description }, context),
          );
          this.mapping.set(name, keyId, info.keyRef);
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
    this.emitOperation('generateKey', served[0] ?? null, keyId, started, served.length > 0);
    if (served.length === 0) throw new AllProvidersFailedError('generateKey', failures);
    return { keyId, keys, failures };
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
      const outcomes = await Promise.all(
        this.order.map(async (name) => {
          const keyRef = this.mapping.resolve(name, kekId);
          try {
            const { ciphertext } = await this.callProvider(
              name,
              'wrapDataKey',
              kekId,
              keyRef,
              {},
              (context) => this.provider(name).encrypt(keyRef, dataKey, context),
            );
            return { wrapped: { provider: name, keyRef, ciphertext: ciphertext.toString('base64') } };
          } catch (error) {
            return { failure: { provider: name, error: error as Error } };
          }
        }),
      );
      const wrappedKeys = outcomes.flatMap((o) => (o.wrapped ? [o.wrapped as WrappedDataKey] : []));
      const success = wrappedKeys.length > 0;
      this.emitOperation('envelopeEncrypt', wrappedKeys[0]?.provider ?? null, kekId, started, success);
      if (!success) {
        throw new AllProvidersFailedError(
          'envelopeEncrypt',
          outcomes.flatMap((o) => (o.failure ? [o.failure] : [])),
        );
      }
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
    const wrappings = this.order.flatMap((name) => envelope.wrappedKeys.filter((w) => w.provider === name));
    if (wrappings.length === 0) {
      throw new InvalidEnvelopeError('no provider that wrapped this envelope is configured');
    }
    const failures: ProviderFailure[] = [];
    for (const wrapped of wrappings) {
      let dataKey: Buffer;
      try {
        ({ plaintext: dataKey } = await this.callProvider(
          wrapped.provider,
          'unwrapDataKey',
          envelope.kekId,
          wrapped.keyRef,
          {},
          (context) =>
            this.provider(wrapped.provider).decrypt(
              wrapped.keyRef,
              Buffer.from(wrapped.ciphertext, 'base64'),
              context,
            ),
        ));
      } catch (error) {
        failures.push({ provider: wrapped.provider, error: error as Error });
        continue;
      }
      try {
        const plaintext = openPayload(dataKey, envelope);
        this.cache?.put(cacheId, dataKey, wrapped.provider);
        this.emitOperation('envelopeDecrypt', wrapped.provider, envelope.kekId, started, true);
        return { plaintext, provider: wrapped.provider, cached: false };
      } catch (error) {
        failures.push({ provider: wrapped.provider, error: error as Error });
      } finally {
        dataKey.fill(0);
      }
    }
    this.emitOperation('envelopeDecrypt', null, envelope.kekId, started, false, failures);
    throw new AllProvidersFailedError('envelopeDecrypt', failures);
  }

  // ---- Health --------------------------------------------------------------------------------------

  /** Asks every provider at once; does not move circuit breakers (their state is reported beside). */
  async healthCheck(): Promise<HealthReport> {
    const results = await Promise.all(
      this.order.map(async (name): Promise<ProviderHealth> => {
        const registered = this.registered.get(name)!;
        const started = performance.now();
        let errorCode: string | undefined;
        try {
          await withTimeout(`${name} health`, registered.timeoutMs, (context) =>
            registered.provider.health(context),
          );
        } catch (error) {
          errorCode = codeOf(error as Error);
        }
        const latencyMs = performance.now() - started;
        this.record(name, 'health', undefined, undefined, 0, latencyMs, errorCode);
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
