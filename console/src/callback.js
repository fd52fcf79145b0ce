// The OpenID Connect redirect target, opened in the sign-in popup: it hands the authorization
// code to the console window that opened it (same origin only) and closes. The code is worth
// nothing without the PKCE verifier, which never left that window's memory.
const params = new URLSearchParams(location.search);
const answer = {
  type: 'keyhaven-oidc-callback',
  code: params.get('code'),
  state: params.get('state'),
  error: params.get('error'),
  errorDescription: params.get('error_description'),
};
if (window.opener) {
  window.opener.postMessage(answer, location.origin);
  window.close();
} else {
  document.querySelector('h1').textContent = 'Sign-in must start from the Keyhaven console.';
}
