// The composition root with the pkcs11 key store, in process: HSM keys through the services, deletion
// after the waiting period destroying the token objects, and the session pool under load and faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../../src/keyhaven.js';
import type { Pkcs11Token } from '../../../src/adapters/keystore/pkcs11/pkcs11-token.js';
import { Pkcs11RootKeyStore } from '../../../src/adapters/keystore/pkcs11/pkcs11-root-key-store.js';
import { createRestMetrics } from '../../../src/transports/rest/metrics.js';
import { createPkcs11Fixture, parseListObjects, type Pkcs11Fixture } from './fixtures.js';
import { adminContext } from '../../helpers/request-context.js';

const ctx = adminContext();

describe('Keyhaven with the pkcs11 key store (in process)', () => {
  let fixture: Pkcs11Fixture;
  let keyhaven: Keyhaven;
  let now = new Date('2030-01-01T00:00:00Z');
  let token: Pkcs11Token;
  const labels = () => parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'])).map((o) => o.label);

  beforeAll(async () => {
    fixture = createPkcs11Fixture();
    const config = loadConfig({
      KEYHAVEN_DATA_DIR: fixture.dataDir,
      KEYHAVEN_KEYSTORE: 'pkcs11',
      KEYHAVEN_PKCS11_MODULE: fixture.hsm.modulePath,
      KEYHAVEN_PKCS11_TOKEN: fixture.hsm.label,
      KEYHAVEN_PKCS11_PIN: fixture.hsm.pin,
    });
    config.keyStore.pkcs11!.sessionPoolSize = 3;
    config.keyStore.pkcs11!.healthCheckSeconds = 0;
    keyhaven = await createKeyhaven(config, { clock: { now: () => now } });
    const root = (keyhaven.keys as unknown as { root: Pkcs11RootKeyStore }).root;
    token = root.failover.primary;
  });
  afterAll(async () => {
    await keyhaven?.close();
    fixture?.dispose();
  });

  it('wraps SOFTWARE keys under the HSM root and keeps HSM keys in the token', async () => {
    const software = await keyhaven.keys.createKey(ctx, {});
    const hsmKey = await keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    for (const key of [software, hsmKey]) {
      const sealed = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('data'));
      expect((await keyhaven.crypto.decrypt(ctx, sealed.ciphertext)).plaintext.toString()).toBe('data');
    }
    const [softwareVersion] = await keyhaven.metadata.listVersions(software.keyId);
    expect(softwareVersion?.material[0]).toBe(0x02);
    expect(labels()).toContain(`keyhaven/${hsmKey.keyId}/v1`);
    expect((await keyhaven.readiness()).backends.map((b) => b.name)).toEqual(['hsm-1', 'metadata']);
  });

  it('destroys the HSM objects of every version once the deletion waiting period has passed', async () => {
    const key = await keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    await keyhaven.keys.rotateKey(ctx, key.keyId);
    await keyhaven.keys.scheduleKeyDeletion(ctx, key.keyId, 7);
    await keyhaven.runScheduledJobs();
    expect(labels()).toEqual(
      expect.arrayContaining([`keyhaven/${key.keyId}/v1`, `keyhaven/${key.keyId}/v2`]),
    );
    now = new Date(now.getTime() + 8 * 24 * 3600 * 1000);
    expect((await keyhaven.runScheduledJobs()).deleted).toBeGreaterThanOrEqual(1);
    expect(labels().filter((l) => l.includes(key.keyId))).toEqual([]);
  });

  it('serves many concurrent requests from a bounded session pool', async () => {
    const key = await keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    let peak = 0;
    const watcher = setInterval(() => (peak = Math.max(peak, token.statistics().sessionsOpen)), 1);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from(`message ${i}`)),
      ),
    );
    clearInterval(watcher);
    expect(results).toHaveLength(60);
    expect(token.statistics().sessionsOpen).toBeLessThanOrEqual(3);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('re-opens sessions and logs in again by itself when the token drops them', async () => {
    const key = await keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    // Close every session of the application behind the pool's back: the token also forgets the login.
    await token.run(({ api, slot }) => api.C_CloseAllSessions(slot));
    const sealed = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('after the sessions died'));
    expect((await keyhaven.crypto.decrypt(ctx, sealed.ciphertext)).plaintext.toString()).toBe(
      'after the sessions died',
    );
    await token.run(({ api, session }) => api.C_Logout(session));
    const again = await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('after logout'));
    expect((await keyhaven.crypto.decrypt(ctx, again.ciphertext)).plaintext.toString()).toBe('after logout');
    expect(token.circuit).toBe('closed');
  });

  it('runs the token work off the event loop: timers keep firing during RSA-4096 generation', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    await keyhaven.keys.createKey(ctx, {
      protectionLevel: 'HSM',
      keySpec: 'RSA_4096',
      keyUsage: 'SIGN_VERIFY',
    });
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(2);
  });

  it('exposes each backend to Prometheus: health, circuit, session pool and a latency histogram', async () => {
    const key = await keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    await keyhaven.crypto.encrypt(ctx, key.keyId, Buffer.from('counted'));
    const metrics = createRestMetrics(keyhaven.materialCache, () => keyhaven.keyStoreStatistics());
    const text = await metrics.render();
    const sample = (name: string, labels = '') => {
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`${name}{backend="hsm-1",kind="pkcs11"${labels}}`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(sample('keyhaven_keystore_backend_healthy')).toBe(1);
    expect(sample('keyhaven_keystore_backend_circuit_state', ',state="closed"')).toBe(1);
    expect(sample('keyhaven_keystore_backend_circuit_state', ',state="open"')).toBe(0);
    expect(sample('keyhaven_keystore_backend_session_pool_size')).toBe(3);
    expect(sample('keyhaven_keystore_backend_sessions_in_use')).toBe(0);
    expect(sample('keyhaven_keystore_backend_sessions_open')).toBeGreaterThanOrEqual(1);
    // A Prometheus histogram (not three gauges), so histogram_quantile() and recording rules apply.
    expect(text).toContain('# TYPE keyhaven_keystore_backend_call_duration_seconds histogram');
    expect(text).not.toMatch(/# TYPE keyhaven_keystore_backend_call_duration_seconds_(bucket|sum|count) /);
    const count = sample('keyhaven_keystore_backend_call_duration_seconds_count')!;
    expect(count).toBeGreaterThan(0);
    expect(sample('keyhaven_keystore_backend_call_duration_seconds_bucket', ',le="+Inf"')).toBe(count);
    expect(sample('keyhaven_keystore_backend_call_duration_seconds_sum')).toBeGreaterThan(0);
    // A scrape reads statistics only: it makes no call to the token.
    await metrics.render();
    expect(token.statistics().operations + token.statistics().failures).toBe(
      sample('keyhaven_keystore_backend_calls_total'),
    );
  });
});
