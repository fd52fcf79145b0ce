// One HTTP exchange with a Keyhaven server: bearer auth, timeout, JSON in and out, and the mapping of
// every failure (error body, non-JSON reply, network error, timeout) to a KeyhavenError.
import { KeyhavenError, fallbackCodeForStatus } from './errors.js';
import { hasTlsOptions, httpFetch, httpsFetch, type ClientTlsOptions } from './agent-fetch.js';
import { tlsFailureHint } from './tls-failures.js';

export type QueryValue = string | number | boolean | undefined;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Request headers beyond the transport's own (a precondition such as If-None-Match). */
  headers?: Record<string, string>;
  /** Statuses other than 2xx that carry a normal answer (GET /ready answers 503 when not ready). */
  acceptStatuses?: readonly number[];
}

export interface HttpResponse {
  status: number;
  requestId: string | undefined;
  text: string;
}

export interface HttpTransportOptions extends ClientTlsOptions {
  /** `http://` or `https://`; for a private CA or mutual TLS, add `ca` and `cert` with `key`. */
  endpoint: string;
  token: string;
  /** Replaces the transport's fetch; it brings its own TLS settings, so not together with ca/cert/key. */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** What the transport uses of a fetch, so agent-fetch.ts's, Node's and an injected one all fit. */
export type TransportFetch = (
  url: URL,
  init: {
    method: string;
    headers: Record<string, string>;
    body: string | undefined;
    signal: AbortSignal;
    /** Always 'manual': a redirect is answered as an error, never followed. */
    redirect?: 'manual';
  },
) => Promise<TransportResponse>;

export interface TransportResponse {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export class HttpTransport {
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly fetchImpl: TransportFetch;
  private readonly timeoutMs: number;

  constructor(options: HttpTransportOptions) {
    // Trailing slashes would make `${base}/v1/...` a different path on strict routers.
    this.baseUrl = options.endpoint.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = chooseFetch(options);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    const url = new URL(this.baseUrl + request.path);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { ...request.headers, accept: 'application/json' };
    // No token, no header: /ready answers anonymous callers with its status only, and a header
    // holding an empty bearer token would be refused as a wrong credential.
    if (this.token !== '') headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }

    let response: TransportResponse;
    let text: string;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      // No redirects: a 3xx from the endpoint would carry the request body (plaintext, data keys)
      // to wherever it points. A KMS endpoint never redirects; a 3xx is an error (as agent-fetch.ts).
      response = await this.fetchImpl(url, {
        method: request.method,
        headers,
        body,
        signal,
        redirect: 'manual',
      });
      // The body read is inside the try: a connection dropped mid-body is a network failure too.
      text = await response.text();
    } catch (cause) {
      throw networkError(cause, request, this.timeoutMs, signal.aborted);
    }

    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (response.status >= 300 && response.status < 400) {
      throw new KeyhavenError(
        'Unavailable',
        `${request.method} ${request.path}: the endpoint answered ${response.status}, a redirect; Keyhaven never redirects, so it was not followed (check the endpoint URL)`,
        { status: response.status, requestId },
      );
    }
    const accepted = response.ok || (request.acceptStatuses ?? []).includes(response.status);
    if (!accepted) throw errorFromResponse(response, text, requestId);
    return { status: response.status, requestId, text };
  }

  /** Sends a request and parses the JSON body (undefined for an empty body, e.g. 204). */
  async json(request: HttpRequest): Promise<{ status: number; body: unknown }> {
    const response = await this.send(request);
    if (response.text === '') return { status: response.status, body: undefined };
    try {
      return { status: response.status, body: JSON.parse(response.text) as unknown };
    } catch (cause) {
      throw new KeyhavenError(
        'Internal',
        `server sent a response that is not JSON (HTTP ${response.status})`,
        {
          status: response.status,
          requestId: response.requestId,
          cause,
        },
      );
    }
  }
}

function chooseFetch(options: HttpTransportOptions): TransportFetch {
  if (options.cert !== undefined && options.key === undefined) {
    throw new KeyhavenError(
      'ValidationError',
      'a client certificate needs its private key: give cert and key together',
    );
  }
  if (options.key !== undefined && options.cert === undefined) {
    throw new KeyhavenError(
      'ValidationError',
      'a client key needs its certificate: give cert and key together',
    );
  }
  const tls = hasTlsOptions(options);
  if (options.fetch) {
    if (tls) {
      throw new KeyhavenError(
        'ValidationError',
        'ca, cert and key configure the built-in https client: a custom fetch brings its own TLS settings',
      );
    }
    return options.fetch;
  }
  if (/^https:/i.test(options.endpoint)) return httpsFetch(options);
  // Refused rather than ignored: whoever set a CA or a client certificate expects TLS.
  if (tls) throw new KeyhavenError('ValidationError', 'ca, cert and key need an https:// endpoint');
  return httpFetch();
}

function networkError(
  cause: unknown,
  request: HttpRequest,
  timeoutMs: number,
  timedOut: boolean,
): KeyhavenError {
  const what = `${request.method} ${request.path}`;
  if (timedOut) return new KeyhavenError('Unavailable', `${what} timed out after ${timeoutMs} ms`, { cause });
  const detail = describeCause(cause);
  return new KeyhavenError('Unavailable', `${what} failed: ${detail}`, { cause });
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // node:http(s) (agent-fetch.ts) reports the socket's error itself; undici (Node's fetch, when it
  // is the fetch given) reports "fetch failed" and keeps the useful part (ECONNREFUSED ...) in `cause`.
  const ownCode = (cause as NodeJS.ErrnoException).code;
  const inner = ownCode === undefined && cause.cause instanceof Error ? cause.cause : cause;
  const code = (inner as NodeJS.ErrnoException).code;
  if (!code) return inner.message;
  // OpenSSL's message for its own codes is its error stack (file names, line numbers): the code says it.
  const hint = tlsFailureHint(code);
  if (code.startsWith('ERR_SSL_')) return hint ? `${code}: ${hint}` : code;
  return hint ? `${code} (${inner.message}): ${hint}` : `${code} (${inner.message})`;
}

function errorFromResponse(
  response: TransportResponse,
  text: string,
  headerRequestId: string | undefined,
): KeyhavenError {
  const apiError = parseApiError(text);
  const requestId = apiError?.requestId ?? headerRequestId;
  if (apiError)
    return new KeyhavenError(apiError.code, apiError.message, { status: response.status, requestId });
  const reason = response.statusText ? ` ${response.statusText}` : '';
  return new KeyhavenError(fallbackCodeForStatus(response.status), `HTTP ${response.status}${reason}`, {
    status: response.status,
    requestId,
  });
}

function parseApiError(text: string): { code: string; message: string; requestId?: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const error: unknown = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, requestId } = error as Record<string, unknown>;
  if (typeof code !== 'string') return undefined;
  return {
    code,
    message: typeof message === 'string' ? message : code,
    requestId: typeof requestId === 'string' ? requestId : undefined,
  };
}
