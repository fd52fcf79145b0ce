// Child processes of the benchmark: a real Keyhaven server (the compiled CLI, as `keyhaven server`)
// on a temporary data directory, and the bare-Fastify baseline. Mirrors test/helpers/server.ts,
// which is not compiled into dist/.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { httpsFetch, type ClientTlsOptions } from '../src/client/agent-fetch.js';

/** The repository root: the nearest directory above this file holding package.json. */
function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'keyhaven.js'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root above ${import.meta.dirname}`);
    dir = parent;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

export interface BenchProcess {
  name: string;
  url: string;
  host: string;
  port: number;
  pid: number;
  output(): string;
  /**
   * CPU time (user + system, ms) the process and its descendants (cluster workers) have used so
   * far, or undefined where /proc is missing.
   */
  cpuTimeMs(): number | undefined;
  stop(): Promise<void>;
}

export interface KeyhavenProcess extends BenchProcess {
  token: string;
  /** The bootstrap admin's access key pair (KEYHAVEN_ADMIN_ACCESS_KEY_ID), for the AWS dialect. */
  accessKey: { accessKeyId: string; secretAccessKey: string };
  dataDir: string;
}

export interface SpawnOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeFlags?: string[];
  /** Name in messages (default "keyhaven" or "baseline"). */
  name?: string;
  /** Extra environment, e.g. the pkcs11 key store's KEYHAVEN_PKCS11_* and SOFTHSM2_CONF. */
  env?: Record<string, string>;
  /**
   * A command the server runs under (e.g. valgrind and its options): spawned with node and its
   * arguments appended. The pid stays the server's (valgrind runs the program in its own process).
   */
  wrapper?: string[];
  /** How long to wait for /health (default 30 s; much longer under valgrind). */
  readyTimeoutMs?: number;
}

export interface KeyhavenSpawnOptions extends SpawnOptions {
  /**
   * A configuration file for settings that have no environment variable (e.g. `cache.maxEntries`),
   * written into the data directory and passed as KEYHAVEN_CONFIG; the environment still overrides it.
   */
  config?: Record<string, unknown>;
  /** The checkout whose `bin/keyhaven.js` runs (default: this one). */
  checkout?: string;
  /**
   * The bootstrap admin's token and access key pair (default: new random ones). The nodes of one
   * cluster share them: the first node creates the admin in the shared database, the others find it.
   */
  credentials?: { token: string; accessKey: { accessKeyId: string; secretAccessKey: string } };
  /**
   * Runs once the data directory exists and before the server starts, with the server's
   * environment: to put files there (a cluster's shared root key) or to fill its store.
   */
  prepare?: (dataDir: string, env: Record<string, string>) => Promise<void> | void;
}

export async function startKeyhaven(options: KeyhavenSpawnOptions = {}): Promise<KeyhavenProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-bench-'));
  const port = await freePort();
  const { token, accessKey } = options.credentials ?? newCredentials();
  const configFile = join(dataDir, 'bench-config.json');
  if (options.config) writeFileSync(configFile, JSON.stringify(options.config, null, 2) + '\n');
  const env = {
    ...envWithoutKeyhaven(),
    ...(options.config ? { KEYHAVEN_CONFIG: configFile } : {}),
    KEYHAVEN_DATA_DIR: dataDir,
    KEYHAVEN_HOST: '127.0.0.1',
    KEYHAVEN_PORT: String(port),
    KEYHAVEN_ADMIN_TOKEN: token,
    KEYHAVEN_ADMIN_ACCESS_KEY_ID: accessKey.accessKeyId,
    KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: accessKey.secretAccessKey,
    KEYHAVEN_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const cli = join(options.checkout ?? repoRoot(), 'bin', 'keyhaven.js');
  let proc: BenchProcess;
  try {
    if (options.prepare) {
      const defined = Object.entries(env).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      );
      await options.prepare(dataDir, Object.fromEntries(defined));
    }
    proc = await launch(
      options.name ?? 'keyhaven',
      [...(options.nodeFlags ?? []), cli, 'server'],
      env,
      port,
      options,
    );
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...proc,
    token,
    accessKey,
    dataDir,
    async stop() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A bootstrap admin token and access key pair for a new server (or cluster). */
export function newCredentials(): NonNullable<KeyhavenSpawnOptions['credentials']> {
  return {
    token: `khk_bench_${randomBytes(16).toString('hex')}`,
    accessKey: {
      accessKeyId: `AKIABENCH${randomBytes(6).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
    },
  };
}

