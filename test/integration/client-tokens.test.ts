// CreateKey's client token over real HTTP with a real server process: a token belongs to the
// principal that sent it, so another principal of the same tenant can neither block it nor learn
// of the key made with it (found by review: tokens were the tenant's, and a squatter's claim made
// the owner's CreateKey answer 409 ClientTokenMismatch for 24 hours).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { serverErrorLines } from './suite-server.js';
import type { KeyReply } from './wire-types.js';

describe('client tokens of CreateKey, per principal', () => {
  let server: TestServer;
  let admin: Api;
  let owner: Actor;
  let squatter: Actor;

  beforeAll(async () => {
    server = await startServer();
    admin = new Api(server.url, server.token);
    const tenant = await createTenant(admin);
    owner = await createActor(admin, tenant.tenantId, ['key-admin']);
    squatter = await createActor(admin, tenant.tenantId, ['key-admin']);
  }, 60_000);
  afterAll(async () => server?.dispose());

  it("another principal's earlier use of the token does not block the owner's creation or its retry", async () => {
    const clientToken = `tok-${randomBytes(8).toString('hex')}`;
    const squatted = await squatter.api.post<KeyReply>('/v1/keys', { description: 'squat', clientToken });
    expect(squatted.status, squatted.text).toBe(201);
    const created = await owner.api.post<KeyReply>('/v1/keys', { description: 'mine', clientToken });
    expect(created.status, created.text).toBe(201);
    expect(created.body.key.keyId).not.toBe(squatted.body.key.keyId);
    const retried = await owner.api.post<KeyReply>('/v1/keys', { description: 'mine', clientToken });
    expect(retried.status, retried.text).toBe(201);
    expect(retried.body.key.keyId).toBe(created.body.key.keyId);
    // The owner's token still holds the owner to its parameters.
    expectError(
      await owner.api.post('/v1/keys', { description: 'changed', clientToken }),
      409,
      'ClientTokenMismatch',
    );
  });

  it("the same parameters under another principal's token of the same string make that principal's own key", async () => {
    const clientToken = `tok-${randomBytes(8).toString('hex')}`;
    const first = await owner.api.post<KeyReply>('/v1/keys', { description: 'same', clientToken });
    const second = await squatter.api.post<KeyReply>('/v1/keys', { description: 'same', clientToken });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.key.keyId).not.toBe(first.body.key.keyId);
  });

  it('answered no request with a 5xx', async () => {
    expect(await serverErrorLines(admin)).toEqual([]);
  });
});
