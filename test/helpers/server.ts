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
  /** The running process's pid (undefined while it is down). */
  pid(): number | undefined;
  /** Output the current process wrote since it started (stdout and stderr). */
  output(): string;
  /** Exits that neither stop() nor kill() caused (a crash), each with the end of its output. */
  crashes(): string[];
  /** Starts the process again on the same data directory, port and env (after stop or kill). */
  start(): Promise<void>;
  /** SIGTERM (drains), SIGKILL after 10 s. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (SIGKILL by default: a crash, nothing drained, flushed or released) and
   * resolves once the process exited.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops and starts again on the same data directory and port (optionally with changed env). */
  restart(envOverrides?: Record<string, string | undefined>): Promise<void>;
  /** Stops and removes the data directory (unless it was given). */
  dispose(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /** The bootstrap admin's API key (default: a fresh one). */
  token?: string;
  /**
   * The server serves TLS (its KEYHAVEN_TLS_* variables go in `env`): `url` is https://, and the
   * readiness probe trusts `ca` and presents `cert`/`key` when the server requires mutual TLS.
   */
  https?: ClientTlsOptions;
  /** Named in the messages of a start that fails (default: none). */
  name?: string;
  /** How long a start may take before it fails (default 30 s). */
  readyTimeoutMs?: number;
}

/** Starts a server; rejects with its output if it exits or is not ready in time. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'keyhaven-test-'));
  const port = await freePort();
  const token = options.token ?? `khk_test_${randomBytes(16).toString('hex')}`;
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
  const crashes: string[] = [];
  const url = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}`;
  const label = options.name === undefined ? '' : `${options.name}: `;

  const launch = async () => {
    output = '';
    const proc = spawn(process.execPath, [CLI_PATH, 'server'], {
      env: { ...envWithoutKeyhaven(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    // stop() and kill() let go of the process first: any other exit is a crash.
    proc.once('exit', (code, signal) => {
      if (child === proc) crashes.push(`${label}exited (${signal ?? code}):\n${output.slice(-4000)}`);
    });
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntilReady(url, proc, () => `${label}${output}`, options.https, options.readyTimeoutMs);
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
    pid: () => child?.pid,
    output: () => output,
    crashes: () => crashes,
    start: launch,
    stop,
    async kill(signal = 'SIGKILL') {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((done) => proc.once('exit', () => done()));
      proc.kill(signal);
      await exited;
    },
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
