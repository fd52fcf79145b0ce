// The metadata port's contract (DESIGN.md: "a shared contract test suite runs against both"): what
// every dialect's stores must do, given a factory for a fresh empty database. sqlite-contract.test.ts
// and postgres-contract.test.ts run it unchanged. The concurrency cases open a second handle on the
// same database where the dialect has one (another pool, as another node would) and race the two.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataStores } from '../../src/adapters/metadata/metadata-stores.js';
import { chainRecord, GENESIS_HASH, recordHash, type AuditEntry } from '../../src/domain/audit-record.js';
import { sameParameters, type Grant } from '../../src/domain/grant.js';
import { ChainMovedError } from '../../src/ports/audit-store.js';
import type { Key, KeyVersion } from '../../src/domain/key.js';
import type { PrincipalRecord, Tenant } from '../../src/domain/identity.js';

export interface ContractDatabase {
  /** Opens this database, migrated. */
  open(): Promise<MetadataStores>;
  /**
   * Opens a second handle on it, as another process would (PostgreSQL: another pool). Absent, the
   * races run on the one handle: SQLite in one process is one connection (better-sqlite3 waits for
   * a lock synchronously, so a second connection in the same thread would block the first).
   */
  openAnother?(): Promise<MetadataStores>;
  /** Removes the database once its handles are closed. */
  dispose(): Promise<void>;
}

export type ContractDatabaseFactory = () => Promise<ContractDatabase>;

export const key = (overrides: Partial<Key> = {}): Key => ({
  keyId: randomUUID(),
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  state: 'Enabled',
  protectionLevel: 'SOFTWARE',
  origin: 'KEYHAVEN',
  currentVersion: 1,
  description: '',
  tags: {},
  createdAt: new Date(1000),
  updatedAt: new Date(1000),
  rotationPeriodDays: null,
  nextRotationAt: null,
  expiresAt: null,
  deletionDate: null,
  exportable: false,
  publicKeyOnly: false,
  tenant: 'acme',
  ...overrides,
});

const version = (k: Key, n = 1, overrides: Partial<KeyVersion> = {}): KeyVersion => ({
  keyId: k.keyId,
  version: n,
  state: 'Enabled',
  createdAt: new Date(1000 + n),
  // Every byte value, zero bytes included: binary columns must return exactly what went in.
  material: Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(16)]),
  publicKeySpki: null,
  ...overrides,
});

/** The record of a scheduled rotation of `k` to `keyVersion` (0: another record of the log). */
const rotateEntry = (k: Key, keyVersion: number): AuditEntry => ({
  time: new Date(3000).toISOString(),
  requestId: randomUUID(),
  tenantId: k.tenant,
  principalId: 'system',
  action: keyVersion === 0 ? 'ListKeys' : 'RotateKey',
  result: 'allow',
  sourceIp: '',
  latencyMs: 1,
  ...(keyVersion === 0 ? {} : { keyId: k.keyId, keyVersion }),
});

const grant = (keyId: string, overrides: Partial<Grant> = {}): Grant => ({
  grantId: randomBytes(32).toString('hex'),
  keyId,
  tenant: 'acme',
  name: null,
  granteePrincipalId: 'grantee',
  granteePrincipal: 'arn:aws:iam::111122223333:role/grantee',
  retiringPrincipalId: 'retirer',
  retiringPrincipal: 'arn:aws:iam::111122223333:role/retirer',
  issuingPrincipalId: 'admin',
  operations: ['Encrypt'],
  constraints: { encryptionContextSubset: { app: 'x' } },
  createdAt: new Date(1000),
  tokenSecret: randomBytes(32),
  ...overrides,
});

const principal = (name: string): PrincipalRecord => ({
  principalId: randomUUID(),
  name,
  type: 'service',
  tenantId: 'default',
  roles: ['user'],
  attributes: { team: 'x' },
  policyIds: [],
  createdAt: new Date(1000),
  updatedAt: new Date(1000),
});

const tenant = (name: string, maxKeys?: number): Tenant => ({
  tenantId: randomUUID(),
  name,
  quotas: maxKeys === undefined ? {} : { maxKeys },
  policyIds: [],
  createdAt: new Date(1000),
  updatedAt: new Date(1000),
});

/** What every dialect answers for a name or id that is taken: the same code and message. */
const alreadyExists = (message: string) => ({ code: 'Conflict', conflict: 'AlreadyExists', message });

/** How many concurrent callers each race has. */
const RACERS = 8;

