// Principals: the list and the form that creates one (name, type, tenant, built-in roles); one
// principal with its API keys and access keys. A new secret is shown once, in this page's memory,
// and gone when the page changes: the server keeps only its hash.
import { useState } from 'preact/hooks';
import { call, query } from '../api.js';
import {
  Action,
  ErrorMessage,
  Field,
  Heading,
  Notice,
  useLoad,
  usePaged,
  when,
  Table,
} from '../components.js';
import { html } from '../html.js';
import { usePermissions } from '../permissions.js';

const PAGE_SIZE = 50;
const ROLES = ['admin', 'key-admin', 'crypto-user', 'auditor'];
const principalPath = (id) => `/v1/principals/${encodeURIComponent(id)}`;

export function PrincipalsPage() {
  const [generation, setGeneration] = useState(0);
  const list = usePaged(
    (cursor) => call('GET', `/v1/principals${query({ limit: PAGE_SIZE, cursor })}`),
    [generation],
    'Pages of the principal list',
  );
  const allowed = usePermissions(['CreatePrincipal']);
  return html`<${Heading}>Principals</${Heading}>
    <section aria-labelledby="principals-title">
      <h2 id="principals-title">Principal list</h2>
      <${ErrorMessage} error=${list.error} />
      ${
        list.value
          ? html`<${Table}
              columns=${['Name', 'Principal id', 'Type', 'Tenant', 'Roles', 'Created']}
              items=${list.value.principals}
              row=${(p) =>
                html`<td><a href=${`#/principals/${p.principalId}`}>${p.name}</a></td>
                  <td class="mono">${p.principalId}</td>
                  <td>${p.type}</td>
                  <td>${p.tenantId}</td>
                  <td>${p.roles.join(', ')}</td>
                  <td>${when(p.createdAt)}</td>`}
            />`
          : null
      }
      ${list.pager}
    </section>
    <${CreatePrincipal} decision=${allowed.CreatePrincipal} onCreated=${() => setGeneration((g) => g + 1)} />`;
}

function CreatePrincipal({ decision, onCreated }) {
  const [form, setForm] = useState({ name: '', type: 'service', tenantId: '', roles: [] });
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const toggle = (role) => (event) =>
    setForm({
      ...form,
      roles: event.currentTarget.checked ? [...form.roles, role] : form.roles.filter((r) => r !== role),
    });
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const body = { name: form.name, type: form.type, roles: form.roles };
      if (form.tenantId) body.tenantId = form.tenantId;
      const { principal } = await call('POST', '/v1/principals', body);
      setCreated(principal);
      setForm({ name: '', type: 'service', tenantId: '', roles: [] });
      onCreated();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="create-principal-title">
    <h2 id="create-principal-title">Create a principal</h2>
    <form onSubmit=${submit}>
      <${Field} label="Name" value=${form.name} onInput=${(e) => setForm({ ...form, name: e.currentTarget.value })} required />
      <${Field} label="Type" as="select" value=${form.type} onChange=${(e) => setForm({ ...form, type: e.currentTarget.value })}>
        <option value="service" selected=${form.type === 'service'}>service</option>
        <option value="user" selected=${form.type === 'user'}>user</option>
      </${Field}>
      <${Field} label="Tenant id" value=${form.tenantId} onInput=${(e) => setForm({ ...form, tenantId: e.currentTarget.value })} hint="empty: your own tenant" />
      <fieldset>
        <legend>Built-in roles</legend>
        ${ROLES.map((role) => html`<${Field} label=${role} type="checkbox" checked=${form.roles.includes(role)} onChange=${toggle(role)} />`)}
      </fieldset>
      <${Action} label="Create principal" type="submit" decision=${decision} blocked=${form.name ? undefined : 'the principal needs a name'} />
    </form>
    <${Notice}>${created ? html`Created <a href=${`#/principals/${created.principalId}`}>${created.name}</a>` : null}<//>
    <${ErrorMessage} error=${error} />
  </section>`;
}

const ACTIONS = ['CreateApiKey', 'RevokeApiKey', 'CreateAccessKey', 'DeleteAccessKey', 'DeletePrincipal'];

