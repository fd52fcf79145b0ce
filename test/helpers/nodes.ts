// Several Keyhaven server processes (the compiled CLI, `npm run build` first) sharing one database,
// as nodes of one cluster behind a load balancer would: each on its own loopback port with its own
// data directory, all with the same sealed root key (the first node makes it, the others get a copy
// of its root-key.json, as docs/deploy.md says) and passphrase. A node can be killed with SIGKILL
// and started again with the same configuration, port and data directory: each node is a TestServer
// of server.ts, the one way tests start a server process.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_KEY_FILE } from '../../src/adapters/keystore/software/sealed-root-key.js';
import { startServer, type TestServer } from './server.js';

/** A node is a test server (server.ts) with a name: kill() it as a crash, start() it again. */
export interface ClusterNode extends TestServer {
  name: string;
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
    KEYHAVEN_DATABASE_URL: options.databaseUrl,
    KEYHAVEN_ROOT_PASSPHRASE: `nodes-${randomBytes(12).toString('hex')}`,
    KEYHAVEN_ADMIN_ACCESS_KEY_ID: accessKey.accessKeyId,
    KEYHAVEN_ADMIN_SECRET_ACCESS_KEY: accessKey.secretAccessKey,
    ...options.env,
  };
  const nodes: ClusterNode[] = [];
  const startNode = async (i: number) => {
    const name = `node-${'ABCDEFGHIJ'[i] ?? i}`;
    const dataDir = join(root, name);
    const server = await startServer({ env: shared, dataDir, token, name, readyTimeoutMs: 60_000 });
    nodes[i] = Object.assign(server, { name });
  };
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(root, 'node-A'), { mode: 0o700 });
    await startNode(0);
    const others = Array.from({ length: count - 1 }, (_, i) => i + 1);
    for (const i of others) {
      const dataDir = join(root, `node-${'ABCDEFGHIJ'[i] ?? i}`);
      mkdirSync(dataDir, { mode: 0o700 });
      copyFileSync(join(nodes[0]!.dataDir, ROOT_KEY_FILE), join(dataDir, ROOT_KEY_FILE));
    }
    await Promise.all(others.map(startNode));
  } catch (error) {
    await dispose();
    throw error;
  }
  return { nodes, token, accessKey, dispose };
}
