// A tiny request helper over plain fetch for the REST integration suite, plus assertions on the
// error model of API.md. Deliberately not the SDK in src/client: these tests pin the wire contract.
import { expect } from 'vitest';
import type { ErrorBody } from './wire-types.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: T;
  text: string;
}

export interface RequestOptions {
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as-is (malformed or oversized bodies). */
  raw?: string;
  headers?: Record<string, string>;
  /** Bearer token; null sends no Authorization header. Defaults to the client's token. */
  token?: string | null;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token !== null) headers.authorization ??= `Bearer ${token}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw;
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get<T = unknown>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }
  post<T = unknown>(path: string, json?: unknown, options?: RequestOptions) {
    return this.request<T>('POST', path, { ...options, json });
  }
  put<T = unknown>(path: string, json?: unknown, options?: RequestOptions) {
    return this.request<T>('PUT', path, { ...options, json });
  }
  patch<T = unknown>(path: string, json?: unknown, options?: RequestOptions) {
    return this.request<T>('PATCH', path, { ...options, json });
  }
  delete<T = unknown>(path: string, options?: RequestOptions) {
    return this.request<T>('DELETE', path, options);
  }

  /** Sends the request and expects a 2xx; returns the parsed body. */
  async ok<T>(method: string, path: string, json?: unknown): Promise<T> {
    const response = await this.request<T>(method, path, { json });
    expectSuccess(response, `${method} ${path}`);
    return response.body;
  }
}

export function expectSuccess(response: ApiResponse, what = 'request'): void {
  if (response.status < 200 || response.status > 299) {
    expect.fail(`${what} answered ${response.status}: ${response.text}`);
  }
}

/** Asserts API.md's error model: the status, `{"error":{"code","message","requestId"}}`, and the id header. */
export function expectError(response: ApiResponse, status: number, code: string): ErrorBody['error'] {
  expect({ status: response.status, body: response.text }).toMatchObject({ status });
  const body = response.body as ErrorBody;
  expect(body?.error?.code, response.text).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.requestId).toBe(response.headers.get('x-request-id'));
  return body.error;
}

/** Asserts a 4xx in the error model, whatever the code: for inputs where several codes are defensible. */
export function expectClientError(response: ApiResponse): ErrorBody['error'] {
  expect(response.status, response.text).toBeGreaterThanOrEqual(400);
  expect(response.status, response.text).toBeLessThan(500);
  const body = response.body as ErrorBody;
  expect(body?.error, response.text).toMatchObject({
    code: expect.any(String),
    message: expect.any(String),
    requestId: response.headers.get('x-request-id'),
  });
  return body.error;
}

/** Path segment for a key reference: aliases and ARN-like names contain '/' and ':'. */
export const ref = (keyReference: string) => encodeURIComponent(keyReference);

export const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64');
export const unb64 = (value: string) => Buffer.from(value, 'base64');

/** Runs `run` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