export function PrincipalPage({ principalId }) {
  const [generation, setGeneration] = useState(0);
  const loaded = useLoad(() => call('GET', principalPath(principalId)), [principalId]);
  const apiKeys = useLoad(
    () => call('GET', `${principalPath(principalId)}/api-keys`),
    [principalId, generation],
  );
  const accessKeys = useLoad(
    () => call('GET', `${principalPath(principalId)}/access-keys`),
    [principalId, generation],
  );
  const allowed = usePermissions(ACTIONS);
  const [secret, setSecret] = useState(null);
  const [error, setError] = useState(null);
  const [expiresAt, setExpiresAt] = useState('');
  const run = (work) => async () => {
    setError(null);
    setSecret(null);
    try {
      await work();
      setGeneration((g) => g + 1);
    } catch (failure) {
      setError(failure);
    }
  };
  const principal = loaded.value?.principal;
  if (loaded.error) return html`<${Heading}>Principal</${Heading}><${ErrorMessage} error=${loaded.error} />`;
  if (!principal) return html`<${Heading}>Principal</${Heading}><p>Loading…</p>`;
  const createApiKey = run(async () => {
    const body = expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {};
    const answer = await call('POST', `${principalPath(principalId)}/api-keys`, body);
    setSecret({
      label: `API key ${answer.apiKey.apiKeyId}`,
      lines: [['Secret (the Bearer token)', answer.secret]],
    });
  });
  const createAccessKey = run(async () => {
    const answer = await call('POST', `${principalPath(principalId)}/access-keys`);
    setSecret({
      label: `Access key ${answer.accessKeyId}`,
      lines: [
        ['Access key id', answer.accessKeyId],
        ['Secret access key', answer.secretAccessKey],
      ],
    });
  });
  return html`<${Heading}>Principal ${principal.name}</${Heading}>
    <p><a href="#/principals">Back to principals</a></p>
    <dl class="facts">
      <dt>Principal id</dt><dd class="mono">${principal.principalId}</dd>
      <dt>Type</dt><dd>${principal.type}</dd>
      <dt>Tenant</dt><dd>${principal.tenantId}</dd>
      <dt>Roles</dt><dd>${principal.roles.join(', ') || '—'}</dd>
      <dt>Policies</dt><dd class="mono">${principal.policyIds.join(', ') || '—'}</dd>
      <dt>Created</dt><dd>${when(principal.createdAt)}</dd>
    </dl>
    <${ErrorMessage} error=${error} />
    ${
      secret
        ? html`<div class="notice" role="status" data-testid="new-secret">
            <strong>${secret.label}: copy the secret now. It is not shown again.</strong>
            <dl class="facts">
              ${secret.lines.map(
                ([name, value]) =>
                  html`<dt>${name}</dt>
                    <dd class="mono">${value}</dd>`,
              )}
            </dl>
            <button type="button" class="secondary" onClick=${() => setSecret(null)}>
              I have copied it: hide
            </button>
          </div>`
        : null
    }
    <section aria-labelledby="api-keys-title">
      <h2 id="api-keys-title">API keys</h2>
      <${ErrorMessage} error=${apiKeys.error} />
      ${
        apiKeys.value
          ? html`<${Table}
              columns=${['API key id', 'Created', 'Expires', 'Revoked', 'Revoke']}
              items=${apiKeys.value.apiKeys}
              row=${(k) =>
                html`<td class="mono">${k.apiKeyId}</td>
                  <td>${when(k.createdAt)}</td>
                  <td>${when(k.expiresAt)}</td>
                  <td>${when(k.revokedAt)}</td>
                  <td>
                    <${Action}
                      label=${`Revoke ${k.apiKeyId}`}
                      kind="danger"
                      decision=${allowed.RevokeApiKey}
                      blocked=${k.revokedAt ? 'revoked' : undefined}
                      onClick=${run(() => call('DELETE', `${principalPath(principalId)}/api-keys/${encodeURIComponent(k.apiKeyId)}`))}
                    />
                  </td>`}
            />`
          : null
      }
      <div class="toolbar">
        <${Field} label="Expires at (optional)" type="datetime-local" value=${expiresAt} onInput=${(e) => setExpiresAt(e.currentTarget.value)} />
        <${Action} label="Create API key" decision=${allowed.CreateApiKey} onClick=${createApiKey} />
      </div>
    </section>
    <section aria-labelledby="access-keys-title">
      <h2 id="access-keys-title">Access keys (AWS Signature V4)</h2>
      <${ErrorMessage} error=${accessKeys.error} />
      ${
        accessKeys.value
          ? html`<${Table}
              columns=${['Access key id', 'Created', 'Revoked', 'Delete']}
              items=${accessKeys.value.accessKeys}
              row=${(k) =>
                html`<td class="mono">${k.accessKeyId}</td>
                  <td>${when(k.createdAt)}</td>
                  <td>${when(k.revokedAt)}</td>
                  <td>
                    <${Action}
                      label=${`Delete ${k.accessKeyId}`}
                      kind="danger"
                      decision=${allowed.DeleteAccessKey}
                      blocked=${k.revokedAt ? 'revoked' : undefined}
                      onClick=${run(() => call('DELETE', `${principalPath(principalId)}/access-keys/${encodeURIComponent(k.accessKeyId)}`))}
                    />
                  </td>`}
            />`
          : null
      }
      <${Action} label="Create access key" decision=${allowed.CreateAccessKey} onClick=${createAccessKey} />
    </section>`;
}
