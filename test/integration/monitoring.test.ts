// The counters docs/alerting-rules.yml watches, over real HTTP: denials by tenant and action (and
// from outside monitoring.knownNetworks), errors by code (use of a disabled key), key operations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { Api, b64, expectError } from './http.js';
import { createActor, createTenant, type Actor } from './identity-fixtures.js';
import { createKey } from './suite-server.js';

function counter(metrics: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('monitoring counters', () => {
  let server: InProcessApp;
  let system: Api;
  let tenantId: string;
  let user: Actor;
  let admin: Actor;

  beforeAll(async () => {
    server = await startInProcessApp({
      configure: (config) => {
        config.monitoring.knownNetworks = ['10.0.0.0/8'];
      },
    });
    system = new Api(server.url, server.token);
    tenantId = (await createTenant(system)).tenantId;
    admin = await createActor(system, tenantId, ['admin']);
    user = await createActor(system, tenantId, ['crypto-user']);
  });
  afterAll(async () => server?.close());

  it('counts denials by tenant and action, apart when they come from an unknown network', async () => {
    expectError(await user.api.post('/v1/keys', {}), 403, 'AccessDenied');
    expectError(await user.api.post('/v1/keys', {}), 403, 'AccessDenied');
    const metrics = (await system.get('/metrics')).text;
    expect(
      counter(metrics, 'keyhaven_requests_denied_total', { tenant: tenantId, action: 'CreateKey' }),
    ).toBe(2);
    // The loopback address is outside 10.0.0.0/8.
    expect(
      counter(metrics, 'keyhaven_requests_denied_unknown_network_total', {
        tenant: tenantId,
        action: 'CreateKey',
      }),
    ).toBe(2);
    expect(
      counter(metrics, 'keyhaven_request_errors_total', { tenant: tenantId, code: 'AccessDenied' }),
    ).toBe(2);
  });

  it('counts the use of a disabled key by its error code, and successful key operations', async () => {
    const key = await createKey(admin.api);
    expect((await user.api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') })).status).toBe(200);
    await admin.api.post(`/v1/keys/${key.keyId}/disable`);
    expectError(
      await user.api.post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') }),
      409,
      'KeyDisabled',
    );
    const metrics = (await system.get('/metrics')).text;
    expect(
      counter(metrics, 'keyhaven_request_errors_total', {
        tenant: tenantId,
        action: 'Encrypt',
        code: 'KeyDisabled',
      }),
    ).toBe(1);
    expect(counter(metrics, 'keyhaven_key_operations_total', { tenant: tenantId, action: 'Encrypt' })).toBe(
      1,
    );
    expect(metrics).toMatch(/^keyhaven_audit_records_written_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^keyhaven_audit_write_failures_total 0$/m);
  });
});
