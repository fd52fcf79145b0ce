import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../src/transports/rest/request-metrics.js';

describe('request metrics in Prometheus text', () => {
  it('counts requests per action and status, and renders a cumulative latency histogram', () => {
    const metrics = new RequestMetrics();
    metrics.observe('Encrypt', 200, 0.0004);
    metrics.observe('Encrypt', 200, 0.003);
    metrics.observe('Encrypt', 400, 0.02);
    metrics.observe('Weird "action"', 500, 7);
    const text = metrics.render();
    expect(text).toContain('keyhaven_requests_total{action="Encrypt",status="200"} 2\n');
    expect(text).toContain('keyhaven_requests_total{action="Encrypt",status="400"} 1\n');
    expect(text).toContain('keyhaven_request_duration_seconds_bucket{le="0.0005",action="Encrypt"} 1\n');
    expect(text).toContain('keyhaven_request_duration_seconds_bucket{le="0.005",action="Encrypt"} 2\n');
    expect(text).toContain('keyhaven_request_duration_seconds_bucket{le="0.025",action="Encrypt"} 3\n');
    expect(text).toContain('keyhaven_request_duration_seconds_bucket{le="+Inf",action="Encrypt"} 3\n');
    expect(text).toContain('keyhaven_request_duration_seconds_count{action="Encrypt"} 3\n');
    expect(text).toMatch(/keyhaven_request_duration_seconds_sum\{action="Encrypt"\} 0\.0234/);
    // Over the last bucket: only +Inf counts it; label values are escaped.
    expect(text).toContain(
      'keyhaven_request_duration_seconds_bucket{le="2.5",action="Weird \\"action\\""} 0\n',
    );
    expect(text).toContain(
      'keyhaven_request_duration_seconds_bucket{le="+Inf",action="Weird \\"action\\""} 1\n',
    );
    expect(text.match(/^# TYPE keyhaven_request_duration_seconds histogram$/m)).not.toBeNull();
  });
});
