// Starts a real Keyhaven server process (the compiled CLI, `npm run build` first) on a free loopback
// port with its own temporary data directory, for integration tests over real HTTP (or HTTPS).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { envWithoutKeyhaven, freePort, stopChild, waitUntilReady } from '../../bench/processes.js';
import type { ClientTlsOptions } from '../../src/client/index.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'bin', 'keyhaven.js');

export interface TestServer {
  url: string;
  token: string;
  dataDir: string;
  env: Record<string, string>;
  /** Output the process wrote so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
  /** Stops and starts again on the same data directory and port (optionally with changed env). */
  restart(envOverrides?: Record<string, string | undefined>): Promise<void>;
  /** Stops and removes the data directory. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /**
   * The server serves TLS (its KEYHAVEN_TLS_* variables go in `env`): `url` is https://, and the
   * readiness probe trusts `ca` and presents `cert`/`key` when the server requires mutual TLS.
   */
  https?: ClientTlsOptions;
}

/** Starts a server; rejects with its output if it exits or is not ready within 30 s. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'keyhaven-test-'));
  const port = await freePort();
  const token = `khk_test_${randomBytes(16).toString('hex')}`;
  let env: Record<string, string> = {
    KEYHAVEN_DATA_DIR: dataDir,
    KEYHAVEN_HOST: '127.0.0.1',
    KEYHAVEN_PORT: String(port),
    KEYHAVEN_ADMIN_TOKEN: token,
    KEYHAVEN_LOG_LEVEL: 'warn',
    ...options.env,
  };
  let child: ChildProcess | undefined;
  let output = '';
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;

  const launch = async () => {
    output = '';
    const proc = spawn(process.execPath, [CLI_PATH, 'server'], {
      env: { ...envWithoutKeyhaven(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntilReady(url, proc, () => output, options.https);
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (proc) await stopChild(proc, 10_000);
  };

  await launch();
  const server: TestServer = {
    url,
    token,
    dataDir,
    get env() {
      return env;
    },
    output: () => output,
    stop,
    async restart(envOverrides = {}) {
      await stop();
      const next = { ...env };
      for (const [key, value] of Object.entries(envOverrides)) {
        if (value === undefined) delete next[key];
        else next[key] = value;
      }
      env = next;
      await launch();
    },
    async dispose() {
      await stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Runs the server expecting it to fail at start; resolves with its exit code and output. */
export async function startExpectingFailure(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [CLI_PATH, 'server'], {
    env: {
      ...envWithoutKeyhaven(),
      KEYHAVEN_HOST: '127.0.0.1',
      KEYHAVEN_PORT: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((done) => proc.once('exit', (c) => done(c)));
  clearTimeout(timer);
  return { code, output };
}
