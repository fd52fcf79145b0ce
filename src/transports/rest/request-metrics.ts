// Per-action request counts and latency histograms, kept in plain arrays and rendered in the
// Prometheus text format at scrape time. prom-client hashes its label objects on every observe(),
// which cost ~8 us on each request; here a request costs a Map lookup and a few additions.

const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface ActionLatency {
  /** Cumulative at render time; per bucket (non-cumulative) while observing. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

const escapeLabel = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class RequestMetrics {
  /** By action, then status: a `${action} ${status}` key would be a new string to hash per request. */
  private readonly counts = new Map<string, Map<number, { action: string; status: number; count: number }>>();
  private readonly latency = new Map<string, ActionLatency>();

  observe(action: string, status: number, seconds: number): void {
    let byStatus = this.counts.get(action);
    if (!byStatus) {
      byStatus = new Map();
      this.counts.set(action, byStatus);
    }
    const counter = byStatus.get(status);
    if (counter) counter.count++;
    else byStatus.set(status, { action, status, count: 1 });

    let histogram = this.latency.get(action);
    if (!histogram) {
      histogram = { buckets: new Float64Array(LATENCY_BUCKETS_SECONDS.length), sum: 0, count: 0 };
      this.latency.set(action, histogram);
    }
    const index = LATENCY_BUCKETS_SECONDS.findIndex((upper) => seconds <= upper);
    if (index >= 0) histogram.buckets[index]!++;
    histogram.sum += seconds;
    histogram.count++;
  }

  render(): string {
    const lines = [
      '# HELP keyhaven_requests_total HTTP requests by API action and status code',
      '# TYPE keyhaven_requests_total counter',
    ];
    for (const { action, status, count } of [...this.counts.values()].flatMap((m) => [...m.values()])) {
      lines.push(`keyhaven_requests_total{action="${escapeLabel(action)}",status="${status}"} ${count}`);
    }
    lines.push(
      '# HELP keyhaven_request_duration_seconds HTTP request latency by API action',
      '# TYPE keyhaven_request_duration_seconds histogram',
    );
    for (const [action, histogram] of this.latency) {
      const label = escapeLabel(action);
      let cumulative = 0;
      LATENCY_BUCKETS_SECONDS.forEach((upper, i) => {
        cumulative += histogram.buckets[i]!;
        lines.push(`keyhaven_request_duration_seconds_bucket{le="${upper}",action="${label}"} ${cumulative}`);
      });
      lines.push(`keyhaven_request_duration_seconds_bucket{le="+Inf",action="${label}"} ${histogram.count}`);
      lines.push(`keyhaven_request_duration_seconds_sum{action="${label}"} ${histogram.sum}`);
      lines.push(`keyhaven_request_duration_seconds_count{action="${label}"} ${histogram.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
