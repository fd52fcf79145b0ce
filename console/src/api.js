// The console's only way to the server: the REST API, with the signed-in credential held in this
// module's memory (never a cookie, never Web Storage), so closing or reloading the tab signs out.

/** An error answer of the API, with its code and message as the server gave them. */
export class ApiError extends Error {
  constructor(status, code, message, requestId, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    /** The whole answer (GET /ready answers 503 with the backends' state). */
    this.body = body;
  }
}

let token = null;
const listeners = new Set();

export function signIn(secret) {
  token = secret;
}

export function signOut() {
  token = null;
  for (const listener of listeners) listener();
}

/** Called when the server says the credential no longer holds (401): the console signs out. */
export function onSignedOut(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Calls the API; resolves with the JSON answer (or the text for text/plain), throws ApiError.
 * `extraHeaders` adds request headers (a precondition such as If-None-Match).
 */
export async function call(method, path, body, extraHeaders = {}) {
  const headers = { ...extraHeaders, accept: 'application/json' };
  const sent = token;
  if (sent !== null) headers.authorization = `Bearer ${sent}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NetworkError', 'the server could not be reached', '');
  }
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') ?? '';
  const answer = type.includes('json') ? await response.json() : await response.text();
  if (response.ok) return answer;
  // The credential no longer holds (revoked, expired): the console signs out rather than go on
  // showing pages it cannot load.
  // Only if it is still the credential signed in: a late answer to an earlier one changes nothing.
  if (response.status === 401 && sent !== null && token === sent) signOut();
  const error = typeof answer === 'object' && answer !== null ? answer.error : undefined;
  throw new ApiError(
    response.status,
    error?.code ?? `HTTP ${response.status}`,
    error?.message ?? response.statusText,
    error?.requestId ?? response.headers.get('x-request-id') ?? '',
    answer,
  );
}

/** The items of a list route (`field` of each page) across its pages, at most `max` of them. */
export async function everyPage(path, field, max) {
  const items = [];
  let cursor;
  do {
    const page = await call('GET', `${path}${query({ limit: Math.min(100, max - items.length), cursor })}`);
    items.push(...page[field]);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

/** A query string of the defined, non-empty values. */
export function query(values) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** The key path segment for an id or alias (aliases keep their slash encoded). */
export const keyPath = (keyId) => `/v1/keys/${encodeURIComponent(keyId)}`;
