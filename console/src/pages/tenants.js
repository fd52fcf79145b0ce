// Tenants and their quotas: the list (every tenant for a system administrator, else one's own),
// creating a tenant, and changing a tenant's quotas.
import { useState } from 'preact/hooks';
import { call, query } from '../api.js';
import { Action, ErrorMessage, Field, Heading, Notice, usePaged, when, Table } from '../components.js';
import { html } from '../html.js';
import { usePermissions } from '../permissions.js';

const PAGE_SIZE = 50;

/** {maxKeys, requestsPerSecond} of the non-empty fields, as integers. */
function quotasOf(form) {
  const quotas = {};
  if (form.maxKeys !== '') quotas.maxKeys = Number(form.maxKeys);
  if (form.requestsPerSecond !== '') quotas.requestsPerSecond = Number(form.requestsPerSecond);
  return quotas;
}

const quotaText = (quotas) =>
  [
    quotas.maxKeys ? `${quotas.maxKeys} keys` : 'no key limit',
    quotas.requestsPerSecond ? `${quotas.requestsPerSecond} requests/s` : 'no rate limit',
  ].join(', ');

export function TenantsPage() {
  const [generation, setGeneration] = useState(0);
  const list = usePaged(
    (cursor) => call('GET', `/v1/tenants${query({ limit: PAGE_SIZE, cursor })}`),
    [generation],
    'Pages of the tenant list',
  );
  const allowed = usePermissions(['CreateTenant', 'UpdateTenant']);
  const [editing, setEditing] = useState(null);
  const changed = () => setGeneration((g) => g + 1);
  return html`<${Heading}>Tenants</${Heading}>
    <section aria-labelledby="tenants-title">
      <h2 id="tenants-title">Tenant list</h2>
      <${ErrorMessage} error=${list.error} />
      ${
        list.value
          ? html`<${Table}
              columns=${['Name', 'Tenant id', 'Quotas', 'Policies', 'Created', 'Quotas']}
              items=${list.value.tenants}
              row=${(t) =>
                html`<td>${t.name}</td>
                  <td class="mono">${t.tenantId}</td>
                  <td>${quotaText(t.quotas)}</td>
                  <td>${t.policyIds.length}</td>
                  <td>${when(t.createdAt)}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      aria-label=${`Change the quotas of ${t.name}`}
                      onClick=${() => setEditing(t)}
                    >
                      Change
                    </button>
                  </td>`}
            />`
          : null
      }
      ${list.pager}
    </section>
    ${editing ? html`<${Quotas} key=${editing.tenantId} tenant=${editing} decision=${allowed.UpdateTenant} onSaved=${changed} />` : null}
    <${CreateTenant} decision=${allowed.CreateTenant} onCreated=${changed} />`;
}

function Quotas({ tenant, decision, onSaved }) {
  const [form, setForm] = useState({
    maxKeys: tenant.quotas.maxKeys ? String(tenant.quotas.maxKeys) : '',
    requestsPerSecond: tenant.quotas.requestsPerSecond ? String(tenant.quotas.requestsPerSecond) : '',
  });
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    try {
      await call('PATCH', `/v1/tenants/${encodeURIComponent(tenant.tenantId)}`, { quotas: quotasOf(form) });
      setDone('Quotas saved');
      onSaved();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="quotas-title">
    <h2 id="quotas-title">Quotas of ${tenant.name}</h2>
    <form class="inline" onSubmit=${submit}>
      <${Field}
        label="Maximum keys"
        type="number"
        min="1"
        value=${form.maxKeys}
        onInput=${(e) => setForm({ ...form, maxKeys: e.currentTarget.value })}
      />
      <${Field}
        label="Requests per second"
        type="number"
        min="1"
        value=${form.requestsPerSecond}
        onInput=${(e) => setForm({ ...form, requestsPerSecond: e.currentTarget.value })}
      />
      <${Action} label="Save quotas" type="submit" decision=${decision} />
    </form>
    <${Notice}>${done}<//>
    <${ErrorMessage} error=${error} />
  </section>`;
}

function CreateTenant({ decision, onCreated }) {
  const [form, setForm] = useState({ name: '', maxKeys: '', requestsPerSecond: '' });
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await call('POST', '/v1/tenants', { name: form.name, quotas: quotasOf(form) });
      setForm({ name: '', maxKeys: '', requestsPerSecond: '' });
      onCreated();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="create-tenant-title">
    <h2 id="create-tenant-title">Create a tenant</h2>
    <form class="inline" onSubmit=${submit}>
      <${Field}
        label="Tenant name"
        value=${form.name}
        onInput=${(e) => setForm({ ...form, name: e.currentTarget.value })}
        required
      />
      <${Field}
        label="Maximum keys of the new tenant"
        type="number"
        min="1"
        value=${form.maxKeys}
        onInput=${(e) => setForm({ ...form, maxKeys: e.currentTarget.value })}
      />
      <${Field}
        label="Requests per second of the new tenant"
        type="number"
        min="1"
        value=${form.requestsPerSecond}
        onInput=${(e) => setForm({ ...form, requestsPerSecond: e.currentTarget.value })}
      />
      <${Action}
        label="Create tenant"
        type="submit"
        decision=${decision}
        blocked=${form.name ? undefined : 'the tenant needs a name'}
      />
    </form>
    <${ErrorMessage} error=${error} />
  </section>`;
}
