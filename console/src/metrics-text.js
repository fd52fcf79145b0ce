// Reads the Prometheus text of GET /metrics into what the system page shows: requests per action
// and the latency histogram per action.

/** [{name, labels: {k: v}, value}] of every sample line. */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Per action: {requests, errors, seconds (sum), buckets: [[le, cumulative count]]}. */
export function requestsByAction(samples) {
  const actions = new Map();
  const entry = (action) => {
    if (!actions.has(action))
      actions.set(action, { requests: 0, errors: 0, seconds: 0, count: 0, buckets: [] });
    return actions.get(action);
  };
  for (const { name, labels, value } of samples) {
    if (name === 'keyhaven_requests_total') {
      const e = entry(labels.action);
      e.requests += value;
      if (Number(labels.status) >= 400) e.errors += value;
    } else if (name === 'keyhaven_request_duration_seconds_bucket') {
      entry(labels.action).buckets.push([labels.le === '+Inf' ? Infinity : Number(labels.le), value]);
    } else if (name === 'keyhaven_request_duration_seconds_sum') entry(labels.action).seconds = value;
    else if (name === 'keyhaven_request_duration_seconds_count') entry(labels.action).count = value;
  }
  return actions;
}

/** The upper bound of the bucket holding quantile q (Prometheus' histogram_quantile, without interpolation). */
export function quantileBound(buckets, q) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  return sorted.find(([, count]) => count >= q * total)?.[0];
}