export async function startBaseline(options: SpawnOptions = {}): Promise<BenchProcess> {
  const port = await freePort();
  const script = join(import.meta.dirname, 'baseline-server.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first`);
  return launch(
    'baseline',
    [...(options.nodeFlags ?? []), script],
    {
      ...process.env,
      BENCH_BASELINE_PORT: String(port),
    },
    port,
    options,
  );
}

async function launch(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  options: SpawnOptions = {},
): Promise<BenchProcess> {
  const host = '127.0.0.1';
  const url = `http://${host}:${port}`;
  let output = '';
  const [command, ...prefix] = options.wrapper ?? [process.execPath];
  const child = spawn(command!, [...prefix, ...(options.wrapper ? [process.execPath] : []), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitUntilReady(url, child, () => output, undefined, options.readyTimeoutMs);
  const pid = child.pid!;
  return {
    name,
    url,
    host,
    port,
    pid,
    output: () => output,
    cpuTimeMs: () => processTreeCpuMs(pid),
    stop: () => stopChild(child),
  };
}

/** This process's environment without KEYHAVEN_* variables, for a child that must get only its own. */
export function envWithoutKeyhaven(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('KEYHAVEN_')) delete env[key];
  return env;
}

/** SIGTERM, then SIGKILL after `graceMs` (a server started with --cpu-prof writes its profile on the way out). */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Polls `${url}/health`; rejects with the output if the process exits or is not ready in time (30 s by default).
 * An https `url` needs `tls`: the CA that issued the server's certificate and, when the server
 * requires mutual TLS, a client certificate and key.
 */
export async function waitUntilReady(
  url: string,
  child: ChildProcess,
  output: () => string,
  tls?: ClientTlsOptions,
  timeoutMs = 30_000,
): Promise<void> {
  const probe = healthProbe(url, tls);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${url}: process exited with ${child.exitCode}:\n${output()}`);
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${url}: not ready within ${timeoutMs / 1000} s:\n${output()}`);
}

/** Whether GET /health answers 2xx: over the global fetch, or the SDK's https client with `tls`. */
function healthProbe(url: string, tls: ClientTlsOptions | undefined): () => Promise<boolean> {
  const health = new URL('/health', url);
  if (!tls) return async () => (await fetch(health)).ok;
  const fetchOverTls = httpsFetch(tls);
  return async () => {
    const response = await fetchOverTls(health, {
      method: 'GET',
      headers: {},
      body: undefined,
      signal: AbortSignal.timeout(5000),
    });
    return response.ok;
  };
}

let clockTicks: number | undefined;

/** The fields of /proc/<pid>/stat from "state" (field 3) on; the command name may hold spaces. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * utime + stime of `pid` and of every live descendant, plus the cutime + cstime of each (children
 * that exited and were waited for), from /proc, in ms (Linux only; undefined without /proc or once
 * `pid` is gone). One scan of /proc: a cluster's workers and a PostgreSQL server's backends count
 * with their parent.
 */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = statFields(pid);
  if (!own) return undefined;
  const children = new Map<number, number[]>();
  const stats = new Map<number, string[]>([[pid, own]]);
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    entries = [];
  }
  for (const entry of entries) {
    const fields = statFields(entry);
    if (!fields) continue;
    const child = Number(entry);
    const parent = Number(fields[1]);
    stats.set(child, child === pid ? own : fields);
    const siblings = children.get(parent);
    if (siblings) siblings.push(child);
    else children.set(parent, [child]);
  }
  let ticks = 0;
  const seen = new Set<number>();
  for (const queue = [pid]; queue.length > 0;) {
    const next = queue.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const fields = stats.get(next);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    queue.push(...(children.get(next) ?? []));
  }
  clockTicks ??= readClockTicks();
  return (ticks / clockTicks) * 1000;
}

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

export const resolveFromRoot = (...parts: string[]) => resolve(repoRoot(), ...parts);
