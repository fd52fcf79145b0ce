// Tenant isolation over real HTTP: for every action whose request names an object (a key, a
// ciphertext, a principal, a policy, a tenant), another tenant's admin gets exactly the answer it
// would get for an id that does not exist: same status, same code, same body once the id itself
// is masked. Nothing of the first tenant changes meanwhile.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import {
  ACTION_REQUESTS,
  BUNDLE_PASSPHRASE,
  bundleOfNewKey,
  prepareFixtures,
  send,
  type ActionRequest,
  type Fixtures,
} from './action-catalogue.js';
import { Api, b64, expectError, type ApiResponse } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The same request with every id (and the key id inside every ciphertext) replaced by an unknown one. */
function withUnknownIds(request: ActionRequest): { request: ActionRequest; ids: Map<string, string> } {
  const ids = new Map<string, string>();
  const swap = (text: string) => {
    let swapped = text.replace(UUID, (id) => {
      if (!ids.has(id)) ids.set(id, randomUUID());
      return ids.get(id)!;
    });
    if (alias) swapped = swapped.split(alias).join(ids.get(alias)!);
    return swapped;
  };
  // Alias names are the tenant's objects too.
  const alias = /^\/v1\/aliases\/([^/?]+)/.exec(request.path)?.[1];
  if (alias) ids.set(alias, `unknown-${randomUUID()}`);
  const json =
    request.json === undefined
      ? undefined
      : JSON.parse(swap(JSON.stringify(request.json, ciphertextKeyIds(ids))));
  return { request: { ...request, path: swap(request.path), ...(json === undefined ? {} : { json }) }, ids };
}

/** Ciphertexts name their key in bytes 1..16: give them an unknown key too (same mapping). */
function ciphertextKeyIds(ids: Map<string, string>) {
  return (field: string, value: unknown) => {
    if (field !== 'ciphertext' || typeof value !== 'string') return value;
    const blob = Buffer.from(value, 'base64');
    const keyId = blob
      .subarray(1, 17)
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    if (!ids.has(keyId)) ids.set(keyId, randomUUID());
    Buffer.from(ids.get(keyId)!.replace(/-/g, ''), 'hex').copy(blob, 1);
    return blob.toString('base64');
  };
}

/** What may differ between the two answers: the ids themselves and the request id. */
function masked(response: ApiResponse, ids: Iterable<string>): { status: number; body: string } {
  let text = response.text;
  for (const id of ids) text = text.split(id).join('<id>');
  text = text.replace(/"requestId":"[^"]*"/, '"requestId":"<request>"');
  return { status: response.status, body: text };
}

