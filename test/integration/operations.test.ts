// Operational endpoints over real HTTP (API.md "Operations"): /health, /ready, /metrics,
// /openapi.json and /docs; and the one list of error codes shared by the domain, the OpenAPI
// document and API.md.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.js';
import { HTTP_STATUS } from '../../src/transports/rest/error-status.js';
import { REPO_ROOT } from '../helpers/server.js';
import { expectError, type Api } from './http.js';
import { keyStoreProfiles } from './profiles.js';
import { serverErrorLines, startSuiteServer, type SuiteServer } from './suite-server.js';

// The contract is read from the project's copy, so these checks run wherever the repository does;
// where the shared original sits beside the checkout, the copy must equal it.
const API_MD_COPY = join(REPO_ROOT, 'test', 'contract', 'API.md');
const SHARED_API_MD = join(REPO_ROOT, '..', 'shared', 'API.md');

function readContract(): string {
  const copy = readFileSync(API_MD_COPY, 'utf8');
  if (existsSync(SHARED_API_MD))
    expect(copy, 'test/contract/API.md is stale').toBe(readFileSync(SHARED_API_MD, 'utf8'));
  return copy;
}

/**
 * The "Errors" line of API.md ("Codes (at least): ..."), copied here so the check runs without
 * API.md; when API.md is present the copy itself is checked against it (below).
 */
const API_MD_ERROR_CODES: Record<string, number> = {
  ValidationError: 400,
  InvalidCiphertext: 400,
  IncorrectKey: 400,
  KeyUsageMismatch: 400,
  Unauthenticated: 401,
  AccessDenied: 403,
  NotFound: 404,
  Conflict: 409,
  KeyDisabled: 409,
  KeyPendingDeletion: 409,
  LimitExceeded: 429,
  Unavailable: 503,
  Internal: 500,
};

/**
 * Codes Keyhaven adds to API.md's list ("at least"): an expired key, a body over the limit, a
 * CreateKey client token reused with other parameters.
 */
const ERROR_CODE_EXTENSIONS: Record<string, number> = {
  KeyExpired: 409,
  ClientTokenMismatch: 409,
  PayloadTooLarge: 413,
};

/** Every route of API.md's "Keys" and "Cryptographic operations" tables, as OpenAPI paths. */
const API_MD_ROUTES: [string, string][] = [
  ['post', '/v1/keys'],
  ['get', '/v1/keys'],
  ['get', '/v1/keys/{keyId}'],
  ['patch', '/v1/keys/{keyId}'],
  ['post', '/v1/keys/{keyId}/enable'],
  ['post', '/v1/keys/{keyId}/disable'],
  ['post', '/v1/keys/{keyId}/rotate'],
  ['get', '/v1/keys/{keyId}/versions'],
  ['delete', '/v1/keys/{keyId}'],
  ['post', '/v1/keys/{keyId}/cancel-deletion'],
  ['get', '/v1/keys/{keyId}/public-key'],
  ['get', '/v1/keys/{keyId}/usage'],
  ['get', '/v1/keys/import-parameters'],
  ['post', '/v1/keys/{keyId}/import'],
  ['put', '/v1/aliases/{name}'],
  ['delete', '/v1/aliases/{name}'],
  ['get', '/v1/aliases'],
  ['post', '/v1/encrypt'],
  ['post', '/v1/decrypt'],
  ['post', '/v1/reencrypt'],
  ['post', '/v1/encrypt/batch'],
  ['post', '/v1/decrypt/batch'],
  ['post', '/v1/datakey'],
  ['post', '/v1/datakey-pair'],
  ['post', '/v1/sign'],
  ['post', '/v1/verify'],
  ['post', '/v1/mac'],
  ['post', '/v1/mac/verify'],
  ['post', '/v1/asymmetric/encrypt'],
  ['post', '/v1/asymmetric/decrypt'],
  ['post', '/v1/wrap'],
  ['post', '/v1/unwrap'],
  ['post', '/v1/derive'],
  ['get', '/v1/random'],
];

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[] }>>;
  components: {
    schemas: Record<string, { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }>;
    securitySchemes?: Record<string, { type: string; scheme?: string }>;
  };
}

/** The part of API.md between two level-2 headings. */
function section(markdown: string, from: string, to: string): string {
  const start = markdown.indexOf(`## ${from}`);
  const end = markdown.indexOf(`## ${to}`, start + 1);
  expect(start, `API.md has a "## ${from}" section`).toBeGreaterThanOrEqual(0);
  return markdown.slice(start, end === -1 ? undefined : end);
}

