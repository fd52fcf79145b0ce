// The grant store on a real SQLite database: Name retries, paging, and a key's deletion taking its
// grants with it.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStores, type SqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';
import { sameParameters, type Grant } from '../../src/domain/grant.js';
import type { Key } from '../../src/domain/key.js';

const key = (overrides: Partial<Key> = {}): Key => ({
  keyId: randomUUID(),
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  state: 'Enabled',
  protectionLevel: 'SOFTWARE',
  origin: 'KEYHAVEN',
  currentVersion: 0,
  description: '',
  tags: {},
  createdAt: new Date(0),
  updatedAt: new Date(0),
  rotationPeriodDays: null,
  nextRotationAt: null,
  expiresAt: null,
  deletionDate: null,
  exportable: false,
  publicKeyOnly: false,
  tenant: 'acme',
  ...overrides,
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

describe('KyselyGrantStore', () => {
  let stores: SqliteStores;
  beforeEach(async () => {
    stores = await openSqliteStores(':memory:', { auditFsync: false });
  });
  afterEach(async () => stores.metadata.close());

  it('keeps a grant as written and returns the earlier one for a Name retry with the same parameters', async () => {
    const k = key();
    await stores.metadata.createKey(k, null, []);
    const first = grant(k.keyId, { name: 'n' });
    const same = (g: Grant) => (existing: Grant) => sameParameters(existing, g);
    expect(await stores.grants.createGrant(first, same(first), 10)).toBe(first);
    expect(await stores.grants.getGrant(first.grantId)).toEqual(first);
    const retry = grant(k.keyId, { name: 'n' });
    expect((await stores.grants.createGrant(retry, same(retry), 10)).grantId).toBe(first.grantId);
    const other = grant(k.keyId, { name: 'n', operations: ['Decrypt'] });
    expect((await stores.grants.createGrant(other, same(other), 10)).grantId).toBe(other.grantId);
    await expect(stores.grants.createGrant(grant(k.keyId), () => false, 2)).rejects.toMatchObject({
      code: 'LimitExceeded',
    });
  });

  it('pages grants in grant id order', async () => {
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
    const retirable = await stores.grants.listRetirableGrants({
      tenant: 'acme',
      retiringPrincipalId: 'retirer',
      limit: 10,
    });
    expect(retirable.grants).toHaveLength(5);
    expect(
      (
        await stores.grants.listRetirableGrants({
          tenant: 'other',
          retiringPrincipalId: 'retirer',
          limit: 10,
        })
      ).grants,
    ).toEqual([]);
  });

  it("removes a key's grants when the key is deleted at the end of its waiting period", async () => {
    const k = key({ state: 'PendingDeletion', deletionDate: new Date(1000) });
    const kept = key();
    await stores.metadata.createKey(k, null, []);
    await stores.metadata.createKey(kept, null, []);
    const doomed = grant(k.keyId);
    const survivor = grant(kept.keyId);
    await stores.grants.createGrant(doomed, () => false, 10);
    await stores.grants.createGrant(survivor, () => false, 10);
    expect(await stores.metadata.deleteKeyIfDue(k.keyId, new Date(2000))).toBe(true);
    expect(await stores.grants.getGrant(doomed.grantId)).toBeUndefined();
    expect(await stores.grants.grantsOfKey(k.keyId)).toEqual([]);
    expect(await stores.grants.getGrant(survivor.grantId)).toEqual(survivor);
  });
});
