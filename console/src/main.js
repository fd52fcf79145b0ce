// The Keyhaven admin console: sign-in, then one page per resource, chosen by the location's hash
// (#/keys, #/keys/<id>, ...) so that the server serves one document and needs no route per page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, onSignedOut, signIn, signOut } from './api.js';
import { ErrorMessage, Field } from './components.js';
import { html } from './html.js';
import { forgetPermissions } from './permissions.js';
import { consoleSettings, signInWithIssuer } from './oidc.js';
import { KeysPage } from './pages/keys.js';
import { KeyPage } from './pages/key.js';
import { PoliciesPage } from './pages/policies.js';
import { AuditPage } from './pages/audit.js';
import { PrincipalPage, PrincipalsPage } from './pages/principals.js';
import { TenantsPage } from './pages/tenants.js';
import { SystemPage } from './pages/system.js';

const PAGES = [
  ['keys', 'Keys'],
  ['policies', 'Policies'],
  ['principals', 'Principals'],
  ['tenants', 'Tenants'],
  ['audit', 'Audit'],
  ['system', 'System'],
];

function currentRoute() {
  const decode = (part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part; // a malformed escape (#/keys/%E0): the id as typed, which the server will not find
    }
  };
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decode);
  return { page: parts[0] || 'keys', id: parts[1] };
}

function SignIn({ onSignedIn }) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState(null);
  useEffect(() => {
    consoleSettings().then(
      (settings) => setOidc(settings.oidc),
      () => setOidc(null),
    );
  }, []);
  /** Signs in with `token` if the server accepts it (any authenticated call would do; this one names the principal). */
  const tryToken = async (token) => {
    signIn(token);
    try {
      const answer = await call('POST', '/v1/auth/verify', { action: 'ListKeys' });
      onSignedIn(answer.principalId);
    } catch (failure) {
      signOut();
      throw failure;
    }
  };
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await tryToken(secret);
      setSecret('');
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const withIssuer = async () => {
    setError(null);
    // Opened in the click itself, or the browser blocks it.
    const popup = window.open('about:blank', 'keyhaven-sign-in', 'popup,width=520,height=680');
    if (!popup)
      return setError({ code: 'PopupBlocked', message: 'allow this page to open the sign-in window' });
    setBusy(true);
    try {
      await tryToken(await signInWithIssuer(oidc, popup));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main">
    <h1>Sign in to Keyhaven</h1>
    <form onSubmit=${submit}>
      <${Field}
        label="API key"
        type="text"
        class="secret-input"
        autocomplete="off"
        autocapitalize="off"
        spellcheck="false"
        value=${secret}
        onInput=${(e) => setSecret(e.currentTarget.value)}
        hint="The secret of an API key (khk_…) or an access token. It is kept in this tab's memory only."
        required
      />
      <button type="submit" disabled=${busy || secret === ''}>Sign in</button>
    </form>
    ${
      oidc
        ? html`<section aria-labelledby="sso-title">
            <h2 id="sso-title">Single sign-on</h2>
            <p>Through <span class="mono">${oidc.issuer}</span> (a window of the issuer opens).</p>
            <button type="button" disabled=${busy} onClick=${withIssuer}>
              Sign in with the identity provider
            </button>
          </section>`
        : null
    }
    <${ErrorMessage} error=${error} />
  </main>`;
}

function App() {
  const [principalId, setPrincipalId] = useState(null);
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    const unsubscribe = onSignedOut(() => {
      forgetPermissions();
      setPrincipalId(null);
    });
    return () => {
      removeEventListener('hashchange', changed);
      unsubscribe();
    };
  }, []);
  useEffect(() => {
    document.querySelector('main h1')?.focus();
  }, [route.page, route.id, principalId]);

  if (principalId === null) return html`<${SignIn} onSignedIn=${setPrincipalId} />`;
  const page = pageFor(route);
  return html`<a class="skip-link" href="#main" onClick=${skipToMain}>Skip to content</a>
    <header>
      <span class="brand">Keyhaven</span>
      <nav aria-label="Console">
        <ul>
          ${PAGES.map(
            ([name, label]) =>
              html`<li>
                <a href=${`#/${name}`} aria-current=${route.page === name ? 'page' : undefined}>${label}</a>
              </li>`,
          )}
        </ul>
      </nav>
      <div class="session">
        <span class="who">Signed in as <span class="mono">${principalId}</span></span>
        <button type="button" class="secondary" onClick=${() => signOut()}>Sign out</button>
      </div>
    </header>
    <main id="main">${page}</main>`;
}

/** Each route gets a page of its own (keyed by it): no state of one key's page shows on another's. */
function pageFor({ page, id }) {
  const key = `${page}/${id ?? ''}`;
  switch (page) {
    case 'keys':
      return id ? html`<${KeyPage} key=${key} keyId=${id} />` : html`<${KeysPage} />`;
    case 'policies':
      return html`<${PoliciesPage} />`;
    case 'principals':
      return id ? html`<${PrincipalPage} key=${key} principalId=${id} />` : html`<${PrincipalsPage} />`;
    case 'tenants':
      return html`<${TenantsPage} />`;
    case 'audit':
      return html`<${AuditPage} />`;
    case 'system':
      return html`<${SystemPage} />`;
    default:
      return html`<${KeysPage} />`;
  }
}

/** The skip link's target is the main element, not a route: keep the hash as it is. */
function skipToMain(event) {
  event.preventDefault();
  document.querySelector('main h1')?.focus();
}

render(html`<${App} />`, document.getElementById('app'));
