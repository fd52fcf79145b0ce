// `keyhaven logs ...` and the SDK's audit methods against a real server process: list with filters,
// verify on the server, export and the pinned public key, then `keyhaven audit verify` offline.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyhavenClient, type AuditRecord } from '../../src/client/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { runCli, type CliRunOptions } from './run-cli.js';

let server: TestServer;
let workDir: string;

beforeAll(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'keyhaven-logs-'));
  const client = new KeyhavenClient({ endpoint: server.url, token: server.token });
  const key = await client.createKey({});
  await client.encrypt({ keyId: key.keyId, plaintext: Buffer.from('logged') });
});

afterAll(async () => {
  await server?.dispose();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const kh = (args: string[], options: CliRunOptions = {}) =>
  runCli(args, {
    ...options,
    env: { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token, ...options.env },
  });

describe('keyhaven logs', () => {
  it('lists records with filters, as a table and as JSON', async () => {
    const listed = await kh(['--json', 'logs', 'list', '--action', 'Encrypt']);
    expect(listed.code, listed.stderr).toBe(0);
    const records = (JSON.parse(listed.out) as { records: AuditRecord[] }).records;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ action: 'Encrypt', result: 'allow', keyVersion: 1 });
    const table = await kh(['logs', 'list', '--limit', '2']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/SEQ\s+TIME\s+PRINCIPAL\s+ACTION/);
  });

  it('verifies on the server, and offline from an export with the pinned key', async () => {
    const verified = await kh(['logs', 'verify']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.out).toContain('intact');
    const exportFile = join(workDir, 'export.jsonl');
    const keyFile = join(workDir, 'audit.pem');
    expect((await kh(['logs', 'export', '--out', exportFile])).code).toBe(0);
    expect((await kh(['logs', 'public-key', '--out', keyFile])).code).toBe(0);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // The export ends with records written after the last checkpoint (the server still runs):
    // intact, with an unsigned tail.
    const offline = await runCli([
      '--json',
      'audit',
      'verify',
      '--export',
      exportFile,
      '--public-key',
      keyFile,
    ]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.out)).toMatchObject({ valid: true });
  });

  it('lists the logs subcommands in --help', async () => {
    const help = await kh(['logs', '--help']);
    for (const sub of ['list', 'verify', 'export', 'public-key']) expect(help.out).toContain(sub);
  });
});
