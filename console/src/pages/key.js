// One key: its facts, lifecycle actions (rotate, enable, disable, schedule and cancel deletion),
// its settings (description, tags, rotation period), versions, policy, usage and public key.
import { useState } from 'preact/hooks';
import { call, keyPath } from '../api.js';
import { Action, ErrorMessage, Field, Heading, Notice, useLoad, when, Table } from '../components.js';
import { html } from '../html.js';
import { usePermissions } from '../permissions.js';
import { parseTags } from './keys.js';
import { Aliases, ImportParameters, KeyPolicy, Usage } from './key-extras.js';

const ACTIONS = [
  'RotateKey',
  'EnableKey',
  'DisableKey',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'UpdateKey',
  'GetPublicKey',
  'PutAlias',
  'DeleteAlias',
  'PutKeyPolicy',
  'GetImportParameters',
];

export function KeyPage({ keyId }) {
  const [generation, setGeneration] = useState(0);
  const loaded = useLoad(() => call('GET', keyPath(keyId)), [keyId, generation]);
  const allowed = usePermissions(ACTIONS, keyId, generation);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [pendingDays, setPendingDays] = useState('30');

  const key = loaded.value?.key;
  const act = (label, method, path) => async () => {
    setError(null);
    setDone(null);
    try {
      await call(method, path);
      setDone(label);
      setGeneration((g) => g + 1);
    } catch (failure) {
      setError(failure);
    }
  };

  if (loaded.error) return html`<${Heading}>Key</${Heading}><${ErrorMessage} error=${loaded.error} />`;
  if (!key) return html`<${Heading}>Key</${Heading}><p>Loading…</p>`;
  const state = key.state;
  const pending = state === 'PendingDeletion';
  return html`<${Heading}>Key <span class="mono">${key.keyId}</span></${Heading}>
    <p><a href="#/keys">Back to keys</a></p>
    <${Notice}>${done}<//>
    <${ErrorMessage} error=${error} />
    <section aria-labelledby="facts-title">
      <h2 id="facts-title">Facts</h2>
      <dl class="facts">
        <dt>State</dt><dd data-testid="key-state">${state}</dd>
        <dt>Key spec</dt><dd>${key.keySpec}</dd>
        <dt>Usage</dt><dd>${key.keyUsage}</dd>
        <dt>Protection level</dt><dd>${key.protectionLevel}</dd>
        <dt>Origin</dt><dd>${key.origin}</dd>
        <dt>Current version</dt><dd data-testid="key-version">${key.currentVersion}</dd>
        <dt>Aliases</dt><dd>${key.aliases.join(', ') || '—'}</dd>
        <dt>Description</dt><dd>${key.description || '—'}</dd>
        <dt>Tags</dt><dd>${
          Object.entries(key.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || '—'
        }</dd>
        <dt>Rotation period</dt><dd>${key.rotationPeriodDays ? `${key.rotationPeriodDays} days, next ${when(key.nextRotationAt)}` : '—'}</dd>
        <dt>Expires</dt><dd>${key.expiresAt ? when(key.expiresAt) : 'never'}</dd>
        <dt>Created</dt><dd>${when(key.createdAt)}</dd>
        ${
          key.deletionDate
            ? html`<dt>Deletion date</dt>
                <dd>${when(key.deletionDate)}</dd>`
            : null
        }
      </dl>
    </section>
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Lifecycle</h2>
      <${Action} label="Rotate" decision=${allowed.RotateKey} blocked=${pending ? 'the key is pending deletion' : undefined}
        onClick=${act('Rotated: a new version is current', 'POST', `${keyPath(keyId)}/rotate`)} />
      <${Action} label="Enable" decision=${allowed.EnableKey} blocked=${state === 'Enabled' ? 'the key is enabled' : pending ? 'the key is pending deletion' : undefined}
        onClick=${act('Enabled', 'POST', `${keyPath(keyId)}/enable`)} />
      <${Action} label="Disable" decision=${allowed.DisableKey} blocked=${state === 'Disabled' ? 'the key is disabled' : pending ? 'the key is pending deletion' : undefined}
        onClick=${act('Disabled', 'POST', `${keyPath(keyId)}/disable`)} />
      <${Action} label="Cancel deletion" decision=${allowed.CancelKeyDeletion} blocked=${pending ? undefined : 'no deletion is scheduled'}
        onClick=${act('Deletion cancelled: the key is disabled', 'POST', `${keyPath(keyId)}/cancel-deletion`)} />
      <div class="toolbar">
        <${Field} label="Waiting period (days, 7 to 30)" type="number" min="7" max="30" value=${pendingDays}
          onInput=${(e) => setPendingDays(e.currentTarget.value)} />
        <${Action} label="Schedule deletion" kind="danger" decision=${allowed.ScheduleKeyDeletion}
          blocked=${pending ? 'a deletion is already scheduled' : undefined}
          onClick=${act('Deletion scheduled', 'DELETE', `${keyPath(keyId)}?pendingWindowDays=${encodeURIComponent(pendingDays)}`)} />
      </div>
    </section>
    <${Settings} key=${settingsOf(key)} record=${key} decision=${allowed.UpdateKey} onSaved=${() => {
      setDone('Settings saved');
      setGeneration((g) => g + 1);
    }} />
    <${Aliases} record=${key} allowed=${allowed} onChanged=${() => setGeneration((g) => g + 1)} />
    <${Versions} keyId=${keyId} generation=${generation} />
    <${Usage} keyId=${keyId} generation=${generation} />
    <${PublicKey} record=${key} decision=${allowed.GetPublicKey} />
    <${ImportParameters} record=${key} allowed=${allowed} />
    <${KeyPolicy} keyId=${keyId} allowed=${allowed} />`;
}

