// Several Keyhaven server processes (the compiled CLI, `npm run build` first) sharing one database,
// as nodes of one cluster behind a load balancer would: each on its own loopback port with its own
// data directory, all with the same sealed root key (the first node makes it, the others get a copy
// of its root-key.json, as docs/deploy.md says) and passphrase. A node can be killed with SIGKILL
// and started again with the same configuration, port and data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envWithoutKeyhaven, freePort, stopChild, waitUntilReady } from '../../bench/processes.js';
import { ROOT_KEY_FILE } from '../../src/adapters/keystore/software/sealed-root-key.js';
import { CLI_PATH } from './server.js';

export interface ClusterNode {
  name: string;
  url: string;
  dataDir: string;
  /** The running process's pid (undefined while it is down). */
  pid(): number | undefined;
  /** Output of the current process (stdout and stderr) since it started. */
  output(): string;
  /** Exits that neither kill() nor stop() caused (a crash), each with the end of its output. */
  crashes(): string[];
  /** Starts the process again on the same port, data directory and configuration. */
  start(): Promise<void>;
  /** SIGKILL, as a crash: nothing is drained, flushed or released. Resolves once it exited. */
  kill(): Promise<void>;
  /** SIGTERM (drains), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface Nodes {
  nodes: ClusterNode[];
  /** The bootstrap admin's API key, the same on every node (one database). */
  token: string;
  /** The bootstrap admin's access key pair for the AWS dialect. */
  accessKey: { accessKeyId: string; secretAccessKey: string };
  /** Stops every node and removes their directories. */
  dispose(): Promise<void>;
}

export interface NodesOptions {
  databaseUrl: string;
  /** The configuration file every node reads (KEYHAVEN_CONFIG); the environment sets the rest. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
}

/** Starts `count` nodes on `databaseUrl`: the first alone (root key, migrations, admin), then the others at once. */
export async function startNodes(count: number, options: NodesOptions): Promise<Nodes> {
  const root = mkdtempSync(join(tmpdir(), 'keyhaven-nodes-'));
  const configFile = join(root, 'config.json');
  writeFileSync(configFile, JSON.stringify(options.config ?? {}));
  const token = `khk_test_${randomBytes(16).toString('hex')}`;
  const accessKey = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
  };
  const shared = {
    KEYHAVEN_CONFIG: configFile,
    KEYHAVEN_HOST: '127.0.0.1',
    KEYHAVEN_DATABASE_URL: options.databaseUrl,
    KEYHAVEN_ROOT_PASSPHRASE: `nodes-${randomBytes(12).toString('hex')}`,
    KEYHAVEN_ADMIN_TOKEN: token,
    KEYHAVEN_ADMIN_ACCESS_KEY_ID: accessKey.accessKeyId,
    KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: accessKey.secretAccessKey,
    KEYHAVEN_LOG_LEVEL: 'warn',
    ...options.env,
  };
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = join(root, `node-${i}`);
    mkdirSync(dataDir, { mode: 0o700 });
    nodes.push(clusterNode(`node-${'ABCDEFGHIJ'[i] ?? i}`, dataDir, await freePort(), shared));
  }
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await nodes[0]!.start();
    for (const node of nodes.slice(1)) {
      copyFileSync(join(nodes[0]!.dataDir, ROOT_KEY_FILE), join(node.dataDir, ROOT_KEY_FILE));
    }
    await Promise.all(nodes.slice(1).map((node) => node.start()));
  } catch (error) {
    await dispose();
    throw error;
  }
  return { nodes, token, accessKey, dispose };
}

function clusterNode(
  name: string,
  dataDir: string,
  port: number,
  shared: Record<string, string>,
): ClusterNode {
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const crashes: string[] = [];
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((done) => proc.once('exit', () => done()));
  return {
    name,
    url,
    dataDir,
    pid: () => child?.pid,
    output: () => output,
    crashes: () => crashes,
    async start() {
      output = '';
      const proc = spawn(process.execPath, [CLI_PATH, 'server'], {
        env: { ...envWithoutKeyhaven(), ...shared, KEYHAVEN_DATA_DIR: dataDir, KEYHAVEN_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      proc.once('exit', (code, signal) => {
        if (child === proc) crashes.push(`${name} exited (${signal ?? code}):\n${output.slice(-4000)}`);
      });
      proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await waitUntilReady(url, proc, () => `${name}: ${output}`, undefined, 60_000);
    },
    async kill() {
      const proc = child;
      child = undefined;
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited(proc);
    },
    async stop() {
      const proc = child;
      child = undefined;
      if (proc) await stopChild(proc, 10_000);
    },
  };
}
