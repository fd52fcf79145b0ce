// Failover between two HSM backends over real HTTP: a server process whose key store is two SoftHSM2
// tokens (the second a replica of the first). During a steady stream of encrypt/decrypt/sign requests
// the first token's directory is moved away: at most the in-flight request may fail, /ready shows the
// first backend's circuit open, and once the directory is back the circuit closes again by itself.
import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsm, writeMultiBackendConfig, type SoftHsm } from '../helpers/softhsm.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { Api } from './http.js';
import type { KeyReply } from './wire-types.js';

interface ReadyBackend {
  name: string;
  kind: string;
  healthy: boolean;
  circuit?: string;
  detail?: string;
}

interface Outcome {
  at: number;
  action: string;
  status: number;
  text: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('failover between two HSM backends (SoftHSM2, server process)', () => {
  let hsm: SoftHsm;
  let server: TestServer;
  let api: Api;

  const backend = async (name: string): Promise<ReadyBackend | undefined> => {
    const ready = await api.get<{ backends: ReadyBackend[] }>('/ready');
    return ready.body.backends.find((b) => b.name === name);
  };

  /** Polls /ready until `accept` holds for the backend; returns the milliseconds it took. */
  const waitFor = async (name: string, accept: (b: ReadyBackend) => boolean, timeoutMs = 15_000) => {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      const current = await backend(name);
      if (current && accept(current)) return Date.now() - started;
      await sleep(50);
    }
    throw new Error(`${name} never reached the expected state: ${JSON.stringify(await backend(name))}`);
  };

  /** One sample of /metrics, e.g. metric('keyhaven_keystore_backend_calls_total', 'hsm-b'). */
  const metric = async (name: string, backendName: string, extra = '') => {
    const text = (await api.get('/metrics')).text;
    const prefix = `${name}{backend="${backendName}",kind="pkcs11"${extra}} `;
    const line = text.split('\n').find((l) => l.startsWith(prefix));
    return line === undefined ? undefined : Number(line.slice(prefix.length));
  };

  beforeAll(async () => {
    hsm = createSoftHsm({ tokens: 2, labelPrefix: 'keyhaven-failover' });
    const config = writeMultiBackendConfig(hsm, {
      // No material cache: every SOFTWARE key operation unwraps under the HSM root key.
      cache: { maxEntries: 0 },
    });
    server = await startServer({
      env: { ...hsm.env, KEYHAVEN_CONFIG: config, KEYHAVEN_LOG_LEVEL: 'error' },
    });
    api = new Api(server.url, server.token);
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('loses at most the in-flight request when the first token vanishes, and closes the circuit when it returns', async () => {
    const first = await backend('hsm-a');
    const second = await backend('hsm-b');
    expect(first).toMatchObject({ kind: 'pkcs11', healthy: true, circuit: 'closed' });
    expect(second).toMatchObject({ kind: 'pkcs11', healthy: true, circuit: 'closed' });

    const created = async (input: Record<string, unknown>) => {
      const response = await api.post<KeyReply>('/v1/keys', input);
      expect(response.status, response.text).toBe(201);
      return response.body.key.keyId;
    };
    const softwareKey = await created({});
    const hsmKey = await created({ protectionLevel: 'HSM' });
    const signingKey = await created({
      protectionLevel: 'HSM',
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
    });

    const outcomes: Outcome[] = [];
    let streaming = true;
    const record = async (action: string, send: () => Promise<{ status: number; text: string }>) => {
      const response = await send().catch((error: unknown) => ({ status: 0, text: String(error) }));
      outcomes.push({ at: Date.now(), action, status: response.status, text: response.text });
      return response;
    };
    const stream = (async () => {
      for (let i = 0; streaming; i++) {
        for (const keyId of [softwareKey, hsmKey]) {
          const sealed = await record(`encrypt ${keyId === hsmKey ? 'HSM' : 'SOFTWARE'}`, () =>
            api.post<{ ciphertext: string }>('/v1/encrypt', { keyId, plaintext: b64(`message ${i}`) }),
          );
          if (sealed.status !== 200) continue;
          const ciphertext = (JSON.parse(sealed.text) as { ciphertext: string }).ciphertext;
          await record(`decrypt ${keyId === hsmKey ? 'HSM' : 'SOFTWARE'}`, () =>
            api.post('/v1/decrypt', { ciphertext }),
          );
        }
        await record('sign HSM', () =>
          api.post('/v1/sign', { keyId: signingKey, message: b64(`m${i}`), algorithm: 'ECDSA_SHA_256' }),
        );
      }
    })();

    await sleep(1000);
    const secondCallsBefore = (await metric('keyhaven_keystore_backend_calls_total', 'hsm-b'))!;
    const tokenDir = hsm.tokens[0]!.directory();
    const away = join(dirname(hsm.tokenDir), 'token-a-away');
    const removedAt = Date.now();
    renameSync(tokenDir, away);
    const openedAfter = await waitFor('hsm-a', (b) => !b.healthy && b.circuit !== 'closed');
    // The second token serves: the node stays ready (the backends are one failover group).
    const readyWhileAway = await api.get<{ ready: boolean }>('/ready');
    expect([readyWhileAway.status, readyWhileAway.body.ready]).toEqual([200, true]);
    const whileAway = await backend('hsm-a');
    expect(await metric('keyhaven_keystore_backend_healthy', 'hsm-a')).toBe(0);
    await sleep(1500);
    // The second token served the stream meanwhile.
    const secondCallsAway = (await metric('keyhaven_keystore_backend_calls_total', 'hsm-b'))!;
    expect(secondCallsAway - secondCallsBefore).toBeGreaterThan(50);
    expect(await backend('hsm-b')).toMatchObject({ healthy: true, circuit: 'closed' });

    const restoredAt = Date.now();
    renameSync(away, tokenDir);
    const closedAfter = await waitFor('hsm-a', (b) => b.healthy && b.circuit === 'closed');
    await sleep(1000);
    streaming = false;
    await stream;

    const failed = outcomes.filter((o) => o.status !== 200);
    const during = outcomes.filter((o) => o.at >= removedAt && o.at <= restoredAt + closedAfter);
    console.log(
      `failover: ${outcomes.length} requests (${during.length} while hsm-a was away or recovering), ` +
        `${failed.length} failed; circuit opened ${openedAfter} ms after removal, closed ${closedAfter} ms after restore` +
        (failed.length > 0 ? `\n${failed.map((f) => `${f.action}: ${f.status} ${f.text}`).join('\n')}` : ''),
    );
    expect(whileAway?.circuit).toMatch(/^(open|half-open)$/);
    expect(during.length).toBeGreaterThan(10);
    expect(failed.length, JSON.stringify(failed)).toBeLessThanOrEqual(1);
    expect(outcomes.at(-1)?.status).toBe(200);
    expect(await backend('hsm-a')).toMatchObject({ healthy: true, circuit: 'closed' });
    expect(await metric('keyhaven_keystore_backend_circuit_state', 'hsm-a', ',state="closed"')).toBe(1);
  });
});
