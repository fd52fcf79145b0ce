// Sign-in through an external OpenID Connect issuer: authorization code with PKCE (RFC 7636,
// S256), the issuer's page in a popup so that the verifier and the token stay in this window's
// memory (no redirect of this page, hence no storage to survive one). The token obtained is
// presented to Keyhaven as a Bearer token; Keyhaven verifies it against the issuer's keys.

const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const randomText = (size) => base64url(crypto.getRandomValues(new Uint8Array(size)));

/** An error in the console's {code, message} shape. */
const failure = (code, message) => Object.assign(new Error(message), { code });

/** The console's settings (GET /ui/config.json): {oidc: {issuer, clientId, scope, tokenEndpoint?} or null}. */
export async function consoleSettings() {
  const response = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
  return response.ok ? response.json() : { oidc: null };
}

/**
 * Runs the whole flow; resolves with the access token. `popup` is a window opened by the click
 * handler itself (browsers block popups opened later).
 */
export async function signInWithIssuer(oidc, popup) {
  try {
    return await codeFlow(oidc, popup);
  } finally {
    // Closed by the callback page on success; on any failure, not left open at about:blank.
    if (!popup.closed) popup.close();
  }
}

async function codeFlow(oidc, popup) {
  const discoveryUrl = `${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let discovery;
  try {
    discovery = await (await fetch(discoveryUrl, { credentials: 'omit' })).json();
  } catch {
    throw failure('OidcUnavailable', `the issuer's discovery document could not be read (${discoveryUrl})`);
  }
  // RFC 8414 section 3.3: the document must be the issuer's own.
  if (discovery?.issuer !== oidc.issuer)
    throw failure(
      'OidcMisconfigured',
      `the discovery document at ${discoveryUrl} is for issuer ${String(discovery?.issuer)}, not ${oidc.issuer}`,
    );
  // The Content-Security-Policy admits the issuer's origin and console.oidc.tokenEndpoint's only:
  // a token endpoint elsewhere would fail as an opaque network error, so say what to configure.
  const tokenEndpoint = oidc.tokenEndpoint ?? discovery.token_endpoint;
  const admitted = [oidc.issuer, oidc.tokenEndpoint].filter(Boolean).map((url) => new URL(url).origin);
  let tokenOrigin;
  try {
    tokenOrigin = new URL(tokenEndpoint).origin;
  } catch {
    throw failure('OidcUnavailable', "the issuer's discovery document names no token endpoint");
  }
  if (!admitted.includes(tokenOrigin)) {
    throw failure(
      'OidcMisconfigured',
      `the issuer's token endpoint ${tokenEndpoint} is on another origin: set console.oidc.tokenEndpoint to it`,
    );
  }
  const verifier = randomText(32);
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  const state = randomText(16);
  const redirectUri = new URL('callback.html', location.href).href;
  let authorize;
  try {
    authorize = new URL(discovery.authorization_endpoint);
  } catch {
    authorize = null;
  }
  // Only a web page may be opened in the popup (never javascript: or data:, which would run here).
  if (authorize === null || !['https:', 'http:'].includes(authorize.protocol)) {
    throw failure(
      'OidcUnavailable',
      "the issuer's discovery document names no http(s) authorization endpoint",
    );
  }
  for (const [name, value] of Object.entries({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: redirectUri,
    scope: oidc.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(name, value);
  popup.location.href = authorize.href;

  const answer = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (popup.closed) {
        cleanUp();
        reject(failure('OidcCancelled', 'the sign-in window was closed'));
      }
    }, 500);
    const onMessage = (event) => {
      if (
        event.origin !== location.origin ||
        event.source !== popup ||
        event.data?.type !== 'keyhaven-oidc-callback'
      )
        return;
      cleanUp();
      resolve(event.data);
    };
    const cleanUp = () => {
      clearInterval(timer);
      removeEventListener('message', onMessage);
    };
    addEventListener('message', onMessage);
  });
  if (answer.state !== state)
    throw failure('OidcError', 'the issuer answered for another sign-in (state mismatch)');
  if (answer.error) throw failure(answer.error, answer.errorDescription ?? 'the issuer refused the sign-in');

  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: answer.code,
      redirect_uri: redirectUri,
      client_id: oidc.clientId,
      code_verifier: verifier,
    }),
    credentials: 'omit',
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || typeof tokens.access_token !== 'string')
    throw failure(
      tokens.error ?? 'OidcError',
      tokens.error_description ?? `the token endpoint answered ${response.status}`,
    );
  return tokens.access_token;
}
