// Counters of one token's operations: totals, failures, an exponentially weighted mean latency for
// the status line, and a cumulative latency histogram for /metrics (Prometheus histogram semantics).
import type { LatencyHistogram } from '../../../ports/key-store-status.js';

/** Upper bounds (seconds) of the latency histogram: HSM calls take from ~0.1 ms to seconds (RSA-4096). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class TokenStatistics {
  operations = 0;
  failures = 0;
  /** Exponentially weighted mean latency of successful operations, in milliseconds. */
  latencyMs = 0;
  /** Reason of the last failure (a PKCS#11 error name), for the status line. */
  lastError: string | undefined;
  private sumSeconds = 0;
  private readonly counts = LATENCY_BUCKETS.map(() => 0);

  recordSuccess(ms: number): void {
    this.operations++;
    this.latencyMs = this.operations === 1 ? ms : this.latencyMs * 0.9 + ms * 0.1;
    const seconds = ms / 1000;
    this.sumSeconds += seconds;
    const bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) this.counts[bucket]!++;
  }

  recordFailure(reason: string): void {
    this.failures++;
    this.lastError = reason;
  }

  latencyHistogram(): LatencyHistogram {
    let cumulative = 0;
    return {
      count: this.operations,
      sumSeconds: this.sumSeconds,
      buckets: LATENCY_BUCKETS.map((le, i) => ({ le, count: (cumulative += this.counts[i]!) })),
    };
  }
}
