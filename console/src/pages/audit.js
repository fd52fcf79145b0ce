// Audit: the records with filters and paging, one record's detail, and the chain's verification
// (valid, or the first record that breaks it).
import { useState } from 'preact/hooks';
import { call, query } from '../api.js';
import { Action, ErrorMessage, Field, Heading, usePaged, when, Table } from '../components.js';
import { html } from '../html.js';
import { usePermissions } from '../permissions.js';

const PAGE_SIZE = 25;
const BLANK = { principalId: '', action: '', keyId: '', result: '', from: '', to: '' };

export function AuditPage() {
  const [filter, setFilter] = useState(BLANK);
  const [draft, setDraft] = useState(BLANK);
  const [selected, setSelected] = useState(null);
  const range = (value) => (value ? new Date(value).toISOString() : '');
  const page = usePaged(
    (cursor) =>
      call(
        'GET',
        `/v1/logs${query({ ...filter, from: range(filter.from), to: range(filter.to), limit: PAGE_SIZE, cursor })}`,
      ),
    [JSON.stringify(filter)],
    'Pages of the audit records',
  );
  const allowed = usePermissions(['VerifyLogs']);
  const set = (name) => (event) => setDraft({ ...draft, [name]: event.currentTarget.value });
  const apply = (event) => {
    event.preventDefault();
    page.first();
    setSelected(null);
    setFilter(draft);
  };
  return html`<${Heading}>Audit</${Heading}>
    <${ChainStatus} decision=${allowed.VerifyLogs} />
    <section aria-labelledby="audit-filter-title">
      <h2 id="audit-filter-title">Filter</h2>
      <form class="inline" onSubmit=${apply}>
        <${Field} label="Principal id" value=${draft.principalId} onInput=${set('principalId')} />
        <${Field} label="Action" value=${draft.action} onInput=${set('action')} />
        <${Field} label="Key id" value=${draft.keyId} onInput=${set('keyId')} />
        <${Field} label="Result" as="select" value=${draft.result} onChange=${set('result')}>
          <option value="">any</option>
          ${['allow', 'deny', 'error'].map((r) => html`<option value=${r} selected=${r === draft.result}>${r}</option>`)}
        </${Field}>
        <${Field} label="From" type="datetime-local" value=${draft.from} onInput=${set('from')} />
        <${Field} label="To" type="datetime-local" value=${draft.to} onInput=${set('to')} />
        <div class="field"><button type="submit">Apply filter</button></div>
      </form>
    </section>
    <section aria-labelledby="records-title">
      <h2 id="records-title">Records</h2>
      <${ErrorMessage} error=${page.error} />
      ${
        page.value
          ? page.value.records.length
            ? html`<${Table}
                columns=${['Seq', 'Time', 'Principal', 'Action', 'Key', 'Result', 'Detail']}
                items=${page.value.records}
                row=${(r) =>
                  html`<td>${r.seq}</td>
                    <td>${when(r.time)}</td>
                    <td class="mono">${r.principalId}</td>
                    <td>${r.action}</td>
                    <td class="mono">${r.keyId ?? ''}</td>
                    <td>${r.result}${r.errorCode ? ` (${r.errorCode})` : ''}</td>
                    <td>
                      <button
                        type="button"
                        class="secondary"
                        aria-label=${`Show record ${r.seq}`}
                        onClick=${() => setSelected(r)}
                      >
                        Show
                      </button>
                    </td>`}
              />`
            : html`<p>No record matches.</p>`
          : null
      }
      ${page.pager}
    </section>
    ${selected ? html`<${RecordDetail} record=${selected} />` : null}`;
}

function RecordDetail({ record }) {
  return html`<section aria-labelledby="record-title">
    <h2 id="record-title">Record ${record.seq}</h2>
    <dl class="facts" data-testid="audit-record">
      ${Object.entries(record).map(
        ([name, value]) =>
          html`<dt>${name}</dt>
            <dd class="mono">${String(value)}</dd>`,
      )}
    </dl>
  </section>`;
}

function ChainStatus({ decision }) {
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const verify = async () => {
    setError(null);
    setStatus(null);
    try {
      setStatus(await call('GET', '/v1/logs/verify'));
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="chain-title">
    <h2 id="chain-title">Chain</h2>
    <${Action} label="Verify the chain" decision=${decision} onClick=${verify} />
    <${ErrorMessage} error=${error} />
    ${
      status
        ? html`<div class=${status.valid ? 'notice' : 'error'} role="status" data-testid="chain-status">
            ${
              status.valid
                ? html`<strong>Chain valid</strong>: ${status.records} records, ${status.checkpoints} signed
                    checkpoints, ${status.unsignedTail} records after the last checkpoint.`
                : html`<strong>Chain broken</strong>
                    ${` at record ${status.firstInvalid?.seq}: ${status.firstInvalid?.reason}`}`
            }
          </div>`
        : null
    }
  </section>`;
}
