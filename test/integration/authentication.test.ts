// Authentication cannot be skipped (API.md "Authentication", DESIGN.md "Security boundaries"):
// request targets written byte for byte over a plain socket (encoded letters and slashes, absolute
// form, doubled slashes, dot segments, case, odd queries and fragments, HEAD and OPTIONS) never reach
// a protected route without a credential, and every route in the app's own route table answers 401
// without one unless it is declared public.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createKeyhaven } from '../../src/keyhaven.js';
import { buildRestApp } from '../../src/transports/rest/app.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { Api } from './http.js';
import {
  AUDIT_ACTIONS,
  CRYPTO_ACTIONS,
  IDENTITY_ACTIONS,
  IDENTITY_READ_ACTIONS,
  KEY_EXPORT_ACTIONS,
  LIFECYCLE_ACTIONS,
  READ_ACTIONS,
  SELF_ACTIONS,
} from '../../src/domain/actions.js';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';

interface KeyList {
  keys: { keyId: string }[];
}

const isSuccess = (response: RawResponse) => response.status >= 200 && response.status < 400;

describe('request targets that spell a protected route differently (real server, raw socket)', () => {
  let server: TestServer;
  let api: Api;
  let keysBefore: number;

  beforeAll(async () => {
    server = await startServer();
    api = new Api(server.url, server.token);
    keysBefore = (await api.ok<KeyList>('GET', '/v1/keys?limit=1000')).keys.length;
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const authority = () => new URL(server.url).host;
  // Each is a way to name GET /v1/keys (or a neighbour) that a router may decode, normalise or ignore.
  const listTargets: [string, () => string][] = [
    ['the literal path', () => '/v1/keys'],
    ['a percent-encoded letter', () => '/%761/keys'],
    ['a percent-encoded digit', () => '/v%31/keys'],
    ['every character encoded', () => '/%76%31/%6b%65%79%73'],
    ['lower-case percent hex', () => '/%76%31/%6B%65%79%73'],
    ['an encoded slash inside', () => '/v1%2Fkeys'],
    ['an encoded leading slash', () => '/%2Fv1/keys'],
    ['a doubled leading slash', () => '//v1/keys'],
    ['a doubled inner slash', () => '/v1//keys'],
    ['a trailing slash', () => '/v1/keys/'],
    ['a dot segment', () => '/./v1/keys'],
    ['an inner dot segment', () => '/v1/./keys'],
    ['a dot-dot segment', () => '/x/../v1/keys'],
    ['an encoded dot-dot segment', () => '/x/%2e%2e/v1/keys'],
    ['a dot-dot back onto itself', () => '/v1/keys/../keys'],
    ['upper case', () => '/V1/KEYS'],
    ['mixed case', () => '/v1/Keys'],
    ['an empty query', () => '/v1/keys?'],
    ['a query of separators', () => '/v1/keys?&&=&'],
    ['a repeated parameter', () => '/v1/keys?limit=1&limit=2'],
    ['an encoded NUL in the query', () => '/v1/keys?%00'],
    ['a fragment', () => '/v1/keys#fragment'],
    ['an encoded question mark', () => '/v1/keys%3Fx=1'],
    ['a matrix parameter', () => '/v1/keys;jsessionid=1'],
    ['an encoded NUL', () => '/v1/keys%00'],
    ['an encoded space', () => '/v1/keys%20'],
    ['a backslash', () => '/v1\\keys'],
    ['absolute form', () => `http://${authority()}/v1/keys`],
    ['absolute form, upper-case scheme', () => `HTTP://${authority()}/v1/keys`],
    ['absolute form, another host', () => 'http://keyhaven.example/v1/keys'],
    ['absolute form, encoded letter', () => `http://${authority()}/%761/keys`],
    ['absolute form with credentials', () => `http://admin:admin@${authority()}/v1/keys`],
    ['a key route, encoded', () => `/%761/keys/${randomUUID()}`],
    ['the random route, encoded', () => '/v1/%72andom?bytes=8'],
    ['metrics, encoded', () => '/%6detrics'],
    ['metrics, absolute form', () => `http://${authority()}/metrics`],
  ];

  for (const method of ['GET', 'HEAD', 'OPTIONS', 'DELETE']) {
    it.each(listTargets)(
      `${method} by %s answers no 2xx or 3xx without a credential`,
      async (_name, target) => {
        const response = await rawRequest(server.url, { method, target: target() });
        expect(
          isSuccess(response),
          `${method} ${target()} answered ${response.status}: ${response.body}`,
        ).toBe(false);
        // Refused at authentication, or rejected as malformed before routing; never "not found" or
        // "method not allowed" from a route that was reached without a credential.
        expect([400, 401], response.raw.slice(0, 300)).toContain(response.status);
      },
    );
  }

  it.each(listTargets)('POST by %s creates no key without a credential', async (_name, target) => {
    const response = await rawRequest(server.url, {
      method: 'POST',
      target: target(),
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(isSuccess(response), `POST ${target()} answered ${response.status}: ${response.body}`).toBe(false);
    expect([400, 401]).toContain(response.status);
  });

  it('after every attempt above, no key exists that was not there before', async () => {
    const keys = (await api.ok<KeyList>('GET', '/v1/keys?limit=1000')).keys;
    expect(keys.length).toBe(keysBefore);
  });

  it('an encrypt by an encoded target is refused too, body and all', async () => {
    const response = await rawRequest(server.url, {
      method: 'POST',
      target: '/%761/encrypt',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keyId: randomUUID(), plaintext: 'aGk=' }),
    });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'Unauthenticated' } });
  });

  it('/ready spelled any way shows no backend detail without a credential', async () => {
    for (const target of ['/ready', '/%72eady', `http://${authority()}/ready`, '/ready?verbose=1']) {
      const response = await rawRequest(server.url, { method: 'GET', target });
      if (response.status === 200) expect(JSON.parse(response.body)).toEqual({ ready: true });
      else expect([400, 401]).toContain(response.status);
    }
  });

  it('the same targets with the credential reach the route (the spellings are routable)', async () => {
    const response = await rawRequest(server.url, {
      method: 'GET',
      target: '/%761/keys',
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(response.status).toBe(200);
  });
});

describe("the app's own route table (in process, real HTTP on loopback)", () => {
  let running: InProcessApp;
  let app: FastifyInstance;
  let url: string;
  let token: string;

  beforeAll(async () => {
    running = await startInProcessApp();
    ({ app, url, token } = running);
  });
  afterAll(async () => {
    await running?.close();
  });

  /** A concrete path for a route pattern: parameters filled, wildcards given a name. */
  const concrete = (pattern: string) =>
    pattern.replace(/:[A-Za-z]+/g, () => randomUUID()).replace(/\*/g, 'index.html');

  it('is the whole API: every method and path, including HEAD twins and the documentation UI', () => {
    const table = app.routeTable.map((r) => `${r.method} ${r.url}`);
    expect(table.length).toBeGreaterThan(40);
    for (const expected of [
      'POST /v1/keys',
      'POST /v1/encrypt',
      'HEAD /v1/keys',
      'GET /docs',
      'GET /metrics',
    ])
      expect(table).toContain(expected);
  });

  it('names an API action on every protected route, each one the built-in roles know', () => {
    const known = new Set<string>([
      ...LIFECYCLE_ACTIONS,
      ...CRYPTO_ACTIONS,
      ...READ_ACTIONS,
      ...IDENTITY_ACTIONS,
      ...IDENTITY_READ_ACTIONS,
      ...KEY_EXPORT_ACTIONS,
      ...SELF_ACTIONS,
      ...AUDIT_ACTIONS,
      'Metrics',
    ]);
    // The AWS dialect's one route names its action per request (X-Amz-Target).
    expect(app.routeTable.filter((r) => r.signature).map((r) => `${r.method} ${r.url}`)).toEqual(['POST /']);
    const unknown = app.routeTable
      .filter((r) => !r.public && !r.signature)
      .filter((r) => !r.action || !known.has(r.action))
      .map((r) => `${r.method} ${r.url} (${r.action ?? 'no action'})`);
    expect(unknown).toEqual([]);
  });

  it('declares public exactly /health, /openapi.json, /ready, /.well-known/jwks.json, the documentation UI and the console', () => {
    // The console's routes (/ui, /ui/*) serve its static files only: it signs in against the API
    // like any other client, so its files need no credential (docs/console.md).
    const isDeclaredPublic = (path: string) =>
      ['/health', '/openapi.json', '/ready', '/.well-known/jwks.json', '/ui', '/ui/*'].includes(path) ||
      path === '/docs' ||
      path.startsWith('/docs/');
    for (const route of app.routeTable) {
      expect(route.public, `${route.method} ${route.url}`).toBe(isDeclaredPublic(route.url));
    }
  });

  it('answers 401 Unauthenticated on every route not declared public, whatever the method', async () => {
    const failures: string[] = [];
    for (const route of app.routeTable.filter((r) => !r.public)) {
      const target = concrete(route.url);
      const response = await rawRequest(url, {
        method: route.method,
        target,
        headers:
          route.method === 'GET' || route.method === 'HEAD' ? {} : { 'content-type': 'application/json' },
        body: route.method === 'GET' || route.method === 'HEAD' ? undefined : '{}',
      });
      if (route.signature) {
        // The AWS dialect refuses as AWS does: 400 with its exception type.
        if (response.status !== 400) failures.push(`${route.method} ${target}: ${response.status}`);
        else expect(JSON.parse(response.body).__type).toBe('MissingAuthenticationTokenException');
      } else if (response.status !== 401) failures.push(`${route.method} ${target}: ${response.status}`);
      // HEAD has no body; every other refusal carries the error envelope.
      else if (route.method !== 'HEAD') expect(JSON.parse(response.body).error.code).toBe('Unauthenticated');
    }
    expect(failures).toEqual([]);
  });

  it('answers on every public route without a credential', async () => {
    for (const route of app.routeTable.filter((r) => r.public && !r.url.includes('*'))) {
      const response = await rawRequest(url, { method: route.method, target: concrete(route.url) });
      expect(response.status, `${route.method} ${route.url}`).toBeLessThan(400);
    }
  });

  it('reaches every protected route with the credential (none is unreachable, so the 401s above mean something)', async () => {
    for (const route of app.routeTable.filter((r) => !r.public)) {
      const response = await rawRequest(url, {
        method: route.method,
        target: concrete(route.url),
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status, `${route.method} ${route.url}`).not.toBe(401);
    }
  });

  it('refuses an anonymous body to a path no route has before reading it: 401, not a JSON or size error', async () => {
    for (const body of ['{bad', 'x'.repeat(2 * 1024 * 1024), JSON.stringify({ a: 1 })]) {
      for (const target of ['/nope', `/v1/${randomUUID()}`, '/health/x']) {
        const response = await rawRequest(url, {
          method: 'POST',
          target,
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(response.status, `${target}: ${response.body.slice(0, 200)}`).toBe(401);
        expect(response.headers['x-request-id']).toBeDefined();
      }
    }
    // A public route's method that does not exist is an unknown route too.
    const wrongMethod = await rawRequest(url, {
      method: 'DELETE',
      target: '/health',
      headers: { 'content-type': 'application/json' },
      body: '{bad',
    });
    expect(wrongMethod.status).toBe(401);
  });

  it('answers 401 for a missing file of the documentation UI, which hands over to the not-found handler', async () => {
    expect((await rawRequest(url, { method: 'GET', target: '/docs/static/theme/x' })).status).toBe(401);
    const known = await rawRequest(url, {
      method: 'GET',
      target: '/docs/static/theme/x',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(known.status).toBe(404);
  });

  it('answers 401, not 404, for a path no route has: an anonymous caller learns nothing', async () => {
    const response = await rawRequest(url, { method: 'GET', target: `/v1/${randomUUID()}` });
    expect(response.status).toBe(401);
    const known = await rawRequest(url, {
      method: 'GET',
      target: `/v1/${randomUUID()}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(known.status).toBe(404);
  });
});

describe('server.metricsPublic', () => {
  it('serves /metrics without a credential when set, and only then', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-metrics-'));
    const keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dataDir }));
    try {
      for (const metricsPublic of [false, true]) {
        keyhaven.config.server.metricsPublic = metricsPublic;
        const app = await buildRestApp(keyhaven);
        const url = await app.listen({ host: '127.0.0.1', port: 0 });
        const response = await rawRequest(url, { method: 'GET', target: '/metrics' });
        await app.close();
        expect(response.status).toBe(metricsPublic ? 200 : 401);
        if (metricsPublic) expect(response.body).toContain('keyhaven_requests_total');
      }
    } finally {
      await keyhaven.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
