// Prometheus metrics: requests and latency per API action, and the material cache's hit rate.
import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { MaterialCache } from '../../adapters/keystore/software/material-cache.js';

export interface RestMetrics {
  registry: Registry;
  observe(action: string, statusCode: number, seconds: number): void;
}

export function createRestMetrics(cache: MaterialCache): RestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keyhaven_process_' });
  const requests = new Counter({
    name: 'keyhaven_requests_total',
    help: 'HTTP requests by API action and status code',
    labelNames: ['action', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'keyhaven_request_duration_seconds',
    help: 'HTTP request latency by API action',
    labelNames: ['action'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
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
  return {
    registry,
    observe(action, statusCode, seconds) {
      requests.inc({ action, status: String(statusCode) });
      latency.observe({ action }, seconds);
    },
  };
}
