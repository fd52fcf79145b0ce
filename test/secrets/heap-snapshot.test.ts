// What the runtime store leaves in the JS heap: a child process starts a store on a file encrypted
// by a real server, writes a V8 heap snapshot before any get(), then (the control that proves the
// search finds what is there) another after get() with the values held. No plaintext may be in the
// first, in any form: the string itself (UTF-8 or UTF-16 in the file, or among the snapshot's
// parsed strings) or its base64; process.env never holds one.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envWithoutKeyhaven } from '../../bench/processes.js';
import { runCli } from '../cli/run-cli.js';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';
import { Api } from '../integration/http.js';
import { createKey } from '../integration/suite-server.js';

const SECRETS = {
  PROBE_ASCII: 'kh-heap-probe-ascii-Q7w9Z2xR4t',
  PROBE_UNICODE: 'kh-heap-probe-ünïcødé-密码-🔑-Ж',
  PROBE_MULTILINE: 'kh-heap-probe-first-line\nkh-heap-probe-second-line-V3n8',
};

const CHILD = `
import { writeHeapSnapshot } from 'node:v8';
const { createSecretStore } = await import(process.argv[2]);
const [, , , file, dir] = process.argv;
const names = ${JSON.stringify(Object.keys(SECRETS))};
const store = await createSecretStore(file, { required: names });
const before = writeHeapSnapshot(dir + '/before.heapsnapshot');
const envValues = Object.values(process.env).join('\\n');
const kept = names.map((name) => store.get(name));
const after = writeHeapSnapshot(dir + '/after.heapsnapshot');
const envLeak = kept.some((value) => envValues.includes(value)) || Object.values(process.env).some((v) => kept.some((k) => v.includes(k)));
store.destroy();
process.stdout.write(JSON.stringify({ before, after, envLeak, held: kept.length }));
`;

let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), 'keyhaven-heap-'));
});
afterAll(async () => {
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every form in which `value` could sit in a snapshot's strings or its file. */
function findIn(snapshotPath: string, value: string): string[] {
  const raw = readFileSync(snapshotPath);
  const strings = (JSON.parse(raw.toString('utf8')) as { strings: string[] }).strings;
  const base64 = Buffer.from(value, 'utf8').toString('base64');
  const found: string[] = [];
  // V8's snapshot writer mangles characters outside the BMP (🔑 comes out as a lone \uF511), so
  // the value is also looked for in pieces: every line, cut at such characters.
  const pieces = value.split(/[\n\u{10000}-\u{10FFFF}]/u).filter((piece) => piece.length >= 8);
  if (strings.some((s) => s.includes(value))) found.push('string');
  for (const piece of pieces) if (strings.some((s) => s.includes(piece))) found.push(`piece ${piece}`);
  if (strings.some((s) => s.includes(base64))) found.push('base64 string');
  if (raw.includes(Buffer.from(value, 'utf8'))) found.push('UTF-8 bytes');
  if (raw.includes(Buffer.from(value, 'utf16le'))) found.push('UTF-16 bytes');
  if (raw.includes(Buffer.from(base64))) found.push('base64 bytes');
  return found;
}

describe('the runtime store in a heap snapshot', () => {
  it('holds no plaintext after start-up, before any get(); process.env never does', async () => {
    const api = new Api(server.url, server.token);
    const keyId = (await createKey(api)).keyId;
    const file = join(dir, '.env');
    writeFileSync(
      file,
      Object.entries(SECRETS)
        .map(([name, value]) => `${name}="${value}"`)
        .join('\n') + '\n',
    );
    const env = { KEYHAVEN_ENDPOINT: server.url, KEYHAVEN_TOKEN: server.token };
    const encrypted = await runCli(['secrets', 'encrypt', file, '--key-id', keyId], { env });
    expect(encrypted.code, encrypted.stderr).toBe(0);
    for (const value of Object.values(SECRETS))
      expect(readFileSync(file, 'utf8')).not.toContain(value.slice(0, 20));

    const script = join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const library = pathToFileURL(join(REPO_ROOT, 'dist', 'packages', 'secrets', 'src', 'index.js')).href;
    const child = spawn(process.execPath, [script, library, file, dir], {
      env: { ...envWithoutKeyhaven(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, err).toBe(0);
    const result = JSON.parse(out) as { before: string; after: string; envLeak: boolean; held: number };

    expect(result.envLeak).toBe(false);
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(findIn(result.before, value), `${name} before get()`).toEqual([]);
      // The control: once get() has made the value a string and it is held, the search finds it.
      expect(findIn(result.after, value).length, `${name} after get()`).toBeGreaterThan(0);
    }
  });
});