describe.each(keyStoreProfiles)('operational endpoints ($name key store)', (profile) => {
  let suite: SuiteServer;
  let api: Api;
  let openapi: OpenApiDocument;

  beforeAll(async () => {
    suite = await startSuiteServer(profile);
    api = suite.api;
    openapi = (await api.get<OpenApiDocument>('/openapi.json', { token: null })).body;
  });
  afterAll(async () => {
    await suite?.server.dispose();
  });

  it('/health answers 200 {status: ok} without a token', async () => {
    const response = await api.get('/health', { token: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('/ready answers 200 with every backend healthy: the database and the key store', async () => {
    const response = await api.get<{
      ready: boolean;
      backends: { name: string; kind: string; healthy: boolean }[];
    }>('/ready');
    expect(response.status).toBe(200);
    expect(response.body.ready).toBe(true);
    expect(response.body.backends.length).toBeGreaterThanOrEqual(2);
    expect(response.body.backends.every((b) => b.healthy)).toBe(true);
    expect(response.body.backends).toContainEqual(expect.objectContaining({ kind: 'sqlite', healthy: true }));
  });

  it('/ready without a credential answers the status only: no backend names, kinds or errors', async () => {
    const response = await api.get('/ready', { token: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ready: true });
  });

  it('/ready with a wrong credential is 401, not a quieter answer', async () => {
    expectError(await api.get('/ready', { token: `khk_${'x'.repeat(40)}` }), 401, 'Unauthenticated');
  });

  it('/metrics needs a credential unless server.metricsPublic is set', async () => {
    expectError(await api.get('/metrics', { token: null }), 401, 'Unauthenticated');
  });

  it('/metrics is Prometheus text with keyhaven_requests_total and keyhaven_request_duration_seconds per action', async () => {
    for (let i = 0; i < 3; i++) await api.get('/v1/keys?limit=1');
    const response = await api.get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(response.text).toContain('# TYPE keyhaven_requests_total counter');
    expect(response.text).toContain('# TYPE keyhaven_request_duration_seconds histogram');
    const count = /keyhaven_requests_total\{action="ListKeys",status="200"\} (\d+)/.exec(response.text);
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(3);
    expect(response.text).toMatch(
      /keyhaven_request_duration_seconds_bucket\{le="\+Inf",action="ListKeys"\} \d+/,
    );
    expect(response.text).toMatch(/keyhaven_request_duration_seconds_count\{action="ListKeys"\} \d+/);

    await api.get('/v1/keys?limit=1');
    const again = await api.get('/metrics');
    const next = /keyhaven_requests_total\{action="ListKeys",status="200"\} (\d+)/.exec(again.text);
    expect(Number(next?.[1])).toBe(Number(count?.[1]) + 1);
  });

  it('/openapi.json is OpenAPI 3.1 with bearer security and every /v1 route of API.md', () => {
    expect(openapi.openapi).toMatch(/^3\.1\.\d+$/);
    expect(openapi.components.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const missing = API_MD_ROUTES.filter(([method, path]) => !openapi.paths[path]?.[method]).map(
      ([method, path]) => `${method.toUpperCase()} ${path}`,
    );
    expect(missing).toEqual([]);
  });

  it('the route list above is current with API.md', () => {
    const markdown = readContract();
    const tables =
      section(markdown, 'Keys', 'Cryptographic operations') +
      section(markdown, 'Cryptographic operations', 'Identity');
    const documented = [...tables.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/v1\/[^`\s?]+)`/g)].map(
      ([, method, path]) => `${method!.toLowerCase()} ${path}`,
    );
    expect(documented.length).toBeGreaterThan(20);
    const known = new Set(API_MD_ROUTES.map(([method, path]) => `${method} ${path}`));
    expect(documented.filter((route) => !known.has(route))).toEqual([]);
  });

  it('/docs serves the HTML API explorer without a token', async () => {
    const response = await api.get('/docs', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.text.toLowerCase()).toContain('<html');
  });

  describe('error codes', () => {
    it("the domain's ERROR_CODES and the OpenAPI Error schema's enum are the same list", () => {
      const enumeration = openapi.components.schemas.Error?.properties?.error?.properties?.code?.enum;
      expect([...(enumeration ?? [])].sort()).toEqual([...ERROR_CODES].sort());
    });

    it("ERROR_CODES are exactly API.md's codes plus the documented extensions, with the same HTTP statuses", () => {
      const expected = { ...API_MD_ERROR_CODES, ...ERROR_CODE_EXTENSIONS };
      expect([...ERROR_CODES].sort()).toEqual(Object.keys(expected).sort());
      expect(HTTP_STATUS).toEqual(expected);
    });

    it("the copy of API.md's error codes is current", () => {
      const markdown = readContract();
      const start = markdown.indexOf('Codes (at least):');
      expect(start).toBeGreaterThanOrEqual(0);
      const line = markdown.slice(start, markdown.indexOf('A 500 is always a bug', start));
      const documented = Object.fromEntries(
        [...line.matchAll(/`(\w+)` (\d{3})/g)].map(([, code, status]) => [code, Number(status)]),
      );
      expect(documented).toEqual(API_MD_ERROR_CODES);
    });
  });

  it('answered no request of this file with a 5xx (/metrics)', async () => {
    expect(await serverErrorLines(api)).toEqual([]);
  });
});
