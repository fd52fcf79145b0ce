// The transport's own fetch, over node:http and node:https with kept-alive connections (Node's
// global agents, or an agent of the client's own for TLS options). It is what the SDK uses unless
// given a fetch of its own:
// - it costs about a third of the CPU per request of Node's global fetch (undici): 155 against
//   450 µs for one small JSON call on loopback at 16 in flight (docs/architecture.md);
// - Node's global fetch takes no TLS options (a private CA, a client certificate);
// - node:https reports what went wrong in the handshake itself (a server's TLS alert, a refused
//   client certificate as a hang-up), where the undici package's fetch, tried first, reported
//   "other side closed" and now and then never settled.
import {
  type Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TransportFetch, TransportResponse } from './http-transport.js';

/** PEM text or bytes, as node:tls takes them. */
export type Pem = string | Buffer;

export interface ClientTlsOptions {
  /** CA certificates trusted for the server's certificate, instead of the system's. */
  ca?: Pem;
  /** Client certificate (with its chain, if any) for a server that requires mutual TLS. */
  cert?: Pem;
  /** The client certificate's private key. */
  key?: Pem;
}

export function hasTlsOptions({ ca, cert, key }: ClientTlsOptions): boolean {
  return ca !== undefined || cert !== undefined || key !== undefined;
}

/**
 * For https:// endpoints. Without TLS options, over Node's global agent (kept alive, shared by
 * every client, as fetch's pool is, and on Node 24 it follows NODE_USE_ENV_PROXY); with them, over
 * an agent of this client's own.
 */
export function httpsFetch({ ca, cert, key }: ClientTlsOptions = {}): TransportFetch {
  if (!hasTlsOptions({ ca, cert, key })) return agentFetch(httpsRequest, undefined, false);
  // Keep-alive: one handshake per connection rather than per request. Idle sockets do not keep the
  // process alive (the agent unrefs them), so a CLI command still exits when it is done, and close
  // after 5 s idle, as the global agents' do, so clients made one per request do not pile them up.
  const agent = new HttpsAgent({
    keepAlive: true,
    timeout: 5000,
    ...(ca !== undefined && { ca }),
    ...(cert !== undefined && { cert, key }),
  });
  return agentFetch(httpsRequest, agent, cert !== undefined);
}

/** For http:// endpoints, over Node's global agent (kept alive since Node 19). */
export function httpFetch(): TransportFetch {
  return agentFetch(httpRequest, undefined, false);
}

type Send = (
  url: URL,
  options: RequestOptions,
  onResponse: Parameters<typeof httpRequest>[2],
) => ClientRequest;

/**
 * Methods whose request, sent twice, does what it does once (RFC 9110 9.2.2). Of Keyhaven's, GET,
 * PUT and DELETE; a PUT with a precondition (If-None-Match) is not, since its second sending meets
 * what its first wrote.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

function agentFetch(send: Send, agent: HttpAgent | undefined, offersCertificate: boolean): TransportFetch {
  const once = (
    url: URL,
    { method, headers, body, signal }: Parameters<TransportFetch>[1],
    retried: boolean,
  ): Promise<TransportResponse> =>
    new Promise<TransportResponse>((resolve, reject) => {
      let answered = false;
      const request = send(url, { method, headers, agent, signal }, (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        // A connection lost mid-body ends the stream without 'end'; reject is a no-op after resolve.
        response.on('close', () => {
          if (!response.complete) reject(new Error('the connection closed before the response ended'));
        });
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            ok: status >= 200 && status < 300,
            status,
            statusText: response.statusMessage ?? '',
            headers: { get: (name) => headerValue(response.headers[name.toLowerCase()]) },
            text: async () => text,
          });
        });
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed as this request went out on it (its idle
        // timeout; Node's agent stops reusing one a second before the server's Keep-Alive hint,
        // so this is rare): it goes once more on a new connection, as Node's documentation of
        // request.reusedSocket advises. Only when nothing was answered, and only a request that
        // may be sent twice: a server that took the request and then died (its worker killed, a
        // balancer's reset) looks the same from here.
        const resend =
          request.reusedSocket &&
          error.code === 'ECONNRESET' &&
          !answered &&
          !retried &&
          !signal.aborted &&
          IDEMPOTENT.has(method) &&
          !Object.keys(headers).some((name) => name.toLowerCase() === 'if-none-match');
        if (resend) {
          resolve(once(url, { method, headers, body, signal }, true));
          return;
        }
        // Under TLS 1.3 a server checks the client certificate after the client's handshake is
        // done; a Node server refusing one closes the new connection without a word.
        const refused = offersCertificate && !request.reusedSocket && error.code === 'ECONNRESET';
        reject(refused ? new UnansweredConnectionError(error) : error);
      });
      request.end(body);
    });
  return (url, init) => once(url, init, false);
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A fresh connection that offered a client certificate and was closed before any answer. */
class UnansweredConnectionError extends Error {
  readonly code = 'ECONNRESET';

  constructor(cause: Error) {
    super(`${cause.message} before answering: the server may not accept the client certificate`, { cause });
    this.name = 'UnansweredConnectionError';
  }
}
