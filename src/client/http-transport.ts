// One HTTP exchange with a Keyhaven server: bearer auth, timeout, JSON in and out, and the mapping of
// every failure (error body, non-JSON reply, network error, timeout) to a KeyhavenError.
import { KeyhavenError, fallbackCodeForStatus } from './errors.js';

export type QueryValue = string | number | boolean | undefined;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Statuses other than 2xx that carry a normal answer (GET /ready answers 503 when not ready). */
  acceptStatuses?: readonly number[];
}

export interface HttpResponse {
  status: number;
  requestId: string | undefined;
  text: string;
}

export interface HttpTransportOptions {
  endpoint: string;
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export class HttpTransport {
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: HttpTransportOptions) {
    // Trailing slashes would make `${base}/v1/...` a different path on strict routers.
    this.baseUrl = options.endpoint.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    const url = new URL(this.baseUrl + request.path);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    // No token, no header: /ready answers anonymous callers with its status only, and a header
    // holding an empty bearer token would be refused as a wrong credential.
    if (this.token !== '') headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }

    let response: Response;
    let text: string;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      response = await this.fetchImpl(url, { method: request.method, headers, body, signal });
      // The body read is inside the try: a connection dropped mid-body is a network failure too.
      text = await response.text();
    } catch (cause) {
      throw networkError(cause, request, this.timeoutMs, signal.aborted);
    }

    const requestId = response.headers.get('x-request-id') ?? undefined;
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

function networkError(
  cause: unknown,
  request: HttpRequest,
  timeoutMs: number,
  timedOut: boolean,
): KeyhavenError {
  const what = `${request.method} ${request.path}`;
  if (timedOut) return new KeyhavenError('Unavailable', `${what} timed out after ${timeoutMs} ms`, { cause });
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED ...) in `cause`.
  const detail = describeCause(cause);
  return new KeyhavenError('Unavailable', `${what} failed: ${detail}`, { cause });
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner: unknown = cause.cause;
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code;
    return code ? `${code} (${inner.message})` : inner.message;
  }
  return cause.message;
}

function errorFromResponse(
  response: Response,
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