/** The settings as the server has them: the form starts again from them whenever they change. */
const settingsOf = (key) =>
  JSON.stringify([key.keyId, key.description, key.tags, key.rotationPeriodDays, key.expiresAt]);

/** An ISO instant as the value of a datetime-local input (the browser's local time, to the minute). */
const localDateTime = (iso) => {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

/** The settings form's fields as the server's record gives them. */
const settingsForm = (key) => ({
  description: key.description ?? '',
  tags: Object.entries(key.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(', '),
  rotationPeriodDays: key.rotationPeriodDays ? String(key.rotationPeriodDays) : '',
  expiresAt: key.expiresAt ? localDateTime(key.expiresAt) : '',
});

function Settings({ record: key, decision, onSaved }) {
  const [form, setForm] = useState(() => settingsForm(key));
  const [error, setError] = useState(null);
  const set = (name) => (event) => setForm({ ...form, [name]: event.currentTarget.value });
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      // Only what was changed is sent: re-sending the rotation period would restart its schedule,
      // and the expiry (shown to the minute) would move earlier, or be refused once it is past.
      const initial = settingsForm(key);
      const changed = (name) => form[name] !== initial[name];
      const body = {};
      if (changed('description')) body.description = form.description;
      if (changed('tags')) body.tags = parseTags(form.tags);
      // An emptied field turns the setting off: no automatic rotation, no expiry.
      if (changed('rotationPeriodDays'))
        body.rotationPeriodDays = form.rotationPeriodDays ? Number(form.rotationPeriodDays) : null;
      if (changed('expiresAt'))
        body.expiresAt = form.expiresAt ? new Date(form.expiresAt).toISOString() : null;
      if (Object.keys(body).length === 0)
        return setError({ code: 'NothingChanged', message: 'no setting was changed' });
      await call('PATCH', keyPath(key.keyId), body);
      onSaved();
    } catch (failure) {
      setError(failure.code ? failure : { code: 'ValidationError', message: failure.message });
    }
  };
  return html`<section aria-labelledby="settings-title">
    <h2 id="settings-title">Settings</h2>
    <form onSubmit=${submit}>
      <${Field} label="Description" value=${form.description} onInput=${set('description')} />
      <${Field}
        label="Tags"
        value=${form.tags}
        onInput=${set('tags')}
        placeholder="team=payments, env=prod"
      />
      <${Field}
        label="Rotation period (days)"
        type="number"
        min="1"
        value=${form.rotationPeriodDays}
        onInput=${set('rotationPeriodDays')}
        hint="empty: no automatic rotation"
      />
      <${Field}
        label="Expires at"
        type="datetime-local"
        value=${form.expiresAt}
        onInput=${set('expiresAt')}
        hint="your local time; empty: never"
      />
      <${Action} label="Save settings" type="submit" decision=${decision} />
      <${ErrorMessage} error=${error} />
    </form>
  </section>`;
}

function Versions({ keyId, generation }) {
  const versions = useLoad(() => call('GET', `${keyPath(keyId)}/versions`), [keyId, generation]);
  return html`<section aria-labelledby="versions-title">
    <h2 id="versions-title">Versions</h2>
    <${ErrorMessage} error=${versions.error} />
    ${
      versions.value
        ? html`<${Table}
            columns=${['Version', 'State', 'Created']}
            items=${versions.value.versions}
            row=${(v) =>
              html`<td>${v.version}</td>
                <td>${v.state}</td>
                <td>${when(v.createdAt)}</td>`}
          />`
        : null
    }
  </section>`;
}

/** The public half of an asymmetric key, offered as a PEM file (never any private material). */
function PublicKey({ record: key, decision }) {
  const [error, setError] = useState(null);
  if (!/^(RSA|ECC)/.test(key.keySpec)) return null;
  const download = async () => {
    setError(null);
    try {
      const { publicKey } = await call('GET', `${keyPath(key.keyId)}/public-key`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([publicKey], { type: 'application/x-pem-file' }));
      link.download = `${key.keyId}.pem`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="public-title">
    <h2 id="public-title">Public key</h2>
    <${Action} label="Download public key (PEM)" decision=${decision} onClick=${download} />
    <${ErrorMessage} error=${error} />
  </section>`;
}
