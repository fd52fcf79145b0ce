// The key page's further sections: usage (counters, and a chart of use per day from the audit log),
// aliases, the key policy, and import parameters for keys whose material comes from outside.
import { useState } from 'preact/hooks';
import { ApiError, call, keyPath, query } from '../api.js';
import { Action, ErrorMessage, Field, useLoad, when } from '../components.js';
import { html } from '../html.js';
import { policyProblems } from '../policy-document.js';

const DAYS = 14;
const MAX_PAGES = 5;
const USE_ACTIONS =
  /^(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|GenerateDataKeyPair|Sign|Verify|GenerateMac|VerifyMac|Derive)/;

/** Records of the key over the last DAYS days (at most MAX_PAGES pages), counted per UTC day. */
async function usePerDay(keyId) {
  const from = new Date(Date.now() - DAYS * 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  const days = new Map();
  for (let i = 0; i < DAYS + 1; i++)
    days.set(new Date(from.getTime() + i * 86_400_000).toISOString().slice(0, 10), 0);
  let cursor;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await call(
      'GET',
      `/v1/logs${query({ keyId, from: from.toISOString(), limit: 1000, cursor })}`,
    );
    for (const record of answer.records) {
      const day = record.time.slice(0, 10);
      if (USE_ACTIONS.test(record.action) && days.has(day)) days.set(day, days.get(day) + 1);
    }
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  return [...days];
}

export function Usage({ keyId, generation }) {
  const counters = useLoad(() => call('GET', `${keyPath(keyId)}/usage`), [keyId, generation]);
  const perDay = useLoad(() => usePerDay(keyId), [keyId, generation]);
  const counts = counters.value
    ? Object.entries(counters.value).filter(
        ([name, value]) => name !== 'keyId' && name !== 'lastUsedAt' && value > 0,
      )
    : [];
  return html`<section aria-labelledby="usage-title">
    <h2 id="usage-title">Usage</h2>
    <${ErrorMessage} error=${counters.error} />
    ${
      counters.value
        ? html`<p>
            ${`Last used: ${when(counters.value.lastUsedAt)}. `}
            ${counts.length ? counts.map(([n, v]) => `${n} ${v}`).join(', ') : 'No use counted yet.'}
          </p>`
        : null
    }
    <${ErrorMessage} error=${perDay.error} />
    ${perDay.value ? html`<${DayChart} days=${perDay.value} />` : null}
  </section>`;
}

/** Bars of cryptographic requests per day, as SVG; the same numbers in a table for screen readers. */
function DayChart({ days }) {
  const top = Math.max(1, ...days.map(([, n]) => n));
  const width = 36;
  const height = 120;
  return html`<figure>
    <svg
      role="img"
      aria-labelledby="usage-chart-title"
      width=${days.length * width}
      height=${height + 36}
      viewBox=${`0 0 ${days.length * width} ${height + 36}`}
    >
      <title id="usage-chart-title">
        Cryptographic requests per day over the last ${DAYS} days (from the audit log)
      </title>
      ${days.map(([day, n], i) => {
        const bar = Math.round((n / top) * height);
        return html`<g>
          <rect x=${i * width + 6} y=${height - bar} width=${width - 12} height=${bar} fill="#0b5cad"></rect>
          <text x=${i * width + width / 2} y=${height + 14} text-anchor="middle" font-size="10" fill="#1b1f24"
            >${day.slice(8)}</text
          >
          <text
            x=${i * width + width / 2}
            y=${height + 28}
            text-anchor="middle"
            font-size="10"
            fill="#4a5260"
            data-testid=${`usage-${day}`}
            >${n}</text
          >
        </g>`;
      })}
    </svg>
    <figcaption class="reason">Requests per UTC day (day of month, count), from the audit log.</figcaption>
  </figure>`;
}

const bare = (alias) => encodeURIComponent(alias.replace(/^alias\//, ''));

/**
 * A plain PUT /v1/aliases/{name} re-points an alias that names another key: from this page that
 * would take it from that key unseen. The create-only PUT (If-None-Match: *) refuses a taken name
 * (409 Conflict) in the same step that would write it, so no other writer slips in between.
 */
async function addAlias(name, keyId) {
  const alias = name.startsWith('alias/') ? name : `alias/${name}`;
  try {
    await call('PUT', `/v1/aliases/${bare(alias)}`, { keyId }, { 'if-none-match': '*' });
  } catch (failure) {
    if (failure.code !== 'Conflict') throw failure;
    // Which key holds it, to say so (or, if it is this one, there is nothing to do).
    const holder = await call('GET', `/v1/keys/${encodeURIComponent(alias)}`).then(
      ({ key }) => key.keyId,
      () => null,
    );
    if (holder === keyId) return;
    const where = holder === null ? '' : `: it names key ${holder}; remove it there first`;
    throw new ApiError(
      failure.status,
      failure.code,
      `${failure.message}${where}`,
      failure.requestId,
      failure.body,
    );
  }
}

export function Aliases({ record, allowed, onChanged }) {
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const run = (work) => async () => {
    setError(null);
    try {
      await work();
      setName('');
      onChanged();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="aliases-title">
    <h2 id="aliases-title">Aliases</h2>
    <ul>
      ${record.aliases.map(
        (alias) =>
          html`<li>
            <span class="mono">${alias}</span>
            <${Action}
              label=${`Remove ${alias}`}
              decision=${allowed.DeleteAlias}
              onClick=${run(() => call('DELETE', `/v1/aliases/${bare(alias)}`))}
            />
          </li>`,
      )}
    </ul>
    <div class="toolbar">
      <${Field}
        label="New alias"
        value=${name}
        placeholder="alias/name"
        onInput=${(e) => setName(e.currentTarget.value)}
      />
      <${Action}
        label="Add alias"
        decision=${allowed.PutAlias}
        blocked=${name ? undefined : 'type an alias'}
        onClick=${run(() => addAlias(name, record.keyId))}
      />
    </div>
    <${ErrorMessage} error=${error} />
  </section>`;
}

export function KeyPolicy({ keyId, allowed }) {
  const [generation, setGeneration] = useState(0);
  const loaded = useLoad(() => call('GET', `${keyPath(keyId)}/policy`), [keyId, generation]);
  const [text, setText] = useState(null);
  const [error, setError] = useState(null);
  const shown = text ?? (loaded.value ? JSON.stringify(loaded.value.document, null, 2) : '');
  const problems = policyProblems(shown);
  const save = async () => {
    setError(null);
    try {
      await call('PUT', `${keyPath(keyId)}/policy`, { document: JSON.parse(shown) });
      setText(null);
      setGeneration((g) => g + 1);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="key-policy-title">
    <h2 id="key-policy-title">Key policy${loaded.value ? ` (version ${loaded.value.version})` : ''}</h2>
    <${ErrorMessage} error=${loaded.error} />
    <${Field}
      label="Key policy document (JSON)"
      as="textarea"
      spellcheck="false"
      value=${shown}
      onInput=${(e) => setText(e.currentTarget.value)}
    />
    ${
      problems.length
        ? html`<ul class="validation" aria-label="Problems in the key policy">
            ${problems.map((p) => html`<li>${p}</li>`)}
          </ul>`
        : null
    }
    <${Action}
      label="Save key policy"
      decision=${allowed.PutKeyPolicy}
      blocked=${problems.length ? 'the document has problems' : text === null ? 'nothing changed' : undefined}
      onClick=${save}
    />
    <${ErrorMessage} error=${error} />
  </section>`;
}

/** For a key waiting for imported material: the wrapping public key and token to wrap it with, offline. */
export function ImportParameters({ record, allowed }) {
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (record.origin !== 'EXTERNAL') return null;
  const fetchParameters = async () => {
    setError(null);
    setBusy(true);
    try {
      setAnswer(await call('GET', `/v1/keys/import-parameters${query({ keyId: record.keyId })}`));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="import-title">
    <h2 id="import-title">Import parameters</h2>
    <p>
      Wrap the material with this public key outside the browser (the CLI's <code>keys import</code>); the
      console never handles it.
    </p>
    <${Action}
      label="Get import parameters"
      decision=${allowed.GetImportParameters}
      blocked=${busy ? 'the server is making a wrapping key pair…' : undefined}
      onClick=${fetchParameters}
    />
    <${ErrorMessage} error=${error} />
    ${
      answer
        ? html`<dl class="facts">
            <dt>Wrapping algorithm</dt>
            <dd>${answer.wrappingAlgorithm}</dd>
            <dt>Wrapping key spec</dt>
            <dd>${answer.wrappingKeySpec ?? '—'}</dd>
            <dt>Expires</dt>
            <dd>${when(answer.expiresAt)}</dd>
            <dt>Import token</dt>
            <dd class="mono">${answer.importToken}</dd>
            <dt>Wrapping public key</dt>
            <dd><pre class="mono">${answer.wrappingPublicKey}</pre></dd>
          </dl>`
        : null
    }
  </section>`;
}
