// Prometheus metrics: requests and latency per API action, the material cache's hit rate, and each
// key-store backend's state (health, circuit, session pool, call latency) read from the key store's
// status port at scrape time.
import {
  Counter,
  Registry,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValueWithName,
} from 'prom-client';
import type { MaterialCache } from '../../adapters/keystore/software/material-cache.js';
import type { CircuitStateName, KeyStoreStatus } from '../../ports/key-store-status.js';
import { RequestMetrics } from './request-metrics.js';

/** The audit log's counts since start, read at scrape time. */
export interface AuditCounts {
  recordsWritten: number;
  writeFailures: number;
  checkpointRefusals: number;
}

/** How a request ended, for the counters the alerting rules watch (docs/alerting-rules.yml). */
export interface RequestOutcome {
  /** The caller's tenant, '' when unauthenticated. */
  tenant: string;
  action: string;
  statusCode: number;
  errorCode?: string;
  /** The request used a key (the audit record names one). */
  usedKey: boolean;
  /** The source address is in monitoring.knownNetworks (always true when none are listed). */
  fromKnownNetwork: boolean;
}

export interface RestMetrics {
  contentType: string;
  observe(action: string, statusCode: number, seconds: number): void;
  observeOutcome(outcome: RequestOutcome): void;
  /** The whole Prometheus text: process, cache and backend metrics, then request metrics. */
  render(): Promise<string>;
}

export const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'open', 'half-open'];

export function createRestMetrics(
  cache: MaterialCache,
  keyStoreStatistics: () => Promise<KeyStoreStatus[]> = async () => [],
  audit: AuditCounts = { recordsWritten: 0, writeFailures: 0, checkpointRefusals: 0 },
  /** The key store's own metrics (EXTERNAL providers' calls, failures, latency, circuit state). */
  keyStoreMetrics?: Registry,
): RestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keyhaven_process_' });
  const requests = new RequestMetrics();
  new Gauge({
    name: 'keyhaven_material_cache_hits_total',
    help: 'Key material cache hits since start',
    registers: [registry],
    collect() {
      this.set(cache.hits);
    },
  });
  new Gauge({
    name: 'keyhaven_material_cache_misses_total',
    help: 'Key material cache misses since start',
    registers: [registry],
    collect() {
      this.set(cache.misses);
    },
  });
  new Gauge({
    name: 'keyhaven_material_cache_entries',
    help: 'Unwrapped key versions held in the material cache',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  const counter = (name: string, help: string, labelNames: readonly string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const denied = counter(
    'keyhaven_requests_denied_total',
    'Requests refused with 401 or 403, by tenant (empty when unauthenticated) and action',
    ['tenant', 'action'],
  );
  const deniedUnknownNetwork = counter(
    'keyhaven_requests_denied_unknown_network_total',
    'Requests refused with 401 or 403 from an address outside monitoring.knownNetworks',
    ['tenant', 'action'],
  );
  const errors = counter(
    'keyhaven_request_errors_total',
    'Requests answered with an error, by tenant, action and error code (KeyDisabled, KeyExpired, ...)',
    ['tenant', 'action', 'code'],
  );
  const keyOperations = counter(
    'keyhaven_key_operations_total',
    'Successful requests that used a key, by tenant and action',
    ['tenant', 'action'],
  );
  new Gauge({
    name: 'keyhaven_audit_records_written_total',
    help: 'Audit records written since start',
    registers: [registry],
    collect() {
      this.set(audit.recordsWritten);
    },
  });
  new Gauge({
    name: 'keyhaven_audit_write_failures_total',
    help: 'Audit records that could not be written since start (their requests answered 503)',
    registers: [registry],
    collect() {
      this.set(audit.writeFailures);
    },
  });
  new Gauge({
    name: 'keyhaven_audit_checkpoints_refused_total',
    help: 'Checkpoints not signed since start because the chain since the last one does not verify',
    registers: [registry],
    collect() {
      this.set(audit.checkpointRefusals);
    },
  });
  registerBackendGauges(registry, keyStoreStatistics);
  return {
    contentType: registry.contentType,
    observe: (action, statusCode, seconds) => requests.observe(action, statusCode, seconds),
    observeOutcome(outcome) {
      const { tenant, action, statusCode } = outcome;
      if (statusCode < 400) {
        if (outcome.usedKey) keyOperations.inc({ tenant, action });
        return;
      }
      errors.inc({ tenant, action, code: outcome.errorCode ?? String(statusCode) });
      if (statusCode === 401 || statusCode === 403) {
        denied.inc({ tenant, action });
        if (!outcome.fromKnownNetwork) deniedUnknownNetwork.inc({ tenant, action });
      }
    },
    render: async () =>
      `${await registry.metrics()}\n${keyStoreMetrics ? `${await keyStoreMetrics.metrics()}\n` : ''}${requests.render()}`,
  };
}

/**
 * One scrape reads the backends' last known state once (no probe) and fills every backend gauge.
 * Call latency is a Prometheus histogram (`# TYPE ... histogram`: `_bucket{le}`, `_sum`, `_count`).
 */
function registerBackendGauges(registry: Registry, read: () => Promise<KeyStoreStatus[]>): void {
  let pending: Promise<KeyStoreStatus[]> | undefined;
  // Every gauge's collect() runs in the same scrape: share one read between them.
  const current = () => {
    pending ??= read().finally(() => queueMicrotask(() => (pending = undefined)));
    return pending;
  };
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, backend: KeyStoreStatus) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        for (const backend of await current()) fill(this, backend);
      },
    });
  const ids = (b: KeyStoreStatus) => ({ backend: b.name, kind: b.kind });

  gauge(
    'keyhaven_keystore_backend_healthy',
    'Key-store backend healthy (1) or not (0)',
    ['backend', 'kind'],
    (g, b) => g.set(ids(b), b.healthy ? 1 : 0),
  );
  gauge(
    'keyhaven_keystore_backend_circuit_state',
    'Circuit breaker state of a key-store backend: 1 for the current state, 0 for the others',
    ['backend', 'kind', 'state'],
    (g, b) => {
      if (!b.circuit) return;
      for (const state of CIRCUIT_STATES) g.set({ ...ids(b), state }, b.circuit === state ? 1 : 0);
    },
  );
  gauge(
    'keyhaven_keystore_backend_sessions_in_use',
    'Sessions borrowed by requests',
    ['backend', 'kind'],
    (g, b) => {
      if (b.sessions) g.set(ids(b), b.sessions.inUse);
    },
  );
  gauge(
    'keyhaven_keystore_backend_sessions_open',
    'Sessions open in the pool',
    ['backend', 'kind'],
    (g, b) => {
      if (b.sessions) g.set(ids(b), b.sessions.open);
    },
  );
  gauge(
    'keyhaven_keystore_backend_session_pool_size',
    'Largest session pool allowed',
    ['backend', 'kind'],
    (g, b) => {
      if (b.sessions) g.set(ids(b), b.sessions.max);
    },
  );
  gauge(
    'keyhaven_keystore_backend_sessions_waiting',
    'Requests waiting for a free session',
    ['backend', 'kind'],
    (g, b) => {
      if (b.sessions) g.set(ids(b), b.sessions.waiting);
    },
  );
  gauge(
    'keyhaven_keystore_backend_calls_total',
    'Calls to a key-store backend since start (successes and failures)',
    ['backend', 'kind'],
    (g, b) => {
      if (b.calls) g.set(ids(b), b.calls.total);
    },
  );
  gauge(
    'keyhaven_keystore_backend_call_failures_total',
    'Calls that failed because of the backend since start',
    ['backend', 'kind'],
    (g, b) => {
      if (b.calls) g.set(ids(b), b.calls.failures);
    },
  );
  new BackendCallDuration(registry, current);
  gauge(
    'keyhaven_keystore_backend_pending_replications',
    'Key objects a backend still lacks (replication between HSMs)',
    ['backend', 'kind'],
    (g, b) => {
      if (b.pendingReplications !== undefined) g.set(ids(b), b.pendingReplications);
    },
  );
}