describe('tenant isolation over REST', () => {
  let server: InProcessApp;
  let fixtures: Fixtures;
  let owner: Actor;
  let outsider: Actor;

  beforeAll(async () => {
    server = await startInProcessApp();
    const system = new Api(server.url, server.token);
    const mine = await createTenant(system);
    const theirs = await createTenant(system);
    owner = await createActor(system, mine.tenantId, ['admin']);
    outsider = await createActor(system, theirs.tenantId, ['admin']);
    fixtures = await prepareFixtures(owner.api, mine.tenantId);
  });
  afterAll(async () => server?.close());

  for (const [action, prepare] of Object.entries(ACTION_REQUESTS)) {
    it(`${action}: another tenant's object answers as an unknown one`, async () => {
      const request = await prepare(fixtures);
      const unknown = withUnknownIds(request);
      // RestoreKey creates keys in the caller's tenant, as CreateKey does (its ids are inside the bundle).
      if (unknown.ids.size === 0)
        return expect(action).toMatch(/^(Create|List|GenerateRandom|VerifyAccess|RestoreKey)/);
      const theirs = await send(outsider.api, request);
      const nobodys = await send(outsider.api, unknown.request);
      if (action === 'VerifyAccess') {
        // It answers questions, never 404: for a key the caller cannot see, the default deny.
        expect((theirs.body as { allowed: boolean }).allowed).toBe(false);
      } else if (request.batch) {
        expect(
          (theirs.body as { results: { error?: unknown }[] }).results[0]?.error,
          theirs.text,
        ).toBeDefined();
      } else {
        expect(theirs.status, theirs.text).toBeGreaterThanOrEqual(400);
      }
      const everyId = [...unknown.ids.keys(), ...unknown.ids.values()];
      expect(masked(theirs, everyId)).toEqual(masked(nobodys, everyId));
    });
  }

  it("RestoreKey: a bundle naming another tenant's key id answers as one naming an unknown id (restored under a fresh id)", async () => {
    const theirs = await createKey(owner.api, { description: "the owner's" });
    const sealed = await owner.api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
      keyId: theirs.keyId,
      plaintext: b64('owner data'),
    });
    const createdAt = new Date().toISOString();
    const naming = async (keyId: string) =>
      b64(
        await bundleOfNewKey((k) => {
          Object.assign(k, { keyId, createdAt });
        }),
      );
    const unknownId = randomUUID();
    const restore = async (api: Api, keyId: string) =>
      api.post<{ keys: { keyId: string }[] }>('/v1/keys/restore', {
        bundle: await naming(keyId),
        passphrase: BUNDLE_PASSPHRASE,
      });
    const toTheirs = await restore(outsider.api, theirs.keyId);
    const toNobodys = await restore(outsider.api, unknownId);
    expect(toTheirs.status, toTheirs.text).toBe(201);
    const freshId = toTheirs.body.keys[0]!.keyId;
    const everyId = [theirs.keyId, unknownId, freshId];
    expect(masked(toTheirs, everyId)).toEqual(masked(toNobodys, everyId));
    // An unknown id is kept; the other tenant's is not taken over, the copy has an id of its own.
    expect(toNobodys.body.keys[0]!.keyId).toBe(unknownId);
    expect(freshId).not.toBe(theirs.keyId);
    const copied = await outsider.api.ok<{ ciphertext: string }>('POST', '/v1/encrypt', {
      keyId: freshId,
      plaintext: b64('copy'),
    });
    const opened = await outsider.api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
      ciphertext: copied.ciphertext,
    });
    expect(Buffer.from(opened.plaintext, 'base64').toString()).toBe('copy');
    // The owner's key is as it was, and still the owner's alone.
    const owned = await owner.api.ok<{ plaintext: string }>('POST', '/v1/decrypt', {
      ciphertext: sealed.ciphertext,
    });
    expect(Buffer.from(owned.plaintext, 'base64').toString()).toBe('owner data');
    expect(
      (await owner.api.ok<{ key: { tenant: string } }>('GET', `/v1/keys/${theirs.keyId}`)).key.tenant,
    ).toBe(fixtures.tenantId);
    expectError(await outsider.api.get(`/v1/keys/${theirs.keyId}`), 404, 'NotFound');
    // A caller who sees the key (the owner, a system administrator) is told it exists.
    expectError(await restore(owner.api, theirs.keyId), 409, 'Conflict');
    expectError(await restore(new Api(server.url, server.token), theirs.keyId), 409, 'Conflict');
  });

  it("left the owner's objects as they were", async () => {
    const key = await owner.api.get<{ key: { state: string; description: string } }>(
      `/v1/keys/${fixtures.symmetricKeyId}`,
    );
    expect(key.body.key.state).toBe('Enabled');
    expect((await owner.api.get(`/v1/principals/${fixtures.principalId}`)).status).toBe(200);
    expect((await owner.api.get(`/v1/policies/${fixtures.policyId}`)).status).toBe(200);
  });

  it('keeps alias names per tenant: the same name names each tenant its own key', async () => {
    const name = `alias/shared-${Date.now()}`;
    const ownKey = await createKey(owner.api, { alias: name });
    expectError(await outsider.api.get(`/v1/keys/${encodeURIComponent(name)}`), 404, 'NotFound');
    const theirKey = await createKey(outsider.api, { alias: name });
    const resolved = await outsider.api.get<{ key: { keyId: string } }>(
      `/v1/keys/${encodeURIComponent(name)}`,
    );
    expect(resolved.body.key.keyId).toBe(theirKey.keyId);
    const mine = await owner.api.get<{ key: { keyId: string } }>(`/v1/keys/${encodeURIComponent(name)}`);
    expect(mine.body.key.keyId).toBe(ownKey.keyId);
    const listed = await outsider.api.get<{ keys: { keyId: string }[] }>('/v1/keys?limit=1000');
    expect(listed.body.keys.map((k) => k.keyId)).not.toContain(ownKey.keyId);
  });

  it("refuses an ARN that names another tenant than the key's", async () => {
    const key = await createKey(owner.api);
    const arn = `kh:${fixtures.tenantId}:key/${key.keyId}`;
    expect((await owner.api.get(`/v1/keys/${encodeURIComponent(arn)}`)).status).toBe(200);
    const wrongTenant = `kh:default:key/${key.keyId}`;
    expectError(await owner.api.get(`/v1/keys/${encodeURIComponent(wrongTenant)}`), 404, 'NotFound');
  });
});
