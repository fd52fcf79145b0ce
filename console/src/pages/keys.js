// Keys: the list with its filters (alias, tag, state) and paging, and the form that creates a key
// with any key spec, usage, protection level and origin the server offers.
import { useState } from 'preact/hooks';
import { call, query } from '../api.js';
import {
  ErrorMessage,
  Field,
  Heading,
  Notice,
  Action,
  options,
  useLoad,
  usePaged,
  when,
  Table,
} from '../components.js';
import { html } from '../html.js';
import { usePermissions } from '../permissions.js';
import { vocabulary } from '../vocabulary.js';

const PAGE_SIZE = 20;

/** "team=payments, env=prod" as {team: 'payments', env: 'prod'}; throws on a pair without '='. */
export function parseTags(text) {
  const tags = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`tag "${pair}" is not name=value`);
    tags[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return tags;
}

export function KeysPage() {
  const [filter, setFilter] = useState({ alias: '', tag: '', state: '' });
  const [draft, setDraft] = useState(filter);
  const [created, setCreated] = useState(null);
  const page = usePaged(
    (cursor) => call('GET', `/v1/keys${query({ ...filter, limit: PAGE_SIZE, cursor })}`),
    [filter.alias, filter.tag, filter.state],
    'Pages of the key list',
  );
  const words = useLoad(vocabulary, []);
  const allowed = usePermissions(['CreateKey']);

  const applyFilter = (event) => {
    event.preventDefault();
    page.first();
    setFilter(draft);
  };
  const set = (name) => (event) => setDraft({ ...draft, [name]: event.currentTarget.value });

  return html`<${Heading}>Keys</${Heading}>
    <section aria-labelledby="filter-title">
      <h2 id="filter-title">Filter</h2>
      <form class="inline" onSubmit=${applyFilter}>
        <${Field} label="Alias filter" value=${draft.alias} onInput=${set('alias')} placeholder="alias/name" />
        <${Field} label="Tag filter" value=${draft.tag} onInput=${set('tag')} placeholder="name:value" />
        <${Field} label="State filter" as="select" value=${draft.state} onChange=${set('state')}>
          <option value="">any</option>
          ${options(words.value?.states ?? [], draft.state)}
        </${Field}>
        <div class="field"><button type="submit">Apply filter</button></div>
      </form>
    </section>
    <section aria-labelledby="list-title">
      <h2 id="list-title">Key list</h2>
      <${ErrorMessage} error=${page.error} />
      ${page.value ? html`<${KeyTable} keys=${page.value.keys} />` : page.error ? null : html`<p>Loading…</p>`}
      ${page.pager}
    </section>
    <section aria-labelledby="create-title">
      <h2 id="create-title">Create a key</h2>
      <${Notice}>${created ? html`Created key <a href=${`#/keys/${created.keyId}`}>${created.keyId}</a>` : null}<//>
      ${
        words.value
          ? html`<${CreateKeyForm}
              words=${words.value}
              decision=${allowed.CreateKey}
              onCreated=${(key) => {
                setCreated(key);
                page.reload();
              }}
            />`
          : html`<${ErrorMessage} error=${words.error} />`
      }
    </section>`;
}

function KeyTable({ keys }) {
  if (keys.length === 0) return html`<p>No key matches.</p>`;
  return html`<${Table}
    caption=${`${keys.length} keys on this page`}
    columns=${['Key', 'Aliases', 'Spec', 'Usage', 'Protection', 'State', 'Version', 'Created']}
    items=${keys}
    row=${(key) =>
      html`<td><a class="mono" href=${`#/keys/${key.keyId}`}>${key.keyId}</a></td>
        <td>${key.aliases.join(', ')}</td>
        <td>${key.keySpec}</td>
        <td>${key.keyUsage}</td>
        <td>${key.protectionLevel}</td>
        <td>${key.state}</td>
        <td>${key.currentVersion}</td>
        <td>${when(key.createdAt)}</td>`}
  />`;
}

const BLANK = {
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  protectionLevel: 'SOFTWARE',
  origin: 'KEYHAVEN',
  alias: '',
  description: '',
  tags: '',
  rotationPeriodDays: '',
  expiresAt: '',
  exportable: false,
};

function CreateKeyForm({ words, decision, onCreated }) {
  const [form, setForm] = useState(BLANK);
  const [error, setError] = useState(null);
  const set = (name) => (event) =>
    setForm({
      ...form,
      [name]:
        event.currentTarget.type === 'checkbox' ? event.currentTarget.checked : event.currentTarget.value,
    });

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    let body;
    try {
      body = {
        keySpec: form.keySpec,
        keyUsage: form.keyUsage,
        protectionLevel: form.protectionLevel,
        origin: form.origin,
        tags: parseTags(form.tags),
        exportable: form.exportable,
      };
    } catch (failure) {
      return setError({ code: 'ValidationError', message: failure.message });
    }
    if (form.alias) body.alias = form.alias;
    if (form.description) body.description = form.description;
    if (form.rotationPeriodDays) body.rotationPeriodDays = Number(form.rotationPeriodDays);
    if (form.expiresAt) body.expiresAt = new Date(form.expiresAt).toISOString();
    try {
      const { key } = await call('POST', '/v1/keys', body);
      setForm(BLANK);
      onCreated(key);
    } catch (failure) {
      setError(failure);
    }
  };

  return html`<form onSubmit=${submit}>
    <div class="columns">
      <div>
        <${Field} label="Key spec" as="select" value=${form.keySpec} onChange=${set('keySpec')}>
          ${options(words.keySpecs, form.keySpec)}
        </${Field}>
        <${Field} label="Key usage" as="select" value=${form.keyUsage} onChange=${set('keyUsage')}>
          ${options(words.keyUsages, form.keyUsage)}
        </${Field}>
        <${Field} label="Protection level" as="select" value=${form.protectionLevel} onChange=${set('protectionLevel')}>
          ${options(words.protectionLevels, form.protectionLevel)}
        </${Field}>
        <${Field} label="Origin" as="select" value=${form.origin} onChange=${set('origin')} hint="EXTERNAL: the key waits for imported material">
          ${options(words.origins, form.origin)}
        </${Field}>
      </div>
      <div>
        <${Field} label="Alias" value=${form.alias} onInput=${set('alias')} placeholder="alias/payments" />
        <${Field} label="Description" value=${form.description} onInput=${set('description')} />
        <${Field} label="Tags" value=${form.tags} onInput=${set('tags')} placeholder="team=payments, env=prod" />
        <${Field} label="Rotation period (days)" type="number" min="1" value=${form.rotationPeriodDays} onInput=${set('rotationPeriodDays')} />
        <${Field} label="Expires at" type="datetime-local" value=${form.expiresAt} onInput=${set('expiresAt')} />
        <${Field} label="Exportable" type="checkbox" checked=${form.exportable} onChange=${set('exportable')} />
      </div>
    </div>
    <${Action} label="Create key" type="submit" decision=${decision} />
    <${ErrorMessage} error=${error} />
  </form>`;
}