type DurationLabels = 'backend' | 'kind' | 'le';
const HELP = 'Latency of successful key-store backend calls';

/**
 * keyhaven_keystore_backend_call_duration_seconds as a prom-client Histogram whose values come from
 * each backend's own cumulative bucket counts at scrape time (the backend observes every call; the
 * hot path touches no metrics object). get() and getForPromString() are what the registry reads.
 */
class BackendCallDuration extends Histogram<DurationLabels> {
  constructor(
    registry: Registry,
    private readonly read: () => Promise<KeyStoreStatus[]>,
  ) {
    super({
      name: 'keyhaven_keystore_backend_call_duration_seconds',
      help: HELP,
      labelNames: ['backend', 'kind'],
      registers: [registry],
    });
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<DurationLabels>>> {
    return this.fromBackends();
  }

  /** What the registry renders the text format from (prom-client prefers it over get()). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<DurationLabels>>> {
    return this.fromBackends();
  }

  private async fromBackends(): Promise<MetricObjectWithValues<MetricValueWithName<DurationLabels>>> {
    const name = 'keyhaven_keystore_backend_call_duration_seconds';
    const values: MetricValueWithName<DurationLabels>[] = [];
    for (const b of await this.read()) {
      if (!b.calls) continue;
      const labels = { backend: b.name, kind: b.kind };
      const { buckets, count, sumSeconds } = b.calls.latency;
      for (const bucket of buckets) {
        values.push({
          metricName: `${name}_bucket`,
          labels: { ...labels, le: bucket.le },
          value: bucket.count,
        });
      }
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
      values.push({ metricName: `${name}_sum`, labels, value: sumSeconds });
      values.push({ metricName: `${name}_count`, labels, value: count });
    }
    // Not super.get(): prom-client's get() calls getForPromString(), which is this method.
    return {
      name,
      help: HELP,
      // prom-client declares MetricType a numeric enum, but its registry prints the string.
      type: 'histogram' as unknown as MetricType,
      aggregator: 'sum',
      collect: () => undefined,
      values,
    };
  }
}
