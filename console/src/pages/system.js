// System: readiness and each key store backend with its circuit state (GET /ready with the
// credential), and request rates and latency per action from GET /metrics, sampled every 5 s.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { ErrorMessage, Heading, useLoad, when } from '../components.js';
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
              <table>
                <caption class="reason">
                  Key store backends
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Backend</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Healthy</th>
                    <th scope="col">Circuit</th>
                    <th scope="col">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  ${(ready.backends ?? []).map(
                    (b) =>
                      html`<tr>
                        <td>${b.name}</td>
                        <td>${b.kind}</td>
                        <td>${b.healthy ? 'yes' : 'no'}</td>
                        <td>${b.circuit ?? '—'}</td>
                        <td>${b.detail ?? ''}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
          : null
      }
    </section>
    <section aria-labelledby="rates-title">
      <h2 id="rates-title">Requests</h2>
      <p class="reason">Since the server started; the rate is over the last 5 seconds (refreshed every 5 s).</p>
      <${ErrorMessage} error=${metrics.error} />
      ${
        metrics.value
          ? html`<table data-testid="request-rates">
              <thead>
                <tr>
                  <th scope="col">Action</th>
                  <th scope="col">Requests</th>
                  <th scope="col">Errors</th>
                  <th scope="col">Rate</th>
                  <th scope="col">Mean latency</th>
                  <th scope="col">p99 at most</th>
                </tr>
              </thead>
              <tbody>
                ${[...metrics.value.actions]
                  .filter(([, a]) => a.requests > 0)
                  .sort((a, b) => b[1].requests - a[1].requests)
                  .map(
                    ([action, a]) =>
                      html`<tr>
                        <td>${action}</td>
                        <td>${a.requests}</td>
                        <td>${a.errors}</td>
                        <td>${rates.has(action) ? `${rates.get(action).toFixed(1)}/s` : '—'}</td>
                        <td>${a.count ? ms(a.seconds / a.count) : '—'}</td>
                        <td>${ms(quantileBound(a.buckets, 0.99))}</td>
                      </tr>`,
                  )}
              </tbody>
            </table>`
          : null
      }
    </section>`;
}
