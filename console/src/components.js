// Pieces every page uses: the error box (the API's code and message), a labelled field, and an
// action button that is disabled, with the reason said beside it, when the action is not allowed.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

let nextId = 0;
/** A stable id for label/aria-describedby pairs. */
export function useId(prefix) {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

export function ErrorMessage({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.code ?? 'Error'}</strong>: ${error.message}
    ${error.requestId ? html` <span class="mono">(request ${error.requestId})</span>` : null}
  </div>`;
}

export function Notice({ children }) {
  return children ? html`<div class="notice" role="status">${children}</div>` : null;
}

/** A labelled input, select or textarea; `as` picks the element. */
export function Field({ label, as = 'input', children, hint, ...props }) {
  const id = useId('field');
  const hintId = hint ? `${id}-hint` : undefined;
  const control =
    as === 'select'
      ? html`<select id=${id} aria-describedby=${hintId} ...${props}>
          ${children}
        </select>`
      : as === 'textarea'
        ? html`<textarea id=${id} aria-describedby=${hintId} ...${props}></textarea>`
        : html`<input id=${id} aria-describedby=${hintId} ...${props} />`;
  if (props.type === 'checkbox')
    return html`<div class="field check">${control}<label for=${id}>${label}</label></div>`;
  return html`<div class="field">
    <label for=${id}>${label}</label
    >${control}${hint ? html`<span id=${hintId} class="reason">${hint}</span>` : null}
  </div>`;
}

export const options = (values, selected) =>
  values.map((value) => html`<option value=${value} selected=${value === selected}>${value}</option>`);

/**
 * A button for `decision` ({allowed, reason} from usePermissions, or undefined while asked). A
 * local refusal (`blocked`: the key's state forbids it) is said the same way.
 */
export function Action({ label, decision, blocked, onClick, kind = '', type = 'button' }) {
  const id = useId('action');
  const reason =
    blocked ?? (decision === undefined ? 'checking permission…' : decision.allowed ? null : decision.reason);
  return html`<span class="action">
    <button
      type=${type}
      class=${kind}
      disabled=${reason !== null}
      aria-describedby=${reason ? `${id}-why` : undefined}
      onClick=${onClick}
    >
      ${label}
    </button>
    ${reason ? html`<span id=${`${id}-why`} class="reason">${reason}</span>` : null}
  </span>`;
}

/**
 * A table of `items`: a header of `columns` and, for each item, the cells `row(item)` makes;
 * `empty` (a sentence) when there are none. Extra props (a data-testid) go to the table.
 */
export function Table({ columns, items, row, empty, caption, ...props }) {
  if (empty !== undefined && items.length === 0) return html`<p>${empty}</p>`;
  return html`<table ...${props}>
    ${
      caption
        ? html`<caption class="reason">
            ${caption}
          </caption>`
        : null
    }
    <thead>
      <tr>
        ${columns.map((name) => html`<th scope="col">${name}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${items.map(
        (item) =>
          html`<tr>
            ${row(item)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** Runs `load` when `deps` change; {value, error, reload}. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ value: undefined, error: null });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setState({ value, error: null }),
      (error) => current && setState({ value: undefined, error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);
  return { ...state, reload: () => setGeneration((g) => g + 1) };
}

/**
 * One page at a time of a list route answering `{..., nextCursor}`: `load(cursor)` fetches a page.
 * {value, error, reload, first (back to page 1, for a new filter), pager (its Previous and Next
 * buttons, in a navigation landmark named `label`)}.
 */
export function usePaged(load, deps, label) {
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => load(cursor), [...deps, cursor]);
  const next = page.value?.nextCursor;
  const pager = html`<nav class="toolbar" aria-label=${label}>
    <button
      type="button"
      class="secondary"
      disabled=${cursors.length < 2}
      onClick=${() => setCursors(cursors.slice(0, -1))}
    >
      Previous page
    </button>
    <span class="reason" data-testid="page-number">Page ${cursors.length}</span>
    <button type="button" class="secondary" disabled=${!next} onClick=${() => setCursors([...cursors, next])}>
      Next page
    </button>
  </nav>`;
  return { ...page, first: () => setCursors([null]), pager };
}

/** The page's heading: the app focuses it when the page changes (tabindex -1 makes that possible). */
export function Heading({ children }) {
  return html`<h1 tabindex="-1">${children}</h1>`;
}

export const when = (iso) =>
  iso ? new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC' }) + ' UTC' : '—';
