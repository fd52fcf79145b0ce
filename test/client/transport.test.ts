// The SDK's wire behaviour that needs no server: error mapping (API error bodies, non-JSON replies,
// network failures, timeouts), base64 conversion and URL building. A stub `fetch` records requests.
import { describe, expect, it } from 'vitest';
import { KeyhavenClient, KeyhavenError } from '../../src/client/index.js';

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function stubFetch(reply: (request: Recorded) => Response | Promise<Response>): {
  fetch: typeof fetch;
  requests: Recorded[];
} {
  const requests: Recorded[] = [];
  const fetchStub = async (input: string | URL | Request, init?: RequestInit) => {
    const request: Recorded = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    requests.push(request);
    return reply(request);
  };
  return { fetch: fetchStub as typeof fetch, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('KeyhavenClient wire handling', () => {
  it('sends the bearer token and base64, and returns Buffers', async () => {
    const { fetch, requests } = stubFetch(() =>
      json(200, { keyId: 'k1', keyVersion: 2, ciphertext: Buffer.from([1, 2, 3]).toString('base64') }),
    );
    const client = new KeyhavenClient({ endpoint: 'http://kms.test/', token: 'secret', fetch });
    const result = await client.encrypt({
      keyId: 'k1',
      plaintext: new Uint8Array([104, 105]),
      context: { a: 'b' },
    });
    expect(result).toEqual({ keyId: 'k1', keyVersion: 2, ciphertext: Buffer.from([1, 2, 3]) });
    expect(requests[0]!.url).toBe('http://kms.test/v1/encrypt');
    expect(requests[0]!.headers.authorization).toBe('Bearer secret');
    expect(requests[0]!.body).toEqual({ keyId: 'k1', plaintext: 'aGk=', context: { a: 'b' } });
  });

  it('encodes key ids in paths and leaves unset query parameters out', async () => {
    const { fetch, requests } = stubFetch(() => json(200, { key: { keyId: 'k', aliases: [] } }));
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    await client.scheduleKeyDeletion('alias/my key');
    await client.scheduleKeyDeletion('k', 7);
    expect(requests[0]!.url).toBe('http://kms.test/v1/keys/alias%2Fmy%20key');
    expect(requests[0]!.method).toBe('DELETE');
    expect(requests[1]!.url).toBe('http://kms.test/v1/keys/k?pendingWindowDays=7');
  });

  it('turns an API error body into a KeyhavenError with code, status and request id', async () => {
    const { fetch } = stubFetch(() =>
      json(404, { error: { code: 'NotFound', message: 'key k not found', requestId: 'req-1' } }),
    );
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    const error = await client.getKey('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyhavenError);
    expect(error).toMatchObject({
      code: 'NotFound',
      status: 404,
      requestId: 'req-1',
      message: 'key k not found',
    });
  });

  it('maps a non-JSON error reply by its status, keeping the x-request-id header', async () => {
    const { fetch } = stubFetch(
      () => new Response('<html>bad gateway</html>', { status: 502, headers: { 'x-request-id': 'req-2' } }),
    );
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    await expect(client.random(8)).rejects.toMatchObject({
      code: 'Unavailable',
      status: 502,
      requestId: 'req-2',
    });
  });

  it('follows no redirect: a 3xx is an error, and nothing is sent to where it points', async () => {
    const { createServer } = await import('node:http');
    const received: string[] = [];
    const elsewhere = createServer((request, response) => {
      request.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      request.on('end', () => response.end('{}'));
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/v1/encrypt`;
    const redirecting = createServer((_request, response) => {
      response.writeHead(307, { location: target });
      response.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const port = (redirecting.address() as { port: number }).port;
      const client = new KeyhavenClient({ endpoint: `http://127.0.0.1:${port}`, token: 'secret' });
      const failure = await client
        .encrypt({ keyId: 'k', plaintext: Buffer.from('TOP SECRET PLAINTEXT') })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KeyhavenError);
      expect((failure as KeyhavenError).message).toMatch(/redirect/);
      expect(received).toEqual([]);
    } finally {
      redirecting.close();
      elsewhere.close();
    }
  });

  it('reports a refused connection as Unavailable without a status', async () => {
    const client = new KeyhavenClient({ endpoint: 'http://127.0.0.1:1', token: 't' });
    const error = await client.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyhavenError);
    expect(error).toMatchObject({ code: 'Unavailable', status: undefined });
  });

  it('reports a timeout as Unavailable', async () => {
    // Never answers; only the abort signal ends the request, as with a hung server.
    const slowFetch: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      );
    const client = new KeyhavenClient({
      endpoint: 'http://kms.test',
      token: 't',
      fetch: slowFetch,
      timeoutMs: 50,
    });
    await expect(client.random(8)).rejects.toMatchObject({
      code: 'Unavailable',
      message: /timed out after 50 ms/,
    });
  });

  it('reports a malformed success body as Internal, naming the field', async () => {
    const { fetch } = stubFetch(() => json(200, { keyId: 'k' }));
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    await expect(
      client.sign({ keyId: 'k', message: Buffer.alloc(1), algorithm: 'ECDSA_SHA_256' }),
    ).rejects.toMatchObject({ code: 'Internal', message: /"keyVersion"/ });
  });

  it('follows nextCursor in listAllKeys', async () => {
    const { fetch, requests } = stubFetch((request) => {
      const cursor = new URL(request.url).searchParams.get('cursor');
      const page = cursor === null ? 1 : Number(cursor);
      return json(200, {
        keys: [{ keyId: `k${page}`, aliases: [] }],
        nextCursor: page < 3 ? String(page + 1) : null,
      });
    });
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    const ids: string[] = [];
    for await (const key of client.listAllKeys({ state: 'Enabled', tag: { team: 'a' } })) ids.push(key.keyId);
    expect(ids).toEqual(['k1', 'k2', 'k3']);
    expect(requests).toHaveLength(3);
    expect(new URL(requests[0]!.url).searchParams.get('tag')).toBe('team:a');
  });

  it('separates failed batch items from successful ones', async () => {
    const { fetch } = stubFetch(() =>
      json(200, {
        results: [
          { keyId: 'k', keyVersion: 1, ciphertext: 'AA==' },
          { error: { code: 'NotFound', message: 'no such key' } },
        ],
      }),
    );
    const client = new KeyhavenClient({ endpoint: 'http://kms.test', token: 't', fetch });
    const results = await client.encryptBatch([
      { keyId: 'k', plaintext: Buffer.from('a') },
      { keyId: 'missing', plaintext: Buffer.from('b') },
    ]);
    expect(results[0]).toEqual({ keyId: 'k', keyVersion: 1, ciphertext: Buffer.from([0]) });
    expect(results[1]).toEqual({ error: { code: 'NotFound', message: 'no such key' } });
  });
});

describe('KeyhavenClient TLS options', () => {
  const pem = '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n';
  const expectRefused = (options: ConstructorParameters<typeof KeyhavenClient>[0], message: RegExp) => {
    let error: unknown;
    try {
      new KeyhavenClient(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeyhavenError);
    expect(error).toMatchObject({ code: 'ValidationError', message });
  };

  it('refuses a client certificate without its key, and a key without its certificate', () => {
    const endpoint = 'https://kms.test';
    expectRefused({ endpoint, token: 't', cert: pem }, /needs its private key/);
    expectRefused({ endpoint, token: 't', key: pem }, /needs its certificate/);
  });

  it('refuses TLS options with an http:// endpoint rather than sending the token in the clear', () => {
    expectRefused({ endpoint: 'http://kms.test', token: 't', ca: pem }, /need an https:\/\/ endpoint/);
  });

  it('refuses TLS options together with a custom fetch, which would ignore them', () => {
    const { fetch } = stubFetch(() => json(200, {}));
    expectRefused({ endpoint: 'https://kms.test', token: 't', ca: pem, fetch }, /custom fetch/);
  });
});

describe('KeyhavenClient connections (node:http, against a node:http server)', () => {
  type Reset = 'before-answer' | 'mid-answer' | false;
  /**
   * A server answering `{"random":"AAAA"}` that counts connections and requests; `reset(n, i)`
   * says whether the i-th request (from 1) on connection n (from 1) meets a TCP reset instead:
   * before any answer, or after the status line and part of the body.
   */
  async function countingServer(reset: (connection: number, request: number) => Reset) {
    const { createServer } = await import('node:http');
    const seen = { connections: 0, requests: 0 };
    const perSocket = new WeakMap<object, { connection: number; requests: number }>();
    const server = createServer((request, response) => {
      seen.requests++;
      const socket = request.socket;
      const counts = perSocket.get(socket)!;
      counts.requests++;
      request.resume();
      request.on('end', () => {
        const how = reset(counts.connection, counts.requests);
        if (how === 'before-answer') {
          socket.resetAndDestroy();
        } else if (how === 'mid-answer') {
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': '17' });
          // Once the client has read the head and the first bytes.
          response.write('{"random":', () => setTimeout(() => socket.resetAndDestroy(), 50));
        } else {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"random":"AAAA"}');
        }
      });
    });
    server.on('connection', (socket) =>
      perSocket.set(socket, { connection: ++seen.connections, requests: 0 }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = new KeyhavenClient({ endpoint: `http://127.0.0.1:${port}`, token: 't' });
    return { seen, client, close: () => new Promise((resolve) => server.close(resolve)) };
  }
  const onSecondRequestOfFirstConnection = (how: Reset) => (connection: number, request: number) =>
    connection === 1 && request === 2 ? how : false;

  it('keeps one connection alive across calls', async () => {
    const { seen, client, close } = await countingServer(() => false);
    try {
      for (let i = 0; i < 20; i++) await client.random(3);
      expect(seen).toEqual({ connections: 1, requests: 20 });
    } finally {
      await close();
    }
  });

  it('sends a GET once more on a new connection when the kept-alive one is reset before any answer', async () => {
    // As when the server's idle timeout closes the connection as the request goes out on it.
    const stale = await countingServer(onSecondRequestOfFirstConnection('before-answer'));
    try {
      await stale.client.random(3);
      expect((await stale.client.random(3)).length).toBe(3);
      expect(stale.seen).toEqual({ connections: 2, requests: 3 });
    } finally {
      await stale.close();
    }
  });

  it('sends nothing twice that the server may have acted on', async () => {
    // A reset on a new connection is the server's answer, not a stale connection.
    const refusing = await countingServer(() => 'before-answer');
    try {
      await expect(refusing.client.random(3)).rejects.toMatchObject({
        code: 'Unavailable',
        message: /ECONNRESET/,
      });
      expect(refusing.seen).toEqual({ connections: 1, requests: 1 });
    } finally {
      await refusing.close();
    }
    // A reset after the answer began: the request was taken.
    const midAnswer = await countingServer(onSecondRequestOfFirstConnection('mid-answer'));
    try {
      await midAnswer.client.random(3);
      await expect(midAnswer.client.random(3)).rejects.toMatchObject({ code: 'Unavailable' });
      expect(midAnswer.seen).toEqual({ connections: 1, requests: 2 });
    } finally {
      await midAnswer.close();
    }
    // A POST, and a create-only PUT (If-None-Match), are not sent again even before any answer:
    // a server that took the request and then died looks the same.
    for (const call of [
      (client: KeyhavenClient) => client.encrypt({ keyId: 'k', plaintext: Buffer.from('x') }),
      (client: KeyhavenClient) => client.putAlias('alias/a', 'k', { createOnly: true }),
    ]) {
      const once = await countingServer(onSecondRequestOfFirstConnection('before-answer'));
      try {
        await once.client.random(3);
        await expect(call(once.client)).rejects.toMatchObject({ code: 'Unavailable', message: /ECONNRESET/ });
        expect(once.seen).toEqual({ connections: 1, requests: 2 });
      } finally {
        await once.close();
      }
    }
  });
});
