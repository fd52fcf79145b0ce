// Policies: the list, an editor that checks the document as it is typed, the version history with
// rollback, and the simulator (principal, action, key, context: the decision and its statement).
import { useState } from 'preact/hooks';
import { call, everyPage, query } from '../api.js';
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
import { policyProblems } from '../policy-document.js';

const PAGE_SIZE = 50;
/** The principals the attach and simulator pickers offer (a few pages of the list). */
const MAX_PRINCIPALS = 1000;

const EXAMPLE = JSON.stringify(
  {
    statements: [
      {
        sid: 'example',
        effect: 'deny',
        principals: ['principal:...'],
        actions: ['Encrypt'],
        resources: ['*'],
      },
    ],
  },
  null,
  2,
);

export function PoliciesPage() {
  const [generation, setGeneration] = useState(0);
  const [selected, setSelected] = useState(null);
  const list = usePaged(
    (cursor) => call('GET', `/v1/policies${query({ limit: PAGE_SIZE, cursor })}`),
    [generation],
    'Pages of the policy list',
  );
  const allowed = usePermissions(
    [
      'CreatePolicy',
      'UpdatePolicy',
      'RollbackPolicy',
      'SimulatePolicy',
      'PutPrincipalPolicies',
      'UpdateTenant',
    ],
    undefined,
    generation,
  );
  const principals = useLoad(
    () => everyPage('/v1/principals', 'principals', MAX_PRINCIPALS).catch(() => []),
    [generation],
  );
  const principalList = principals.value ?? [];
  const changed = (policy) => {
    setSelected(policy);
    setGeneration((g) => g + 1);
  };
  return html`<${Heading}>Policies</${Heading}>
    <section aria-labelledby="policies-title">
      <h2 id="policies-title">Policy list</h2>
      <${ErrorMessage} error=${list.error} />
      ${
        list.value
          ? html`<${Table}
              columns=${['Name', 'Policy id', 'Tenant', 'Version', 'Edit']}
              items=${list.value.policies}
              row=${(policy) =>
                html`<td>${policy.name}</td>
                  <td class="mono">${policy.policyId}</td>
                  <td>${policy.tenantId}</td>
                  <td>${policy.version}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      onClick=${() => setSelected(policy)}
                      aria-label=${`Edit ${policy.name}`}
                    >
                      Edit
                    </button>
                  </td>`}
            />`
          : null
      }
      ${list.pager}
      <p><button type="button" class="secondary" onClick=${() => setSelected(null)}>New policy</button></p>
    </section>
    <${Editor} key=${selected ? `${selected.policyId}@${selected.version}` : 'new'} policy=${selected} allowed=${allowed} onSaved=${changed} />
    ${
      selected
        ? html`<${Attachments}
              policy=${selected}
              principals=${principalList}
              allowed=${allowed}
              onAttached=${() => setGeneration((g) => g + 1)}
            />
            <${History}
              policy=${selected}
              decision=${allowed.RollbackPolicy}
              generation=${generation}
              onRolledBack=${changed}
            />`
        : null
    }
    <${Simulator} decision=${allowed.SimulatePolicy} principals=${principalList} />`;
}

function Editor({ policy, allowed, onSaved }) {
  const [name, setName] = useState(policy?.name ?? '');
  const [text, setText] = useState(policy ? JSON.stringify(policy.document, null, 2) : EXAMPLE);
  const [error, setError] = useState(null);
  const problems = policyProblems(text);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const document = JSON.parse(text);
      const answer = policy
        ? await call('PUT', `/v1/policies/${encodeURIComponent(policy.policyId)}`, { document })
        : await call('POST', '/v1/policies', { name, document });
      onSaved(answer.policy);
    } catch (failure) {
      setError(failure);
    }
  };
  const decision = policy ? allowed.UpdatePolicy : allowed.CreatePolicy;
  return html`<section aria-labelledby="editor-title">
    <h2 id="editor-title">${policy ? `Edit ${policy.name} (version ${policy.version})` : 'New policy'}</h2>
    <form onSubmit=${submit}>
      ${policy ? null : html`<${Field} label="Name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} required />`}
      <${Field}
        label="Document (JSON)"
        as="textarea"
        value=${text}
        spellcheck="false"
        onInput=${(e) => setText(e.currentTarget.value)}
      />
      ${
        problems.length
          ? html`<ul class="validation" aria-live="polite" aria-label="Problems in the document">
              ${problems.map((p) => html`<li>${p}</li>`)}
            </ul>`
          : html`<p class="reason" aria-live="polite">The document is well formed.</p>`
      }
      <${Action}
        label=${policy ? 'Save new version' : 'Create policy'}
        type="submit"
        decision=${decision}
        blocked=${problems.length ? 'the document has problems' : !policy && name === '' ? 'the policy needs a name' : undefined}
      />
      <${ErrorMessage} error=${error} />
    </form>
  </section>`;
}

function History({ policy, decision, generation, onRolledBack }) {
  const versions = useLoad(
    () => call('GET', `/v1/policies/${encodeURIComponent(policy.policyId)}/versions`),
    [policy.policyId, generation],
  );
  const [error, setError] = useState(null);
  const rollback = (version) => async () => {
    setError(null);
    try {
      const answer = await call('POST', `/v1/policies/${encodeURIComponent(policy.policyId)}/rollback`, {
        version,
      });
      onRolledBack(answer.policy);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section aria-labelledby="history-title">
    <h2 id="history-title">History of ${policy.name}</h2>
    <${ErrorMessage} error=${versions.error ?? error} />
    ${
      versions.value
        ? html`<${Table}
            columns=${['Version', 'Created', 'Effective', 'Statements', 'Rollback']}
            items=${versions.value.versions}
            row=${(v) =>
              html`<td>${v.version}</td>
                <td>${when(v.createdAt)}</td>
                <td>${when(v.effectiveAt)}</td>
                <td>${v.document.statements.map((s) => `${s.effect} ${s.actions.join(' ')}`).join('; ')}</td>
                <td>
                  <${Action}
                    label=${`Roll back to version ${v.version}`}
                    decision=${decision}
                    onClick=${rollback(v.version)}
                  />
                </td>`}
          />`
        : null
    }
  </section>`;
}

