// Two Keyhaven instances (in process, each with its own data directory) on the same two SoftHSM2
// tokens and one SQLite database, as two nodes: the copy one node could not make is queued in the
// database, seen by the other, and made exactly once across both under the hsm-replication lease;
// once the holder leaves, the other node catches up.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11Replication } from '../../../src/adapters/keystore/pkcs11/pkcs11-replication.js';
import { REPLICATION_FILE } from '../../../src/adapters/keystore/pkcs11/pkcs11-replication.js';
import type { Pkcs11RootKeyStore } from '../../../src/adapters/keystore/pkcs11/pkcs11-root-key-store.js';
import { ROOT_MARKER_FILE } from '../../../src/adapters/keystore/pkcs11/pkcs11-root-key-store.js';
import { loadConfig } from '../../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../../src/keyhaven.js';
import { adminContext } from '../../helpers/request-context.js';
import { createPkcs11Fixture, parseListObjects, type Pkcs11Fixture } from './fixtures.js';

const ctx = adminContext();

interface Node {
  keyhaven: Keyhaven;
  root: Pkcs11RootKeyStore;
  replication: Pkcs11Replication;
}

describe('HSM replication catch-up across two nodes sharing one database (SoftHSM2)', () => {
  let fixture: Pkcs11Fixture;
  let second: string;
  let database: string;
  const nodes: Node[] = [];

  const copiesOnSecondToken = (label: string) =>
    parseListObjects(fixture.hsm.pkcs11Tool(['--list-objects'], fixture.hsm.tokens[1])).filter(
      (o) => o.label === label,
    ).length;

  async function startNode(dataDir: string): Promise<Node> {
    const config = loadConfig({
      KEYHAVEN_DATA_DIR: dataDir,
      KEYHAVEN_KEYSTORE: 'pkcs11',
      KEYHAVEN_PKCS11_MODULE: fixture.hsm.modulePath,
      KEYHAVEN_PKCS11_TOKEN: fixture.hsm.tokens[0]!.label,
      KEYHAVEN_PKCS11_PIN: fixture.hsm.tokens[0]!.pin,
    });
    // The second backend held away by its circuit: one failure opens it until the test closes it.
    config.keyStore.pkcs11 = fixture.config(fixture.hsm.tokens, {
      circuit: { failureThreshold: 1, openSeconds: 60 },
    });
    config.metadata.path = database;
    const keyhaven = await createKeyhaven(config);
    const root = (keyhaven.keys as unknown as { root: Pkcs11RootKeyStore }).root;
    return { keyhaven, root, replication: root.failover.replication! };
  }

  /**
   * A new HSM key made on `node` while the second backend is away for every node (so that no
   * background pass copies it before the test looks): one copy left to make, until bringBack().
   */
  async function keyMissingOnSecond(node: Node): Promise<string> {
    for (const each of nodes) each.root.failover.tokens[1]!.breaker.recordFailure();
    const key = await node.keyhaven.keys.createKey(ctx, { protectionLevel: 'HSM' });
    return `keyhaven/${key.keyId}/v1`;
  }

  function bringBack(): void {
    for (const each of nodes) each.root.failover.tokens[1]!.breaker.recordSuccess();
  }

  let firstLabel = '';
  let copiesBefore: number[] = [];

  beforeAll(async () => {
    fixture = createPkcs11Fixture(2);
    database = join(fixture.dataDir, 'shared.db');
    nodes.push(await startNode(fixture.dataDir));
    // A second node: its own data directory with the root key marker copied from the first, as
    // docs/deploy.md says, and the same database.
    second = mkdtempSync(join(tmpdir(), 'keyhaven-pkcs11-second-'));
    copyFileSync(join(fixture.dataDir, ROOT_MARKER_FILE), join(second, ROOT_MARKER_FILE));
    nodes.push(await startNode(second));
  });
  afterAll(async () => {
    for (const node of nodes) await node.keyhaven.close().catch(() => undefined);
    rmSync(second, { recursive: true, force: true });
    fixture?.dispose();
  });

  it('queues a copy one node could not make in the database, where the other node sees it', async () => {
    const [first, other] = nodes as [Node, Node];
    firstLabel = await keyMissingOnSecond(other);
    expect(copiesOnSecondToken(firstLabel)).toBe(0);
    // Not in either data directory: the queue is the database's.
    expect(existsSync(join(fixture.dataDir, REPLICATION_FILE))).toBe(false);
    expect(existsSync(join(second, REPLICATION_FILE))).toBe(false);
    // The first node never tried this key, yet counts it after a pass (which cannot copy it yet).
    await first.replication.catchUp();
    expect(first.replication.pendingFor('hsm-2')).toBe(1);
    expect(
      (await first.keyhaven.keyStoreStatistics()).find((s) => s.name === 'hsm-2')?.pendingReplications,
    ).toBe(1);
    copiesBefore = nodes.map((n) => n.replication.copiesMade);
    bringBack();
  });

  it('makes the copy exactly once when both nodes catch up at the same moment', async () => {
    const label = await keyMissingOnSecond(nodes[1]!);
    bringBack();
    // Several rounds at once from both nodes: without the lease both would unwrap a copy.
    for (let round = 0; round < 3; round++) await Promise.all(nodes.map((n) => n.replication.catchUp()));
    const made = nodes.map((n, i) => n.replication.copiesMade - copiesBefore[i]!);
    // Two copies were due (this test's and the previous one's): one node made both, the other none.
    expect(made.sort()).toEqual([0, 2]);
    expect(copiesOnSecondToken(firstLabel)).toBe(1);
    expect(copiesOnSecondToken(label)).toBe(1);
    for (const node of nodes) {
      await node.replication.catchUp();
      expect(node.replication.pendingFor('hsm-2')).toBe(0);
    }
  });

  it('the other node takes the catch-up over once the holder has closed', async () => {
    const holder = nodes.findIndex((n) => n.replication.copiesMade > 0);
    const [gone] = nodes.splice(holder, 1);
    await gone!.keyhaven.close();
    const survivor = nodes[0]!;
    const label = await keyMissingOnSecond(survivor);
    const before = survivor.replication.copiesMade;
    bringBack();
    await survivor.replication.catchUp();
    expect(survivor.replication.copiesMade - before).toBe(1);
    expect(copiesOnSecondToken(label)).toBe(1);
  });
});
