// Prometheus metrics per provider on a registry the caller may pass (prom-client): calls, failures,
// call latency, and circuit state (0 closed, 1 half-open, 2 open).
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { CircuitState } from './circuit-breaker.js';

const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class IntegrationMetrics {
  readonly registry: Registry;
  private readonly calls: Counter<'provider' | 'operation'>;
  private readonly failures: Counter<'provider' | 'operation' | 'code'>;
  private readonly latency: Histogram<'provider' | 'operation'>;
  private readonly circuit: Gauge<'provider'>;

  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    // A registry shared by two services holds one set of metrics: reuse them, do not register twice.
    const reuse = <M extends Metric>(name: string, create: () => M): M =>
      (this.registry.getSingleMetric(name) as M | undefined) ?? create();
    this.calls = reuse(
      'keyhaven_integration_provider_calls_total',
      () =>
        new Counter({
          name: 'keyhaven_integration_provider_calls_total',
          help: 'Calls made to a KMS provider, retries included',
          labelNames: ['provider', 'operation'],
          registers: [this.registry],
        }),
    );
    this.failures = reuse(
      'keyhaven_integration_provider_failures_total',
      () =>
        new Counter({
          name: 'keyhaven_integration_provider_failures_total',
          help: 'Calls to a KMS provider that failed, by error code',
          labelNames: ['provider', 'operation', 'code'],
          registers: [this.registry],
        }),
    );
    this.latency = reuse(
      'keyhaven_integration_provider_call_duration_seconds',
      () =>
        new Histogram({
          name: 'keyhaven_integration_provider_call_duration_seconds',
          help: 'Duration of calls to a KMS provider',
          labelNames: ['provider', 'operation'],
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [this.registry],
        }),
    );
    this.circuit = reuse(
      'keyhaven_integration_circuit_state',
      () =>
        new Gauge({
          name: 'keyhaven_integration_circuit_state',
          help: 'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open',
          labelNames: ['provider'],
          registers: [this.registry],
        }),
    );
  }

  recordCall(provider: string, operation: string, durationMs: number, failureCode?: string): void {
    this.calls.inc({ provider, operation });
    this.latency.observe({ provider, operation }, durationMs / 1000);
    if (failureCode !== undefined) this.failures.inc({ provider, operation, code: failureCode });
  }

  recordCircuitState(provider: string, state: CircuitState): void {
    this.circuit.set({ provider }, CIRCUIT_STATE_VALUE[state]);
  }
}
