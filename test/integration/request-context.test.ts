// The request context (domain/request-context.ts) as the REST transport builds it and the services
// receive it: in process, real HTTP on loopback, the services' methods observed as they are called.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/domain/request-context.js';
import type { Keyhaven } from '../../src/keyhaven.js';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';

describe('the request context a REST call hands to its service method', () => {
  let running: InProcessApp;
  let keyhaven: Keyhaven;
  let url: string;
  let token: string;
  const seen: RequestContext[] = [];

  /** Records the context of every call of the services' public methods. */
  function observe(service: object): void {
    const proto = Object.getPrototypeOf(service) as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = proto[name];
      if (name === 'constructor' || typeof method !== 'function') continue;
      (service as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
        const [first] = args;
        if (first && typeof first === 'object' && 'principal' in first) seen.push(first as RequestContext);
        return (method as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
  }

  beforeAll(async () => {
    running = await startInProcessApp({
      prepare: (started) => {
        for (const service of [started.keys, started.crypto, started.aliases, started.imports])
          observe(service);
      },
    });
    ({ keyhaven, url, token } = running);
  });
  afterAll(async () => {
    await running?.close();
  });

  const call = async (method: string, path: string, body?: unknown, requestId = randomUUID()) => {
    seen.length = 0;
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'x-request-id': requestId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown>, requestId };
  };

  it('names the caller, its tenant, the credential, the address, the request id and the action', async () => {
    const created = await call('POST', '/v1/keys', {});
    expect(created.status).toBe(201);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({
      principal: expect.objectContaining({ name: 'admin', tenant: 'default', roles: ['admin'] }),
      tenant: 'default',
      credential: 'api-key',
      sourceIp: '127.0.0.1',
      requestId: created.requestId,
      action: 'CreateKey',
      transport: 'rest',
      // What the audit record will name: the key the service created.
      facts: { keyId: (created.json.key as { keyId: string }).keyId },
    });
  });

  it('reaches every kind of service call with the route’s own action', async () => {
    const keyId = ((await call('POST', '/v1/keys', {})).json.key as { keyId: string }).keyId;
    const plaintext = Buffer.from('context').toString('base64');
    const calls: [string, string, unknown, string][] = [
      ['POST', '/v1/encrypt', { keyId, plaintext }, 'Encrypt'],
      ['POST', '/v1/encrypt/batch', { items: [{ keyId, plaintext }] }, 'EncryptBatch'],
      ['POST', '/v1/datakey', { keyId }, 'GenerateDataKey'],
      ['GET', `/v1/keys/${keyId}`, undefined, 'DescribeKey'],
      ['POST', `/v1/keys/${keyId}/rotate`, {}, 'RotateKey'],
      ['PUT', '/v1/aliases/context-test', { keyId }, 'PutAlias'],
      ['GET', '/v1/random?bytes=8', undefined, 'GenerateRandom'],
    ];
    for (const [method, path, body, action] of calls) {
      const answered = await call(method, path, body);
      expect(answered.status, `${method} ${path}`).toBeLessThan(300);
      expect(seen.length, `${method} ${path}`).toBeGreaterThan(0);
      for (const context of seen) {
        expect(context.action, `${method} ${path}`).toBe(action);
        expect(context.requestId).toBe(answered.requestId);
      }
    }
  });

  it('gives the server’s own work, a scheduled rotation, an internal context', async () => {
    const keyId = ((await call('POST', '/v1/keys', { rotationPeriodDays: 90 })).json.key as { keyId: string })
      .keyId;
    seen.length = 0;
    // Due now: move the schedule into the past in the store, then run the jobs once.
    const key = (await keyhaven.metadata.getKey(keyId))!;
    await keyhaven.metadata.updateKey({ ...key, nextRotationAt: new Date(Date.now() - 1000) }, key.updatedAt);
    await keyhaven.runScheduledJobs();
    const rotation = seen.find((context) => context.action === 'RotateKey');
    expect(rotation).toMatchObject({ transport: 'internal', credential: 'internal', sourceIp: '' });
    expect(rotation!.principal.id).toBe('system');
  });
});

describe('the source address under server.trustProxy (real HTTP on loopback)', () => {
  /** The sourceIp an encrypt's context gets, with X-Forwarded-For set, under `trustProxy`. */
  async function sourceIpWith(trustProxy: false | string[]): Promise<string> {
    const seen: RequestContext[] = [];
    const running = await startInProcessApp({
      configure: (config) => (config.server.trustProxy = trustProxy),
      prepare: (keyhaven) => {
        const random = keyhaven.crypto.random.bind(keyhaven.crypto);
        keyhaven.crypto.random = (ctx, bytes) => (seen.push(ctx), random(ctx, bytes));
      },
    });
    try {
      const response = await fetch(`${running.url}/v1/random?bytes=4`, {
        headers: { authorization: `Bearer ${running.token}`, 'x-forwarded-for': '203.0.113.7' },
      });
      expect(response.status).toBe(200);
      return seen[0]!.sourceIp;
    } finally {
      await running.close();
    }
  }

  it('is the socket peer by default, whatever X-Forwarded-For says', async () => {
    expect(await sourceIpWith(false)).toBe('127.0.0.1');
  });

  it('is the forwarded address only when the peer is a listed proxy', async () => {
    expect(await sourceIpWith(['127.0.0.1'])).toBe('203.0.113.7');
    expect(await sourceIpWith(['10.0.0.0/8'])).toBe('127.0.0.1');
  });
});