/** The principal picker's options: each principal by name and id. */
const principalOptions = (principals, selected) =>
  principals.map(
    (p) =>
      html`<option value=${p.principalId} selected=${p.principalId === selected}>
        ${p.name} (${p.principalId})
      </option>`,
  );

/** A policy applies once it is attached: to principals one by one, or to its whole tenant. */
function Attachments({ policy, principals, allowed, onAttached }) {
  const [principalId, setPrincipalId] = useState('');
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const attachedTo = principals.filter((p) => p.policyIds.includes(policy.policyId));
  const run = (what, work) => async () => {
    setError(null);
    setDone(null);
    try {
      await work();
      setDone(what);
      onAttached();
    } catch (failure) {
      setError(failure);
    }
  };
  const toPrincipal = run('Attached to the principal', async () => {
    const { principal } = await call('GET', `/v1/principals/${encodeURIComponent(principalId)}`);
    const policyIds = [...new Set([...principal.policyIds, policy.policyId])];
    await call('PUT', `/v1/principals/${encodeURIComponent(principalId)}/policies`, { policyIds });
  });
  const toTenant = run(`Attached to tenant ${policy.tenantId}`, async () => {
    const path = `/v1/tenants/${encodeURIComponent(policy.tenantId)}`;
    const { tenant } = await call('GET', path);
    await call('PATCH', path, { policyIds: [...new Set([...tenant.policyIds, policy.policyId])] });
  });
  return html`<section aria-labelledby="attach-title">
    <h2 id="attach-title">Where ${policy.name} applies</h2>
    <p>Attached to: ${attachedTo.length ? attachedTo.map((p) => p.name).join(', ') : 'no principal listed here'}</p>
    <div class="toolbar">
      <${Field} label="Principal to attach to" as="select" value=${principalId} onChange=${(e) => setPrincipalId(e.currentTarget.value)}>
        <option value="">choose a principal</option>
        ${principalOptions(principals, principalId)}
      </${Field}>
      <${Action} label="Attach to principal" decision=${allowed.PutPrincipalPolicies} blocked=${principalId ? undefined : 'choose a principal'} onClick=${toPrincipal} />
      <${Action} label="Attach to the whole tenant" decision=${allowed.UpdateTenant} onClick=${toTenant} />
    </div>
    <${Notice}>${done}<//>
    <${ErrorMessage} error=${error} />
  </section>`;
}

function Simulator({ decision, principals }) {
  const [form, setForm] = useState({ principalId: '', action: 'Encrypt', keyId: '', context: '' });
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const set = (name) => (event) => setForm({ ...form, [name]: event.currentTarget.value });
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setAnswer(null);
    try {
      const body = { principalId: form.principalId, action: form.action };
      if (form.keyId) body.keyId = form.keyId;
      if (form.context) body.context = JSON.parse(form.context);
      setAnswer(await call('POST', '/v1/simulate', body));
    } catch (failure) {
      setError(failure.code ? failure : { code: 'ValidationError', message: `context: ${failure.message}` });
    }
  };
  return html`<section aria-labelledby="simulator-title">
    <h2 id="simulator-title">Simulator</h2>
    <form onSubmit=${submit}>
      <div class="columns">
        <div>
          <${Field} label="Principal" as="select" value=${form.principalId} onChange=${set('principalId')} required>
            <option value="">choose a principal</option>
            ${principalOptions(principals, form.principalId)}
          </${Field}>
          <${Field} label="Action" value=${form.action} onInput=${set('action')} required />
        </div>
        <div>
          <${Field} label="Key (id or alias)" value=${form.keyId} onInput=${set('keyId')} />
          <${Field} label="Encryption context (JSON)" value=${form.context} onInput=${set('context')} placeholder='{"purpose": "test"}' />
        </div>
      </div>
      <${Action} label="Simulate" type="submit" decision=${decision} blocked=${form.principalId ? undefined : 'choose a principal'} />
    </form>
    <${ErrorMessage} error=${error} />
    ${
      answer
        ? html`<div
            class=${answer.decision === 'allow' ? 'notice' : 'error'}
            role="status"
            data-testid="simulation"
          >
            <strong>${answer.decision === 'allow' ? 'Allowed' : 'Denied'}</strong>: ${answer.reason}
            ${
              answer.decidedBy
                ? html`<br />Deciding statement: policy
                    <span class="mono">${answer.decidedBy.policyId}</span> version
                    ${answer.decidedBy.version}${answer.decidedBy.sid ? html`, statement <strong>${answer.decidedBy.sid}</strong>` : null}`
                : html`<br />No statement decided: the default is deny.`
            }
          </div>`
        : null
    }
  </section>`;
}
