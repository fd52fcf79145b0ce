// The operator commands `keyhaven hsm init` and `keyhaven hsm status` as real CLI processes (the
// compiled CLI: `npm run build` first) against SoftHSM2 tokens in a temp dir: init from the
// KEYHAVEN_PKCS11_* environment (root key visible to pkcs11-tool, idempotent, mechanism report, a
// wrong PIN), and status against a server with two backends, before and after the first token vanishes.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsm, writeMultiBackendConfig, type SoftHsm } from '../helpers/softhsm.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { runCli, type CliResult } from './run-cli.js';

interface InitReport {
  rootKeyLabel: string;
  rootKey: string;
  transportKey: string;
  pendingReplications: Record<string, number>;
  hsmKeySpecs: string[];
  unsupportedKeySpecs: string[];
  offered: { specs: string; operations: string; mechanisms: string }[];
  notOffered: { feature: string; reason: string }[];
  backends: {
    backend: string;
    tokenLabel: string;
    missingMechanisms: { mechanism: string; specs: string[] }[];
  }[];
}

interface StatusBackend {
  name: string;
  kind: string;
  healthy: boolean;
  detail?: string;
  circuit?: string;
  pendingReplications?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ok(result: CliResult): CliResult {
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}${result.out}`);
  return result;
}

/** How many objects pkcs11-tool lists with exactly this label. */
const objectsLabelled = (listing: string, label: string) =>
  listing.split('\n').filter((line) => line.trim() === `label:      ${label}`).length;

describe('keyhaven hsm init (one SoftHSM2 token from KEYHAVEN_PKCS11_*)', () => {
  let hsm: SoftHsm;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    hsm = createSoftHsm({ labelPrefix: 'keyhaven-cli-init' });
    dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-cli-hsm-'));
    env = { ...hsm.keyhavenEnv, KEYHAVEN_DATA_DIR: dataDir };
  });
  afterAll(() => {
    hsm?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the root key in a fresh token (pkcs11-tool then lists it) and reports that SoftHSM 2.6.1 lacks no mechanism', async () => {
    expect(objectsLabelled(hsm.pkcs11Tool(['--list-objects']), 'keyhaven-root')).toBe(0);

    const result = ok(await runCli(['hsm', 'init'], { env }));
    const lines = result.out.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'root key "keyhaven-root": created',
      `hsm-1 (token "${hsm.label}"): every mechanism the HSM key specs need is offered`,
      '',
      'offered at protection level HSM (inside the token):',
    ]);
    // Every key spec is offered; the tables name the operations and, for the rest, the reason.
    expect(result.out).not.toContain('key specs not offered');
    const row = (start: string) => lines.find((line) => line.startsWith(start)) ?? '';
    expect(row('ECC_NIST_EDWARDS25519 ')).toMatch(/ED25519_SHA_512.*CKM_EDDSA/);
    expect(row('ECC_NIST_P256/P384/P521, ECC_SECG_P256K1 ')).toMatch(/ECDSA.*CKM_ECDSA/);
    expect(lines).toContain('not offered at protection level HSM:');
    expect(row('ED25519_PH_SHA_512 ')).toMatch(/CK_EDDSA_PARAMS/);
    expect(row('derive (HKDF) ')).toMatch(/CKM_HKDF_DERIVE/);
    expect(row('import wrapped RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_* ')).toMatch(/CKM_RSA_AES_KEY_WRAP/);
    expect(row('SYMMETRIC_DEFAULT, HMAC_224/256/384/512 ')).toMatch(/import .*RSAES_OAEP_SHA_1/);
    // A single backend needs no transport key, so no line about one.
    expect(result.out).not.toMatch(/^transport key/m);
    expect(existsSync(join(dataDir, 'pkcs11-root.json'))).toBe(true);

    const listing = hsm.pkcs11Tool(['--list-objects']);
    expect(objectsLabelled(listing, 'keyhaven-root')).toBe(1);
    expect(listing).toMatch(/Secret Key Object; AES length 32\s+label:\s+keyhaven-root/);
  });

  it('is idempotent: a second run reports the existing root key, exits 0, creates no second one, and --json parses', async () => {
    const again = ok(await runCli(['hsm', 'init'], { env }));
    expect(again.out.split('\n')[0]).toBe('root key "keyhaven-root": present');

    const report = JSON.parse(ok(await runCli(['--json', 'hsm', 'init'], { env })).out) as InitReport;
    expect(report).toMatchObject({
      rootKeyLabel: 'keyhaven-root',
      rootKey: 'present',
      transportKey: 'not-needed',
      pendingReplications: { 'hsm-1': 0 },
      unsupportedKeySpecs: [],
    });
    expect(report.hsmKeySpecs).toEqual(
      expect.arrayContaining(['SYMMETRIC_DEFAULT', 'RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P521']),
    );
    expect(report.notOffered.map((n) => n.feature)).toEqual(
      expect.arrayContaining(['ED25519_PH_SHA_512', 'derive (HKDF)', 'import of asymmetric material']),
    );
    expect(report.offered.map((o) => o.specs)).toContain('ECC_NIST_EDWARDS25519');
    // The check is by mechanism: SoftHSM 2.6.1 offers CKM_RSA_PKCS_OAEP (its SHA-1-only OAEP is refused
    // per request, see docs/hsm.md), and every other mechanism the HSM key specs need.
    expect(report.backends).toEqual([{ backend: 'hsm-1', tokenLabel: hsm.label, missingMechanisms: [] }]);

    expect(objectsLabelled(hsm.pkcs11Tool(['--list-objects']), 'keyhaven-root')).toBe(1);
  });

  it('exits 2 with a configuration error naming the refused PIN and token, without printing the PIN', async () => {
    const wrongPin = `wrong-${Math.random().toString(36).slice(2, 10)}`;
    const result = await runCli(['hsm', 'init'], { env: { ...env, KEYHAVEN_PKCS11_PIN: wrongPin } });
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.stderr).toContain(
      `error: ConfigError: the PIN for token "${hsm.label}" was refused (CKR_PIN_INCORRECT)`,
    );
    expect(result.stderr).not.toContain(wrongPin);
    expect(result.stderr).not.toContain(hsm.pin);
  });

  it('refuses with a usage error (exit 2) when the configured key store is not pkcs11', async () => {
    const result = await runCli(['hsm', 'init'], { env: { KEYHAVEN_DATA_DIR: dataDir } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the configured key store is not pkcs11');
  });
});

describe('keyhaven hsm status (server with two SoftHSM2 backends)', () => {
  let hsm: SoftHsm;
  let server: TestServer;

  const kh = (args: string[]) =>
    runCli(args, { env: { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token } });
  const statusJson = async () => {
    const result = await kh(['--json', 'hsm', 'status']);
    return {
      code: result.code,
      backends: (JSON.parse(result.out) as { backends: StatusBackend[] }).backends,
    };
  };
  /** Polls `hsm status --json` until `accept` holds; returns the last answer. */
  const waitForStatus = async (accept: (backends: StatusBackend[]) => boolean, timeoutMs = 10_000) => {
    const started = Date.now();
    for (;;) {
      const current = await statusJson();
      if (accept(current.backends)) return current;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`hsm status never reached the expected state: ${JSON.stringify(current)}`);
      }
      await sleep(100);
    }
  };
  const row = (out: string, name: string) =>
    out.split('\n').find((line) => line.startsWith(`${name} `)) ?? '';

  beforeAll(async () => {
    hsm = createSoftHsm({ tokens: 2, labelPrefix: 'keyhaven-cli-status' });
    const config = writeMultiBackendConfig(hsm);
    server = await startServer({ env: { ...hsm.env, KEYHAVEN_CONFIG: config, KEYHAVEN_LOG_LEVEL: 'error' } });
  });
  afterAll(async () => {
    await server?.dispose();
    hsm?.dispose();
  });

  it('shows both backends healthy with circuit closed, session pool use and latency, and exits 0', async () => {
    const result = ok(await kh(['hsm', 'status']));
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^BACKEND +HEALTHY +DETAIL$/);
    expect(lines).toHaveLength(3);
    for (const [name, token] of [
      ['hsm-a', hsm.tokens[0]!],
      ['hsm-b', hsm.tokens[1]!],
    ] as const) {
      expect(row(result.out, name)).toMatch(
        new RegExp(
          `^${name} +yes +token "${token.label}", circuit closed, sessions \\d+/\\d+ in use \\(max 4\\), latency \\d+\\.\\d{2} ms$`,
        ),
      );
    }
    // The metadata database is a backend of /ready but not an HSM one.
    expect(result.out).not.toContain('metadata');
  });

  it('--json lists exactly the two PKCS#11 backends, healthy, circuit closed, nothing pending replication', async () => {
    const { code, backends } = await statusJson();
    expect(code).toBe(0);
    expect(backends.map((b) => b.name)).toEqual(['hsm-a', 'hsm-b']);
    for (const backend of backends) {
      expect(backend).toMatchObject({
        kind: 'pkcs11',
        healthy: true,
        circuit: 'closed',
        pendingReplications: 0,
      });
      expect(backend.detail).toMatch(/sessions \d+\/\d+ in use \(max 4\), latency \d+\.\d{2} ms/);
    }
  });

  it('shows the first backend unhealthy with its circuit open and exits 1 while its token is gone, and healthy again (copy caught up) once it is back', async () => {
    const tokenDir = hsm.tokens[0]!.directory();
    const away = join(dirname(hsm.tokenDir), 'token-a-away');
    renameSync(tokenDir, away);
    try {
      // Unhealthy from the first failed probe; the circuit opens after failureThreshold failures.
      const down = await waitForStatus((b) => b[0]?.healthy === false && b[0].circuit !== 'closed');
      expect(down.code).toBe(1);
      expect(down.backends[0]).toMatchObject({ name: 'hsm-a', healthy: false });
      expect(down.backends[0]!.circuit).toMatch(/^(open|half-open)$/);
      expect(down.backends[1]).toMatchObject({ name: 'hsm-b', healthy: true, circuit: 'closed' });

      const table = await kh(['hsm', 'status']);
      expect(table.code).toBe(1);
      expect(row(table.out, 'hsm-a')).toMatch(
        new RegExp(
          `^hsm-a +no +token "${hsm.tokens[0]!.label}", circuit (open|half-open), .*no token labelled`,
        ),
      );
      expect(row(table.out, 'hsm-b')).toMatch(/^hsm-b +yes +token "[^"]+", circuit closed, /);

      // An HSM key created meanwhile lives on hsm-b only: hsm-a is shown lacking it (once the
      // background readiness probe, every 2 s, has seen it).
      ok(await kh(['keys', 'create', '--protection-level', 'HSM']));
      const lacking = await waitForStatus((b) => b[0]?.pendingReplications === 1);
      expect(lacking.backends[0]).toMatchObject({ name: 'hsm-a', pendingReplications: 1 });
      expect(lacking.backends[0]!.detail).toContain('1 object(s) pending replication');
      expect(lacking.backends[1]).toMatchObject({ name: 'hsm-b', pendingReplications: 0 });
    } finally {
      if (existsSync(away)) renameSync(away, tokenDir);
    }

    const back = await waitForStatus((b) => b.every((x) => x.healthy && x.pendingReplications === 0));
    expect(back.code).toBe(0);
    expect(back.backends.map((b) => b.circuit)).toEqual(['closed', 'closed']);
    ok(await kh(['hsm', 'status']));
  });
});
