// A small closed-loop HTTP/1.1 load generator: N connections, each with one request in flight at a
// time, sending pre-encoded requests over raw keep-alive sockets. It parses only what it needs from a
// response (status line, Content-Length or chunked end, Connection: close), so it costs far less CPU
// per request than node:http or fetch — which matters when it shares two cores with the server.
// With several endpoints (the nodes of a cluster) the connections are spread over them in turn, as
// a layer-4 load balancer in front of the nodes would spread its clients' connections.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadEndpoint {
  host: string;
  port: number;
  /** Complete HTTP/1.1 requests (head and body) for this endpoint; connections cycle through them. */
  requests: Buffer[];
}

export interface LoadTarget {
  /**
   * Where the connections go: connection i to endpoints[i % n] (and back to the same one when it
   * reconnects). Every endpoint's `requests` hold the same requests in the same order (only the
   * Host header differs), so the request sequence does not depend on which node serves it.
   */
  endpoints: LoadEndpoint[];
  /** The status every response must have; anything else counts as an error. */
  expectStatus: number;
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  /** Hard stop for requests still in flight after the duration (they count as errors). */
  drainTimeoutMs?: number;
  /** Stop after sending this many requests, even before the duration ends. */
  maxRequests?: number;
  /**
   * Index of the first request to send (default 0): a caller that continues where its previous run
   * stopped (`firstRequest + sent`) walks through a large request pool instead of replaying its start.
   */
  firstRequest?: number;
}

export interface LoadResult {
  /** Requests that completed with the expected status within the measured window. */
  completed: number;
  /** Requests written, answered or not. */
  sent: number;
  errors: number;
  elapsedMs: number;
  requestsPerSecond: number;
  /** Latencies (ms) of the successful requests, sorted ascending. */
  latenciesMs: Float64Array;
  /** The first unexpected response or socket error, for diagnosis. */
  firstError?: string;
}

export function encodeRequest(
  method: string,
  host: string,
  port: number,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  contentType = 'application/json',
): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) {
    lines.push(`Content-Type: ${contentType}`, `Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]);
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n', 'latin1');

interface ParsedResponse {
  status: number;
  /** Bytes of the buffer this response used. */
  length: number;
  bodyStart: number;
  close: boolean;
}

/** Parses one complete response at the start of `data`, or returns undefined if more bytes are needed. */
function parseResponse(data: Buffer): ParsedResponse | undefined {
  const headerEnd = data.indexOf(HEADER_END);
  if (headerEnd < 0) return undefined;
  const head = data.toString('latin1', 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const bodyStart = headerEnd + HEADER_END.length;
  let length: number;
  const contentLength = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  if (contentLength) {
    length = bodyStart + Number(contentLength[1]);
    if (data.length < length) return undefined;
  } else if (/\r\ntransfer-encoding:\s*chunked/.test(lower)) {
    // JSON never holds a raw CRLF, so the first "\r\n0\r\n\r\n" is the terminating chunk.
    const end = data.indexOf(CHUNKED_END, bodyStart - 2);
    if (end < 0) return undefined;
    length = end + CHUNKED_END.length;
  } else {
    length = bodyStart;
  }
  return { status, length, bodyStart, close: /\r\nconnection:\s*close/.test(lower) };
}

/** The endpoint connection `connection` (0-based) of a run uses: the endpoints in turn. */
export function endpointOf<E>(endpoints: readonly E[], connection: number): E {
  if (endpoints.length === 0) throw new Error('a load target needs at least one endpoint');
  return endpoints[connection % endpoints.length]!;
}

/** Runs a closed loop against the target for the given duration. */
export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs } = options;
  const lengths = new Set(target.endpoints.map((e) => e.requests.length));
  if (lengths.size !== 1 || lengths.has(0)) {
    throw new Error('every endpoint of a load target needs the same, non-empty list of requests');
  }
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let latencies = new Float64Array(1 << 14);
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const firstRequest = options.firstRequest ?? 0;
  let nextRequest = firstRequest;
  const start = performance.now();
  const deadline = start + durationMs;
  let running = true;

  const noteError = (message: string) => {
    errors++;
    firstError ??= message;
  };

  const recordLatency = (ms: number) => {
    if (completed === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[completed++] = ms;
  };

  const workers = Array.from({ length: concurrency }, (_, connection) => {
    const endpoint = endpointOf(target.endpoints, connection);
    let socket: Socket | undefined;
    let pending: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let inFlight = false;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));

    const open = () => {
      pending = Buffer.alloc(0);
      const s = connect({ host: endpoint.host, port: endpoint.port });
      socket = s;
      s.setNoDelay(true);
      s.on('connect', send);
      s.on('data', onData);
      s.on('error', (error: Error) => {
        if (running) noteError(`socket error: ${error.message}`);
        inFlight = false;
      });
      s.on('close', () => {
        if (socket !== s) return;
        socket = undefined;
        if (inFlight) noteError('connection closed with a request in flight');
        inFlight = false;
        if (running) setTimeout(open, 10);
        else finish();
      });
    };

    const send = () => {
      if (!running || performance.now() >= deadline || nextRequest - firstRequest >= maxRequests) {
        stop();
        return;
      }
      const request = endpoint.requests[nextRequest++ % endpoint.requests.length]!;
      inFlight = true;
      sentAt = performance.now();
      socket?.write(request);
    };

    const stop = () => {
      const s = socket;
      socket = undefined;
      if (s) {
        s.destroy();
      }
      finish();
    };

    function onData(chunk: Buffer) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const response = parseResponse(pending);
        if (!response) return;
        const now = performance.now();
        const raw = pending;
        pending = pending.subarray(response.length);
        if (!inFlight) {
          noteError('unsolicited response');
          continue;
        }
        inFlight = false;
        if (now <= deadline) {
          if (response.status === target.expectStatus) recordLatency(now - sentAt);
          else {
            const body = raw.toString(
              'utf8',
              response.bodyStart,
              Math.min(response.length, response.bodyStart + 300),
            );
            noteError(`HTTP ${response.status} (expected ${target.expectStatus}): ${body}`);
          }
        }
        if (response.close) {
          const s = socket;
          socket = undefined;
          s?.destroy();
          if (running && now < deadline) open();
          else finish();
          return;
        }
        send();
      }
    }

    open();
    return { done, stop, inFlight: () => inFlight };
  });

  const timer = setTimeout(() => (running = false), durationMs);
  const hardStop = setTimeout(() => {
    running = false;
    for (const worker of workers) {
      if (worker.inFlight()) noteError('no response before the drain timeout');
      worker.stop();
    }
  }, durationMs + drainTimeoutMs);
  await Promise.all(workers.map((w) => w.done));
  clearTimeout(timer);
  clearTimeout(hardStop);
  running = false;

  const elapsedMs = Math.min(performance.now(), deadline) - start;
  const sorted = latencies.slice(0, completed).sort();
  return {
    completed,
    sent: nextRequest - firstRequest,
    errors,
    elapsedMs,
    requestsPerSecond: (completed / elapsedMs) * 1000,
    latenciesMs: sorted,
    ...(firstError ? { firstError } : {}),
  };
}

/** The value below which `p` (0..1) of the sorted samples fall (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}
