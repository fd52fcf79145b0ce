// System: readiness and each key store backend with its circuit state (GET /ready with the
// credential), and request rates and latency per action from GET /metrics, sampled every 5 s.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { ErrorMessage, Heading, useLoad, when, Table } from '../components.js';
import { html } from '../html.js';
import { parseMetrics, quantileBound, requestsByAction } from '../metrics-text.js';

const ms = (seconds) =>
  seconds === undefined
    ? '—'
    : seconds === Infinity
      ? '> largest bucket'
      : `${(seconds * 1000).toFixed(1)} ms`;

export function SystemPage() {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), 5000);
    return () => clearInterval(timer);
  }, []);
  const readiness = useLoad(
    () =>
      call('GET', '/ready').catch((error) =>
        // Not ready is an answer too, with the backends that make it so.
        error.status === 503 ? { ready: false, ...error.body } : Promise.reject(error),
      ),
    [tick],
  );
  const metrics = useLoad(
    () =>
      call('GET', '/metrics').then((text) => ({
        at: Date.now(),
        actions: requestsByAction(parseMetrics(text)),
      })),
    [tick],
  );
  const previous = useRef(null);
  const [rates, setRates] = useState(new Map());
  useEffect(() => {
    if (!metrics.value) return;
    const before = previous.current;
    if (before && before.at < metrics.value.at) {
      const seconds = (metrics.value.at - before.at) / 1000;
      const next = new Map();
      for (const [action, now] of metrics.value.actions)
        next.set(action, (now.requests - (before.actions.get(action)?.requests ?? 0)) / seconds);
      setRates(next);
    }
    previous.current = metrics.value;
  }, [metrics.value]);

  const ready = readiness.value;
  return html`<${Heading}>System</${Heading}>
    <section aria-labelledby="ready-title">
      <h2 id="ready-title">Readiness</h2>
      <${ErrorMessage} error=${readiness.error} />
      ${
        ready
          ? html`<p data-testid="readiness">
                <strong>${ready.ready ? 'Ready' : 'Not ready'}</strong
                >${ready.checkedAt ? `, checked ${when(ready.checkedAt)}` : ''}
              </p>
              <${Table}
                caption="Key store backends"
                columns=${['Backend', 'Kind', 'Healthy', 'Circuit', 'Detail']}
                items=${ready.backends ?? []}
                row=${(b) =>
                  html`<td>${b.name}</td>
                    <td>${b.kind}</td>
                    <td>${b.healthy ? 'yes' : 'no'}</td>
                    <td>${b.circuit ?? '—'}</td>
                    <td>${b.detail ?? ''}</td>`}
              />`
          : null
      }
    </section>
    <section aria-labelledby="rates-title">
      <h2 id="rates-title">Requests</h2>
      <p class="reason">Since the server started; the rate is over the last 5 seconds (refreshed every 5 s).</p>
      <${ErrorMessage} error=${metrics.error} />
      ${
        metrics.value
          ? html`<${Table}
              data-testid="request-rates"
              columns=${['Action', 'Requests', 'Errors', 'Rate', 'Mean latency', 'p99 at most']}
              items=${[...metrics.value.actions]
                .filter(([, a]) => a.requests > 0)
                .sort((a, b) => b[1].requests - a[1].requests)}
              row=${([action, a]) =>
                html`<td>${action}</td>
                  <td>${a.requests}</td>
                  <td>${a.errors}</td>
                  <td>${rates.has(action) ? `${rates.get(action).toFixed(1)}/s` : '—'}</td>
                  <td>${a.count ? ms(a.seconds / a.count) : '—'}</td>
                  <td>${ms(quantileBound(a.buckets, 0.99))}</td>`}
            />`
          : null
      }
    </section>`;
}
