// Two worker processes sharing one SQLite file (server.workers = 2, node:cluster), over real HTTP.
// A worker cannot be chosen per request, but node:cluster hands each new connection to the next
// worker in turn (round robin, the default on Linux), so requests sent one after another, each on a
// connection of its own, alternate between the two: any two in a row cover both workers. The key
// metadata cache lives for 10 minutes here, so only cross-process invalidation can explain a change
// seen by the worker that did not make it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envWithoutKeyhaven, freePort, waitUntilReady } from '../../bench/processes.js';
import { KeyhavenClient } from '../../src/client/index.js';
import { CLI_PATH } from '../helpers/server.js';
import { statement } from './identity-fixtures.js';

interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

interface Cluster {
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  output(): string;
}

/** One request on a connection of its own (no keep-alive): the cluster picks the next worker. */
function fresh<T = Record<string, unknown>>(
  cluster: Cluster,
  method: string,
  path: string,
  json?: unknown,
  token = cluster.token,
): Promise<Reply<T>> {
  const body = json === undefined ? undefined : JSON.stringify(json);
  return new Promise((done, fail) => {
    const req = httpRequest(
      new URL(path, cluster.url),
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          connection: 'close',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/** `count` requests one after another, each on its own connection: both workers answer some. */
async function inTurn<T>(count: number, send: () => Promise<Reply<T>>): Promise<Reply<T>[]> {
  const replies: Reply<T>[] = [];
  for (let i = 0; i < count; i++) replies.push(await send());
  return replies;
}

const statuses = (replies: Reply<unknown>[]) => replies.map((r) => r.status);
const plaintext = Buffer.from('cluster').toString('base64');

async function startCluster(): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-cluster-'));
  const configFile = join(dataDir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      cache: { keyMetadataTtlMs: 600_000 },
      jobs: { intervalSeconds: 1 },
      audit: { fsync: false },
    }),
  );
  const port = await freePort();
  const token = `khk_test_${randomBytes(16).toString('hex')}`;
  const child = spawn(process.execPath, [CLI_PATH, 'server'], {
    env: {
      ...envWithoutKeyhaven(),
      KEYHAVEN_CONFIG: configFile,
      KEYHAVEN_DATA_DIR: join(dataDir, 'data'),
      KEYHAVEN_HOST: '127.0.0.1',
      KEYHAVEN_PORT: String(port),
      KEYHAVEN_ADMIN_TOKEN: token,
      KEYHAVEN_LOG_LEVEL: 'warn',
      KEYHAVEN_WORKERS: '2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const cluster: Cluster = { url: `http://127.0.0.1:${port}`, token, dataDir, child, output: () => output };
  await waitUntilReady(cluster.url, child, () => output, undefined, 90_000);
  await waitFor(
    () => listeningAnnouncements(output) >= 1,
    90_000,
    () => output,
  );
  return cluster;
}

const listeningAnnouncements = (output: string) => output.match(/2 workers listening on/g)?.length ?? 0;
const workerPids = (output: string) => [...output.matchAll(/worker (\d+) started/g)].map((m) => Number(m[1]));

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, why: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting:\n${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

async function createKey(cluster: Cluster, input: Record<string, unknown> = {}): Promise<string> {
  const created = await fresh<{ key: { keyId: string } }>(cluster, 'POST', '/v1/keys', input);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.key.keyId;
}

const encrypt = (cluster: Cluster, keyId: string, token?: string) =>
  fresh<{ keyVersion: number; error?: { code: string } }>(
    cluster,
    'POST',
    '/v1/encrypt',
    { keyId, plaintext },
    token,
  );

async function actor(
  cluster: Cluster,
  roles: string[],
): Promise<{ principalId: string; apiKeyId: string; secret: string }> {
  const made = await fresh<{ principal: { principalId: string } }>(cluster, 'POST', '/v1/principals', {
    name: `cluster-${randomBytes(4).toString('hex')}`,
    type: 'service',
    tenantId: 'default',
    roles,
  });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const principalId = made.body.principal.principalId;
  const key = await fresh<{ apiKey: { apiKeyId: string }; secret: string }>(
    cluster,
    'POST',
    `/v1/principals/${principalId}/api-keys`,
    {},
  );
  expect(key.status).toBe(201);
  return { principalId, apiKeyId: key.body.apiKey.apiKeyId, secret: key.body.secret };
}

describe('two workers sharing one SQLite database', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 120_000);

  afterAll(async () => {
    if (cluster.child.exitCode === null) cluster.child.kill('SIGKILL');
    rmSync(cluster.dataDir, { recursive: true, force: true });
  });

  it('starts two workers after one first start, which printed and made the admin key once', () => {
    expect(workerPids(cluster.output())).toHaveLength(2);
    expect(cluster.output().match(/bootstrap admin API key created/g)).toHaveLength(1);
    expect(cluster.output().match(/created a new root key/g)).toHaveLength(1);
  });

  it('a disable made through one worker refuses encryption on both at once (delay printed)', async () => {
    const keyId = await createKey(cluster);
    // Both workers now hold the key as Enabled, for the next 10 minutes unless told otherwise.
    expect(statuses(await inTurn(6, () => encrypt(cluster, keyId)))).toEqual(Array(6).fill(200));
    const disabled = await fresh(cluster, 'POST', `/v1/keys/${keyId}/disable`);
    expect(disabled.status).toBe(200);
    const acknowledged = performance.now();
    let delayMs: number | undefined;
    for (let attempt = 0; attempt < 200 && delayMs === undefined; attempt++) {
      const pair = await inTurn(2, () => encrypt(cluster, keyId));
      if (pair.every((reply) => reply.status === 409)) delayMs = performance.now() - acknowledged;
    }
    console.log(
      `cross-worker propagation of a disable: both workers refused within ${delayMs?.toFixed(1)} ms of the acknowledgement (upper bound: two requests' round trips)`,
    );
    const after = await inTurn(6, () => encrypt(cluster, keyId));
    expect(after.map((r) => r.body.error?.code)).toEqual(Array(6).fill('KeyDisabled'));
  });

  it('a rotation through one worker makes both encrypt under the new version', async () => {
    const keyId = await createKey(cluster);
    expect((await inTurn(4, () => encrypt(cluster, keyId))).map((r) => r.body.keyVersion)).toEqual([
      1, 1, 1, 1,
    ]);
    expect((await fresh(cluster, 'POST', `/v1/keys/${keyId}/rotate`)).status).toBe(200);
    expect((await inTurn(6, () => encrypt(cluster, keyId))).map((r) => r.body.keyVersion)).toEqual(
      Array(6).fill(2),
    );
  });

  it('a key policy change through one worker denies on both', async () => {
    const user = await actor(cluster, ['crypto-user']);
    const keyId = await createKey(cluster);
    expect(statuses(await inTurn(4, () => encrypt(cluster, keyId, user.secret)))).toEqual([
      200, 200, 200, 200,
    ]);
    const put = await fresh(cluster, 'PUT', `/v1/keys/${keyId}/policy`, {
      document: { statements: [statement('deny', user.principalId, ['Encrypt'])] },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(statuses(await inTurn(6, () => encrypt(cluster, keyId, user.secret)))).toEqual(Array(6).fill(403));
  });

  it('an API key revoked through one worker is refused by both', async () => {
    const user = await actor(cluster, ['crypto-user']);
    const keyId = await createKey(cluster);
    expect(statuses(await inTurn(4, () => encrypt(cluster, keyId, user.secret)))).toEqual([
      200, 200, 200, 200,
    ]);
    const revoked = await fresh(
      cluster,
      'DELETE',
      `/v1/principals/${user.principalId}/api-keys/${user.apiKeyId}`,
    );
    expect(revoked.status).toBeLessThan(300);
    expect(statuses(await inTurn(6, () => encrypt(cluster, keyId, user.secret)))).toEqual(Array(6).fill(401));
  });

  it('a rotation that falls due while both workers run happens once: one new version, one record', async () => {
    const keyId = await createKey(cluster, { rotationPeriodDays: 90 });
    // Ninety days pass: the key's next rotation is moved into the past in the shared file.
    const db = new BetterSqlite3(join(cluster.dataDir, 'data', 'keyhaven.db'));
    db.pragma('busy_timeout = 10000');
    db.prepare('UPDATE keys SET next_rotation_at = ? WHERE key_id = ?').run(Date.now() - 1000, keyId);
    db.close();
    const versions = async () =>
      (await fresh<{ versions: unknown[] }>(cluster, 'GET', `/v1/keys/${keyId}/versions`)).body.versions
        .length;
    await waitFor(async () => (await versions()) === 2, 30_000, cluster.output);
    // Several more job runs in each worker (every second): none rotates it again.
    await new Promise((r) => setTimeout(r, 3500));
    expect(await versions()).toBe(2);
    const records = await fresh<{ records: { principalId: string }[] }>(
      cluster,
      'GET',
      `/v1/logs?keyId=${keyId}&action=RotateKey`,
    );
    expect(records.body.records).toHaveLength(1);
    expect(records.body.records[0]!.principalId).toBe('system');
  }, 60_000);

  it('the audit chain verifies after concurrent load across both workers', async () => {
    const keyId = await createKey(cluster);
    const before = (await fresh<{ records: number }>(cluster, 'GET', '/v1/logs/verify')).body.records;
    const sent = 200;
    let next = 0;
    const lane = async () => {
      const replies: number[] = [];
      while (next++ < sent) replies.push((await encrypt(cluster, keyId)).status);
      return replies;
    };
    const replies = (await Promise.all(Array.from({ length: 16 }, lane))).flat();
    expect(replies).toEqual(Array(sent).fill(200));
    const verification = await fresh<{ valid: boolean; records: number }>(cluster, 'GET', '/v1/logs/verify');
    expect(verification.body.valid, JSON.stringify(verification.body)).toBe(true);
    expect(verification.body.records).toBeGreaterThanOrEqual(before + sent);
  }, 120_000);

  it('concurrent identical CreateKey requests with one client token create one key', async () => {
    const clientToken = `retry-${randomBytes(8).toString('hex')}`;
    const description = `token ${clientToken}`;
    const replies = await Promise.all(
      Array.from({ length: 12 }, () =>
        fresh<{ key: { keyId: string } }>(cluster, 'POST', '/v1/keys', { description, clientToken }),
      ),
    );
    expect(statuses(replies)).toEqual(Array(12).fill(201));
    expect(new Set(replies.map((r) => r.body.key.keyId)).size).toBe(1);
    const listed = await fresh<{ keys: { description: string }[] }>(cluster, 'GET', '/v1/keys?limit=1000');
    expect(listed.body.keys.filter((k) => k.description === description)).toHaveLength(1);
    const other = await fresh<{ error: { code: string } }>(cluster, 'POST', '/v1/keys', {
      description: 'other parameters',
      clientToken,
    });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('ClientTokenMismatch');
  }, 60_000);

  it("the SDK's createKey sends a client token: a call repeated with it answers the first key", async () => {
    const client = new KeyhavenClient({ endpoint: cluster.url, token: cluster.token });
    const clientToken = `sdk-${randomBytes(6).toString('hex')}`;
    const first = await client.createKey({ description: 'sdk retry', clientToken });
    const again = await client.createKey({ description: 'sdk retry', clientToken });
    expect(again.keyId).toBe(first.keyId);
    // Without a token of the caller's, each call makes its own: two calls, two keys.
    const [a, b] = [await client.createKey(), await client.createKey()];
    expect(a.keyId).not.toBe(b.keyId);
    await expect(client.createKey({ description: 'changed', clientToken })).rejects.toMatchObject({
      code: 'ClientTokenMismatch',
    });
  });

  it('a worker killed with SIGKILL is replaced, and both serve again', async () => {
    const [victim] = workerPids(cluster.output());
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => listeningAnnouncements(cluster.output()) >= 2, 90_000, cluster.output);
    expect(cluster.output()).toMatch(new RegExp(`worker ${victim} exited \\(SIGKILL\\); starting another`));
    expect(workerPids(cluster.output())).toHaveLength(3);
    const keyId = await createKey(cluster);
    expect(statuses(await inTurn(6, () => encrypt(cluster, keyId)))).toEqual(Array(6).fill(200));
  }, 120_000);

  it('SIGTERM during load: every request sent before it is answered, then the primary exits 0', async () => {
    const keyId = await createKey(cluster);
    const inFlight = Array.from({ length: 40 }, () => encrypt(cluster, keyId));
    // Some are being served when the signal arrives, others still on their way in.
    await Promise.race(inFlight);
    cluster.child.kill('SIGTERM');
    const replies = await Promise.all(inFlight);
    expect(statuses(replies)).toEqual(Array(40).fill(200));
    expect(await exitOf(cluster.child)).toBe(0);
    expect(cluster.output()).toMatch(/SIGTERM received, draining the workers/);
  }, 120_000);
});