async function settleAll<T>(calls: Promise<T>[]) {
  const results = await Promise.allSettled(calls);
  return {
    fulfilled: results.filter((r): r is PromiseFulfilledResult<Awaited<T>> => r.status === 'fulfilled'),
    rejected: results.filter((r): r is PromiseRejectedResult => r.status === 'rejected'),
  };
}

export function describeMetadataStoreContract(dialect: string, createDatabase: ContractDatabaseFactory) {
  describe(`the metadata stores on ${dialect}`, () => {
    let database: ContractDatabase;
    let stores: MetadataStores;
    let other: MetadataStores;
    beforeEach(async () => {
      database = await createDatabase();
      stores = await database.open();
      other = database.openAnother ? await database.openAnother() : stores;
    });
    afterEach(async () => {
      await stores.metadata.close();
      if (other !== stores) await other.metadata.close();
      await database.dispose();
    });

    describe('keys and versions', () => {
      it('keeps a key, its tags, versions and binary material exactly as written', async () => {
        const k = key({
          tags: { team: 'a', env: 'prod' },
          rotationPeriodDays: 90,
          nextRotationAt: new Date(5_000_000_000_000),
          exportable: true,
        });
        const v1 = version(k, 1, { publicKeySpki: randomBytes(44) });
        await stores.metadata.createKey(k, v1, ['alias/a']);
        expect(await other.metadata.getKey(k.keyId)).toEqual(k);
        expect(await other.metadata.getVersion(k.keyId, 1)).toEqual({ ...v1, materialFingerprint: null });
        expect(await stores.metadata.getKey(randomUUID())).toBeUndefined();
        expect(await stores.metadata.getVersion(k.keyId, 2)).toBeUndefined();
        const page = await stores.metadata.listKeys({
          tenant: 'acme',
          tag: { key: 'env', value: 'prod' },
          limit: 5,
        });
        expect(page.keys.map((x) => x.keyId)).toEqual([k.keyId]);
        expect(await stores.metadata.resolveAlias('acme', 'alias/a')).toBe(k.keyId);
      });

      it('lists a tenant keys in creation order, page by page, by state and alias', async () => {
        const keys = [1, 2, 3, 4, 5].map((i) =>
          key({ createdAt: new Date(i * 1000), state: i % 2 ? 'Enabled' : 'Disabled' }),
        );
        for (const k of keys) await stores.metadata.createKey(k, null, []);
        await stores.metadata.createKey(key({ tenant: 'other' }), null, []);
        await stores.metadata.createAlias('acme', 'alias/third', keys[2]!.keyId, new Date(1));
        const first = await stores.metadata.listKeys({ tenant: 'acme', limit: 3 });
        expect(first.keys.map((k) => k.keyId)).toEqual(keys.slice(0, 3).map((k) => k.keyId));
        const rest = await stores.metadata.listKeys({ tenant: 'acme', limit: 3, cursor: first.nextCursor! });
        expect(rest.keys.map((k) => k.keyId)).toEqual(keys.slice(3).map((k) => k.keyId));
        expect(rest.nextCursor).toBeNull();
        const disabled = await stores.metadata.listKeys({ tenant: 'acme', state: 'Disabled', limit: 10 });
        expect(disabled.keys).toHaveLength(2);
        const aliased = await stores.metadata.listKeys({ tenant: 'acme', alias: 'alias/third', limit: 10 });
        expect(aliased.keys.map((k) => k.keyId)).toEqual([keys[2]!.keyId]);
        expect(await stores.metadata.countKeys('acme')).toBe(5);
        await expect(
          stores.metadata.listKeys({ tenant: 'acme', limit: 3, cursor: 'bogus' }),
        ).rejects.toMatchObject({
          code: 'ValidationError',
        });
      });

      it('updates only a key still as the writer read it (optimistic concurrency)', async () => {
        const k = key();
        await stores.metadata.createKey(k, version(k), []);
        const updated = { ...k, description: 'new', tags: { a: 'b' }, updatedAt: new Date(2000) };
        await stores.metadata.updateKey(updated, k.updatedAt);
        expect(await stores.metadata.getKey(k.keyId)).toEqual(updated);
        await expect(
          stores.metadata.updateKey({ ...k, description: 'stale' }, k.updatedAt),
        ).rejects.toMatchObject({
          conflict: 'ConcurrentModification',
        });
        const rotated = { ...updated, currentVersion: 2, updatedAt: new Date(3000) };
        const v2 = version(k, 2, { rotation: 'ON_DEMAND' });
        await stores.metadata.addVersion(rotated, v2, updated.updatedAt);
        expect((await stores.metadata.listVersions(k.keyId)).map((v) => [v.version, v.rotation])).toEqual([
          [1, undefined],
          [2, 'ON_DEMAND'],
        ]);
        await expect(
          stores.metadata.addVersion({ ...rotated, currentVersion: 3 }, version(k, 3), updated.updatedAt),
        ).rejects.toMatchObject({ conflict: 'ConcurrentModification' });
        expect(await stores.metadata.getVersion(k.keyId, 3)).toBeUndefined();
      });

      it('adds a version and its audit record in one transaction: both, chained onto the stored head, or neither', async () => {
        const k = key();
        await stores.metadata.createKey(k, version(k), []);
        await stores.audit.appendRecords([chainRecord(null, rotateEntry(k, 0))]);
        const rotated = { ...k, currentVersion: 2, updatedAt: new Date(2000) };
        await stores.metadata.addVersion(rotated, version(k, 2), k.updatedAt, rotateEntry(k, 2));
        expect((await stores.metadata.getKey(k.keyId))?.currentVersion).toBe(2);
        const [first, second] = await stores.audit.recordsAfter(0, 10);
        expect(second).toMatchObject({ seq: 2, prevHash: first!.hash, action: 'RotateKey', keyVersion: 2 });
        expect(second!.hash).toBe(recordHash(second!));
        expect(await stores.audit.head()).toEqual({ seq: 2, hash: second!.hash });
        // The key moved since it was read: no version, and no record of one.
        await expect(
          stores.metadata.addVersion(
            { ...rotated, currentVersion: 3 },
            version(k, 3),
            k.updatedAt,
            rotateEntry(k, 3),
          ),
        ).rejects.toMatchObject({ conflict: 'ConcurrentModification' });
        expect(await stores.metadata.getVersion(k.keyId, 3)).toBeUndefined();
        expect((await stores.audit.head())?.seq).toBe(2);
      });

      it('chains the records of concurrent rotations of different keys, each once, whoever appends between', async () => {
        const keys = Array.from({ length: RACERS }, () => key());
        for (const k of keys) await stores.metadata.createKey(k, version(k), []);
        const handles = [stores, other];
        await Promise.all([
          ...keys.map((k, i) =>
            handles[i % 2]!.metadata.addVersion(
              { ...k, currentVersion: 2, updatedAt: new Date(2000) },
              version(k, 2),
              k.updatedAt,
              rotateEntry(k, 2),
            ),
          ),
          // The audit log's own appends, racing for the same seqs.
          ...handles.map(async (handle) => {
            for (let attempt = 0; ; attempt++) {
              try {
                return await handle.audit.appendRecords([
                  chainRecord(await handle.audit.head(), rotateEntry(keys[0]!, 0)),
                ]);
              } catch (error) {
                if (!(error instanceof ChainMovedError) || attempt > 100) throw error;
              }
            }
          }),
        ]);
        const records = await stores.audit.recordsAfter(0, 100);
        expect(records.map((r) => r.seq)).toEqual(Array.from({ length: RACERS + 2 }, (_, i) => i + 1));
        records.forEach((r, i) => expect(r.prevHash).toBe(i === 0 ? GENESIS_HASH : records[i - 1]!.hash));
        expect(new Set(records.filter((r) => r.keyVersion === 2).map((r) => r.keyId))).toEqual(
          new Set(keys.map((k) => k.keyId)),
        );
        for (const k of keys) expect((await stores.metadata.getKey(k.keyId))?.currentVersion).toBe(2);
      });

      it('lets exactly one of concurrent updates from the same read win', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const handles = [stores, other];
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.metadata.updateKey(
              { ...k, description: `w${i}`, updatedAt: new Date(2000 + i) },
              k.updatedAt,
            ),
          ),
        );
        expect(fulfilled).toHaveLength(1);
        for (const r of rejected) expect(r.reason).toMatchObject({ conflict: 'ConcurrentModification' });
      });

      it('destroys imported material into the queue and restores a destroyed version', async () => {
        const k = key({ origin: 'EXTERNAL' });
        const v1 = version(k, 1, {
          materialFingerprint: { digest: randomBytes(32), wrappedSecret: randomBytes(48) },
        });
        await stores.metadata.createKey(k, v1, []);
        const pending = { ...k, state: 'PendingImport' as const, updatedAt: new Date(2000) };
        const queued = await stores.metadata.destroyImportedMaterial(pending, k.updatedAt, new Date(5000));
        expect(queued.map((q) => [q.keyId, q.version.version, q.version.material])).toEqual([
          [k.keyId, 1, v1.material],
        ]);
        const destroyed = await stores.metadata.getVersion(k.keyId, 1);
        expect(destroyed).toMatchObject({ state: 'Destroyed', materialFingerprint: v1.materialFingerprint });
        expect(destroyed!.material.length).toBe(0);
        expect((await stores.metadata.queuedDestructions(10)).map((q) => q.version.material)).toEqual([
          v1.material,
        ]);
        const restored = { ...pending, state: 'Enabled' as const, updatedAt: new Date(3000) };
        await stores.metadata.restoreVersion(restored, v1, pending.updatedAt);
        expect(await stores.metadata.getVersion(k.keyId, 1)).toEqual(v1);
        await expect(
          stores.metadata.restoreVersion({ ...restored, updatedAt: new Date(4000) }, v1, restored.updatedAt),
        ).rejects.toMatchObject({ conflict: 'ConcurrentModification' });
        await stores.metadata.completeDestruction(k.keyId, 1);
        expect(await stores.metadata.queuedDestructions(10)).toEqual([]);
      });

      it('deletes a key only when due, with everything that hangs off it, and queues its material', async () => {
        const due = key({ state: 'PendingDeletion', deletionDate: new Date(1500) });
        const later = key({ state: 'PendingDeletion', deletionDate: new Date(9000) });
        const kept = key();
        await stores.metadata.createKey(due, version(due), ['alias/due']);
        await stores.metadata.createKey(later, version(later), []);
        await stores.metadata.createKey(kept, null, []);
        const doomed = grant(due.keyId);
        const survivor = grant(kept.keyId);
        await stores.grants.createGrant(doomed, () => false, 10);
        await stores.grants.createGrant(survivor, () => false, 10);
        await stores.metadata.addUsage(new Map([[due.keyId, new Map([['encrypt', 3]])]]), new Date(1200));
        await stores.metadata.saveImportToken({
          id: 'tok',
          keyId: due.keyId,
          wrappedPrivateKey: randomBytes(8),
          expiresAt: new Date(9999),
          wrappingAlgorithm: null,
        });
        expect((await stores.metadata.keysDueForDeletion(new Date(2000), 10)).map((k) => k.keyId)).toEqual([
          due.keyId,
        ]);
        expect(await stores.metadata.deleteKeyIfDue(later.keyId, new Date(2000))).toBe(false);
        expect(await stores.metadata.deleteKeyIfDue(due.keyId, new Date(2000))).toBe(true);
        expect(await stores.metadata.deleteKeyIfDue(due.keyId, new Date(2000))).toBe(false);
        expect(await stores.metadata.getKey(due.keyId)).toBeUndefined();
        expect(await stores.metadata.listVersions(due.keyId)).toEqual([]);
        expect(await stores.metadata.resolveAlias('acme', 'alias/due')).toBeUndefined();
        expect(await stores.metadata.getUsage(due.keyId)).toEqual({ counts: {}, lastUsedAt: null });
        expect(await stores.metadata.takeImportToken('tok', due.keyId)).toBeUndefined();
        expect(await stores.grants.getGrant(doomed.grantId)).toBeUndefined();
        expect(await stores.grants.getGrant(survivor.grantId)).toEqual(survivor);
        const queue = await stores.metadata.queuedDestructions(10);
        expect(queue.map((q) => [q.keyId, q.version.version])).toEqual([[due.keyId, 1]]);
        expect(await stores.metadata.queuedDestructions(10, queue[0])).toEqual([]);
      });

      it('finds keys due for rotation in due order, resuming after a cursor', async () => {
        const a = key({ nextRotationAt: new Date(100) });
        const b = key({ nextRotationAt: new Date(200) });
        const notYet = key({ nextRotationAt: new Date(99_999) });
        for (const k of [b, a, notYet]) await stores.metadata.createKey(k, null, []);
        const due = await stores.metadata.keysDueForRotation(new Date(1000), 10);
        expect(due.map((k) => k.keyId)).toEqual([a.keyId, b.keyId]);
        const after = await stores.metadata.keysDueForRotation(new Date(1000), 10, {
          dueAt: a.nextRotationAt!,
          keyId: a.keyId,
        });
        expect(after.map((k) => k.keyId)).toEqual([b.keyId]);
      });

      it('answers ping', async () => {
        await expect(stores.metadata.ping()).resolves.toBeUndefined();
      });
    });

    describe('aliases', () => {
      it('creates, re-points, lists, pages and deletes aliases per tenant', async () => {
        const k1 = key();
        const k2 = key();
        await stores.metadata.createKey(k1, null, []);
        await stores.metadata.createKey(k2, null, []);
        await stores.metadata.createAlias('acme', 'alias/b', k1.keyId, new Date(10));
        await stores.metadata.createAlias('acme', 'alias/a', k1.keyId, new Date(20));
        await stores.metadata.createAlias('other', 'alias/a', k2.keyId, new Date(20));
        await expect(
          stores.metadata.createAlias('acme', 'alias/a', k2.keyId, new Date(30)),
        ).rejects.toMatchObject({
          conflict: 'AlreadyExists',
        });
        expect(await stores.metadata.updateAlias('acme', 'alias/a', k2.keyId, k1.keyId, new Date(40))).toBe(
          false,
        );
        expect(await stores.metadata.updateAlias('acme', 'alias/a', k1.keyId, k2.keyId, new Date(40))).toBe(
          true,
        );
        await stores.metadata.putAlias('acme', 'alias/c', k2.keyId, new Date(50));
        await stores.metadata.putAlias('acme', 'alias/c', k1.keyId, new Date(60));
        const page = await stores.metadata.listAliasPage({ tenant: 'acme', limit: 2 });
        expect(page.aliases.map((a) => [a.name, a.keyId])).toEqual([
          ['alias/a', k2.keyId],
          ['alias/b', k1.keyId],
        ]);
        expect(page.aliases[0]!.updatedAt).toEqual(new Date(40));
        const rest = await stores.metadata.listAliasPage({
          tenant: 'acme',
          limit: 2,
          cursor: page.nextCursor!,
        });
        expect(rest.aliases.map((a) => [a.name, a.keyId, a.createdAt, a.updatedAt])).toEqual([
          ['alias/c', k1.keyId, new Date(50), new Date(60)],
        ]);
        expect((await stores.metadata.listAliases('acme', k1.keyId)).map((a) => a.name)).toEqual([
          'alias/b',
          'alias/c',
        ]);
        expect(await stores.metadata.aliasesOf([k1.keyId, k2.keyId])).toEqual(
          new Map([
            [k1.keyId, ['alias/b', 'alias/c']],
            [k2.keyId, ['alias/a', 'alias/a']],
          ]),
        );
        expect(await stores.metadata.deleteAlias('acme', 'alias/a')).toBe(true);
        expect(await stores.metadata.deleteAlias('acme', 'alias/a')).toBe(false);
        expect(await stores.metadata.resolveAlias('other', 'alias/a')).toBe(k2.keyId);
      });

      it('lets exactly one of concurrent creates of one alias win, with AlreadyExists for the rest', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const handles = [stores, other];
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.metadata.createAlias('acme', 'alias/raced', k.keyId, new Date(i)),
          ),
        );
        expect(fulfilled).toHaveLength(1);
        for (const r of rejected)
          expect(r.reason).toMatchObject(alreadyExists('alias alias/raced already exists'));
      });

      it('lets exactly one of concurrent key creates naming the same alias win', async () => {
        const handles = [stores, other];
        const keys = Array.from({ length: RACERS }, () => key());
        const { fulfilled, rejected } = await settleAll(
          keys.map((k, i) => handles[i % 2]!.metadata.createKey(k, version(k), ['alias/first'])),
        );
        expect(fulfilled).toHaveLength(1);
        // The same answer whether the loser's check saw the winner's alias or its insert met the
        // winner's row (PostgreSQL's unique violation, mapped by constraint name).
        for (const r of rejected)
          expect(r.reason).toMatchObject(alreadyExists('alias alias/first already exists'));
        // The losers left nothing behind (all or nothing).
        expect(await stores.metadata.countKeys('acme')).toBe(1);
        const winner = await stores.metadata.resolveAlias('acme', 'alias/first');
        expect(await stores.metadata.getKey(winner!)).toBeDefined();
      });
    });

    describe('unique ids and names', () => {
      it('refuses a key whose id exists, naming the id, also between concurrent creates and restores', async () => {
        const k = key();
        await stores.metadata.createKey(k, version(k), []);
        await expect(stores.metadata.createKey(key({ keyId: k.keyId }), null, [])).rejects.toMatchObject(
          alreadyExists(`key ${k.keyId} exists already`),
        );
        const handles = [stores, other];
        const raced = key();
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i): Promise<unknown> => {
            const copy = key({ keyId: raced.keyId });
            return i % 2 === 0
              ? handles[(i / 2) % 2]!.metadata.createKey(copy, version(copy), [])
              : handles[((i - 1) / 2) % 2]!.metadata.restoreKeys([
                  { key: copy, versions: [{ version: version(copy), sealsReserved: 0 }], aliases: [] },
                ]);
          }),
        );
        expect(fulfilled).toHaveLength(1);
        for (const r of rejected) {
          expect(r.reason).toMatchObject(alreadyExists(`key ${raced.keyId} exists already`));
        }
        expect(await stores.metadata.countKeys('acme')).toBe(2);
      });

      it('names the taken tenant, principal or key policy, also between concurrent creates', async () => {
        const handles = [stores, other];
        const tenants = await settleAll(
          Array.from({ length: RACERS }, (_, i) => handles[i % 2]!.identity.createTenant(tenant('team-b'))),
        );
        expect(tenants.fulfilled).toHaveLength(1);
        for (const r of tenants.rejected) {
          expect(r.reason).toMatchObject(alreadyExists('a tenant named team-b already exists'));
        }
        const principals = await settleAll(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.identity.createPrincipal(principal('svc-b')),
          ),
        );
        expect(principals.fulfilled).toHaveLength(1);
        for (const r of principals.rejected) {
          expect(r.reason).toMatchObject(alreadyExists('a principal named svc-b already exists'));
        }
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const policies = await settleAll(
          Array.from({ length: RACERS }, (_, i) => {
            const policyId = randomUUID();
            return handles[i % 2]!.identity.createPolicy(
              {
                policyId,
                name: `key policy ${i}`,
                tenantId: 'acme',
                keyId: k.keyId,
                createdAt: new Date(1000),
              },
              {
                policyId,
                version: 1,
                document: { statements: [] },
                effectiveAt: new Date(1000),
                createdAt: new Date(1000),
              },
            );
          }),
        );
        expect(policies.fulfilled).toHaveLength(1);
        for (const r of policies.rejected) {
          expect(r.reason).toMatchObject(alreadyExists(`key ${k.keyId} already has a policy`));
        }
      });
    });

    describe('import tokens, usage, seals, quotas', () => {
      it('hands an import token out once, to its key only', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const token = {
          id: randomBytes(16).toString('hex'),
          keyId: k.keyId,
          wrappedPrivateKey: randomBytes(64),
          expiresAt: new Date(123_456),
          wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        };
        await stores.metadata.saveImportToken(token);
        expect(await stores.metadata.takeImportToken(token.id, randomUUID())).toBeUndefined();
        expect(await stores.metadata.takeImportToken(token.id, k.keyId)).toEqual(token);
        expect(await stores.metadata.takeImportToken(token.id, k.keyId)).toBeUndefined();
      });

      it('gives a token raced for by concurrent takers to exactly one', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const id = randomBytes(16).toString('hex');
        await stores.metadata.saveImportToken({
          id,
          keyId: k.keyId,
          wrappedPrivateKey: randomBytes(64),
          expiresAt: new Date(123_456),
          wrappingAlgorithm: null,
        });
        const handles = [stores, other];
        const taken = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => handles[i % 2]!.metadata.takeImportToken(id, k.keyId)),
        );
        expect(taken.filter((t) => t !== undefined)).toHaveLength(1);
      });

      it('adds usage counts, concurrent flushes to an exact sum', async () => {
        const k = key();
        const j = key();
        await stores.metadata.createKey(k, null, []);
        await stores.metadata.createKey(j, null, []);
        const handles = [stores, other];
        const flushes = Array.from({ length: RACERS }, (_, i) =>
          handles[i % 2]!.metadata.addUsage(
            // Both keys in each flush, in alternating order: the rows' locks must not deadlock.
            new Map(
              (i % 2 ? [k, j] : [j, k]).map((x) => [
                x.keyId,
                new Map([
                  ['encrypt', i + 1],
                  ['decrypt', 1],
                ]),
              ]),
            ),
            new Date(1000 + i),
          ),
        );
        await Promise.all(flushes);
        const total = (RACERS * (RACERS + 1)) / 2;
        expect(await stores.metadata.getUsage(k.keyId)).toEqual({
          counts: { encrypt: total, decrypt: RACERS },
          lastUsedAt: expect.any(Date) as Date,
        });
        expect((await stores.metadata.getUsage(j.keyId)).counts).toEqual({ encrypt: total, decrypt: RACERS });
      });

      it('reserves seals up to the bound, halving the last request, and refuses a missing version', async () => {
        const k = key();
        await stores.metadata.createKey(k, version(k), []);
        expect(await stores.metadata.reserveSeals(k.keyId, 1, 60, 100)).toEqual({ first: 0, granted: 60 });
        expect(await stores.metadata.reserveSeals(k.keyId, 1, 60, 100)).toEqual({ first: 60, granted: 30 });
        expect(await stores.metadata.reserveSeals(k.keyId, 1, 20, 100)).toEqual({ first: 90, granted: 10 });
        expect(await stores.metadata.reserveSeals(k.keyId, 1, 1, 100)).toEqual({ first: 100, granted: 0 });
        await expect(stores.metadata.reserveSeals(k.keyId, 9, 1, 100)).rejects.toMatchObject({
          code: 'NotFound',
        });
      });

      it('reserves disjoint seal ranges for concurrent callers', async () => {
        const k = key();
        await stores.metadata.createKey(k, version(k), []);
        const handles = [stores, other];
        const ranges = await Promise.all(
          Array.from({ length: RACERS * 2 }, (_, i) =>
            handles[i % 2]!.metadata.reserveSeals(k.keyId, 1, 10, 10_000),
          ),
        );
        const seals = ranges.flatMap((r) => Array.from({ length: r.granted }, (_, n) => r.first + n));
        expect(new Set(seals).size).toBe(RACERS * 2 * 10);
        expect(Math.max(...seals)).toBe(RACERS * 2 * 10 - 1);
      });

      it('never lets concurrent creates pass a tenant key quota', async () => {
        const handles = [stores, other];
        const maxKeys = 3;
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i) => {
            const k = key({ tenant: 'quota' });
            return handles[i % 2]!.metadata.createKey(k, version(k), [], maxKeys);
          }),
        );
        expect(fulfilled).toHaveLength(maxKeys);
        for (const r of rejected) expect(r.reason).toMatchObject({ code: 'LimitExceeded' });
        expect(await stores.metadata.countKeys('quota')).toBe(maxKeys);
      });

      it('never lets concurrent restores, nor restores racing creates, pass a tenant key quota', async () => {
        const handles = [stores, other];
        const maxKeys = 3;
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i): Promise<unknown> => {
            const k = key({ tenant: 'quota' });
            const metadata = handles[i % 2]!.metadata;
            return i % 4 === 0
              ? metadata.createKey(k, version(k), [], maxKeys)
              : metadata.restoreKeys(
                  [{ key: k, versions: [{ version: version(k), sealsReserved: 0 }], aliases: [] }],
                  maxKeys,
                );
          }),
        );
        expect(fulfilled).toHaveLength(maxKeys);
        for (const r of rejected) expect(r.reason).toMatchObject({ code: 'LimitExceeded' });
        expect(await stores.metadata.countKeys('quota')).toBe(maxKeys);
      });
    });

    describe('client tokens', () => {
      const claim = (keyId: string, requestDigest = 'd'.repeat(64)) => ({
        requestDigest,
        keyId,
        createdAt: new Date(5000),
      });

      it("keeps each principal's tokens apart: the same string claimed by two principals is two claims", async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        expect(
          await stores.clientTokens.claim('acme', 'principal-b', 'tok', claim(b, 'b'.repeat(64))),
        ).toEqual({
          claimed: true,
        });
        expect(await other.clientTokens.claim('acme', 'principal-a', 'tok', claim(a))).toEqual({
          claimed: true,
        });
        expect(await stores.clientTokens.claim('acme', 'principal-a', 'tok', claim(randomUUID()))).toEqual({
          claimed: false,
          existing: claim(a),
        });
        // Releasing one principal's claim leaves the other's.
        await stores.clientTokens.release('acme', 'principal-b', 'tok', b);
        expect(
          await other.clientTokens.claim('acme', 'principal-a', 'tok', claim(randomUUID())),
        ).toMatchObject({
          claimed: false,
          existing: { keyId: a },
        });
        expect(await stores.clientTokens.claim('acme', 'principal-b', 'tok', claim(b))).toEqual({
          claimed: true,
        });
        expect(await stores.clientTokens.claim('other', 'principal-a', 'tok', claim(a))).toEqual({
          claimed: true,
        });
      });

      it('lets exactly one of concurrent claims of one principal token win', async () => {
        const handles = [stores, other];
        const outcomes = await Promise.all(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.clientTokens.claim('acme', 'principal-a', 'raced', claim(randomUUID())),
          ),
        );
        expect(outcomes.filter((o) => o.claimed)).toHaveLength(1);
      });
    });

    describe('identity', () => {
      it('keeps tenant and principal names unique, also between concurrent creates', async () => {
        const t = tenant('team-a', 5);
        await stores.identity.createTenant(t);
        expect(await other.identity.getTenant(t.tenantId)).toMatchObject({
          name: 'team-a',
          quotas: { maxKeys: 5 },
        });
        await expect(stores.identity.createTenant(tenant('team-a'))).rejects.toMatchObject({
          conflict: 'AlreadyExists',
        });
        const handles = [stores, other];
        const { fulfilled, rejected } = await settleAll(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.identity.createPrincipal(principal('svc')),
          ),
        );
        expect(fulfilled).toHaveLength(1);
        for (const r of rejected) expect(r.reason).toMatchObject({ conflict: 'AlreadyExists' });
        expect(await stores.identity.findPrincipalByName('default', 'svc')).toMatchObject({
          roles: ['user'],
          attributes: { team: 'x' },
        });
      });
    });

    describe('grants', () => {
      const same = (g: Grant) => (existing: Grant) => sameParameters(existing, g);

      it('keeps a grant as written and returns the earlier one for a Name retry with the same parameters', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const first = grant(k.keyId, { name: 'n' });
        expect(await stores.grants.createGrant(first, same(first), 10)).toBe(first);
        expect(await other.grants.getGrant(first.grantId)).toEqual(first);
        const retry = grant(k.keyId, { name: 'n' });
        expect((await stores.grants.createGrant(retry, same(retry), 10)).grantId).toBe(first.grantId);
        const different = grant(k.keyId, { name: 'n', operations: ['Decrypt'] });
        expect((await stores.grants.createGrant(different, same(different), 10)).grantId).toBe(
          different.grantId,
        );
        await expect(stores.grants.createGrant(grant(k.keyId), () => false, 2)).rejects.toMatchObject({
          code: 'LimitExceeded',
        });
      });

      it('pages grants in grant id order, and retirable ones per tenant', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const g = grant(k.keyId);
          ids.push(g.grantId);
          await stores.grants.createGrant(g, () => false, 10);
        }
        ids.sort();
        const first = await stores.grants.listGrants({ keyId: k.keyId, limit: 3 });
        expect(first.grants.map((g) => g.grantId)).toEqual(ids.slice(0, 3));
        const rest = await stores.grants.listGrants({ keyId: k.keyId, limit: 3, after: first.next! });
        expect(rest.grants.map((g) => g.grantId)).toEqual(ids.slice(3));
        expect(rest.next).toBeNull();
        const retirable = (tenantId: string) =>
          stores.grants.listRetirableGrants({ tenant: tenantId, retiringPrincipalId: 'retirer', limit: 10 });
        expect((await retirable('acme')).grants).toHaveLength(5);
        expect((await retirable('other')).grants).toEqual([]);
      });

      it('never lets concurrent creates pass the grants-per-key limit, nor duplicate a named grant', async () => {
        const k = key();
        await stores.metadata.createKey(k, null, []);
        const handles = [stores, other];
        const limited = await settleAll(
          Array.from({ length: RACERS }, (_, i) =>
            handles[i % 2]!.grants.createGrant(grant(k.keyId), () => false, 3),
          ),
        );
        expect(limited.fulfilled).toHaveLength(3);
        for (const r of limited.rejected) expect(r.reason).toMatchObject({ code: 'LimitExceeded' });
        const j = key();
        await stores.metadata.createKey(j, null, []);
        const named = await Promise.all(
          Array.from({ length: RACERS }, (_, i) => {
            const g = grant(j.keyId, { name: 'once' });
            return handles[i % 2]!.grants.createGrant(g, same(g), 100);
          }),
        );
        expect(new Set(named.map((g) => g.grantId)).size).toBe(1);
        expect(await stores.grants.grantsOfKey(j.keyId)).toHaveLength(1);
      });
    });

    describe('the HSM replication queue', () => {
      const entry = {
        label: 'keyhaven/k/v1',
        objectClass: 4,
        source: 'hsm-1',
        missing: ['hsm-2', 'hsm-3'],
        createdAt: '2030-01-01T00:00:00.000Z',
        expired: false,
      };

      it('keeps one entry per label, seen from another connection, until it is removed', async () => {
        await stores.replicationQueue.put(entry);
        await other.replicationQueue.put({ ...entry, missing: ['hsm-3'], expired: true });
        await stores.replicationQueue.put({
          ...entry,
          label: 'keyhaven/k/v2',
          createdAt: '2030-01-02T00:00:00.000Z',
        });
        expect(await other.replicationQueue.list()).toEqual([
          { ...entry, missing: ['hsm-3'], expired: true },
          { ...entry, label: 'keyhaven/k/v2', createdAt: '2030-01-02T00:00:00.000Z' },
        ]);
        await other.replicationQueue.remove(entry.label);
        await other.replicationQueue.remove('keyhaven/absent/v1');
        expect((await stores.replicationQueue.list()).map((e) => e.label)).toEqual(['keyhaven/k/v2']);
      });
    });
  });
}
