// ClientTokens over a real SQLite store: what a retry gets back, the claims it must not honour
// (another request's, an abandoned one's), and another principal's token of the same string, which
// is a token of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrateTo } from '../../src/adapters/metadata/migrations/index.js';
import { openSqliteStores } from '../../src/adapters/metadata/sqlite/open-sqlite.js';
import type { MetadataStores } from '../../src/adapters/metadata/metadata-stores.js';
import { KmsError } from '../../src/domain/errors.js';
import type { RequestContext } from '../../src/domain/request-context.js';
import { systemClock } from '../../src/ports/clock.js';
import { ABANDONED_CLAIM_MS, ClientTokens, RELEASE_RETRY_MS } from '../../src/services/client-tokens.js';
import type { KeyDescription } from '../../src/services/key-records.js';
import { adminContext } from '../helpers/request-context.js';

describe('ClientTokens', () => {
  let dir: string;
  let stores: MetadataStores;
  let tokens: ClientTokens;
  /** Key ids "created" so far, as the key service would have them. */
  let created: Set<string>;
  const create = async (keyId: string) => {
    created.add(keyId);
    return { keyId } as unknown as KeyDescription;
  };
  const find = async (keyId: string) =>
    created.has(keyId) ? ({ keyId } as unknown as KeyDescription) : undefined;
  const asPrincipal = (id: string): RequestContext => {
    const ctx = adminContext('CreateKey');
    return { ...ctx, principal: { ...ctx.principal, id } };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyhaven-client-tokens-'));
    stores = await openSqliteStores(join(dir, 'keyhaven.db'), { auditFsync: false });
    tokens = new ClientTokens(stores.clientTokens, systemClock);
    created = new Set();
  });

  afterEach(async () => {
    await stores.audit.close();
    await stores.metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a retry of the same request by the same principal gets the key the first attempt created', async () => {
    const first = await tokens.createOnce(asPrincipal('p1'), 'tok-1', { keySpec: 'AES_256' }, create, find);
    const again = await tokens.createOnce(asPrincipal('p1'), 'tok-1', { keySpec: 'AES_256' }, create, find);
    expect(again.keyId).toBe(first.keyId);
    expect(created.size).toBe(1);
  });

  it('the same token with other parameters is ClientTokenMismatch', async () => {
    await tokens.createOnce(asPrincipal('p1'), 'tok-2', { keySpec: 'AES_256' }, create, find);
    const failure = await tokens
      .createOnce(asPrincipal('p1'), 'tok-2', { keySpec: 'HMAC_256' }, create, find)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(KmsError);
    expect((failure as KmsError).code).toBe('ClientTokenMismatch');
    expect(created.size).toBe(1);
  });

  it("another principal's token of the same string neither blocks nor finds the first principal's key", async () => {
    // p2 claims the string first, with other parameters: p1's requests are not refused (this was a
    // 24-hour ClientTokenMismatch for p1), and neither principal gets the other's key.
    const squatted = await tokens.createOnce(
      asPrincipal('p2'),
      'tok-3',
      { keySpec: 'HMAC_256' },
      create,
      find,
    );
    const own = await tokens.createOnce(asPrincipal('p1'), 'tok-3', { keySpec: 'AES_256' }, create, find);
    expect(own.keyId).not.toBe(squatted.keyId);
    const retry = await tokens.createOnce(asPrincipal('p1'), 'tok-3', { keySpec: 'AES_256' }, create, find);
    expect(retry.keyId).toBe(own.keyId);
    const sameParameters = await tokens.createOnce(
      asPrincipal('p3'),
      'tok-3',
      { keySpec: 'AES_256' },
      create,
      find,
    );
    expect(sameParameters.keyId).not.toBe(own.keyId);
    expect(created.size).toBe(3);
  });

  it('a claim whose key was never created is released once abandoned, and the retry creates the key', async () => {
    const ctx = asPrincipal('p1');
    // A failed creation releases its claim itself; a dead process cannot. Plant such a claim, with
    // the digest a retry will compute (read from a claim the service made for the same request).
    await tokens.createOnce(ctx, 'tok-4', { keySpec: 'AES_256' }, create, find);
    const live = await stores.clientTokens.claim(ctx.tenant, ctx.principal.id, 'tok-4', {
      requestDigest: '',
      keyId: '',
      createdAt: new Date(),
    });
    if (live.claimed || !live.existing) throw new Error('tok-4 should be claimed');
    const digest = live.existing.requestDigest;
    await stores.clientTokens.claim(ctx.tenant, ctx.principal.id, 'tok-5', {
      requestDigest: digest,
      keyId: 'never-created',
      createdAt: new Date(Date.now() - ABANDONED_CLAIM_MS - 1000),
    });
    const key = await tokens.createOnce(ctx, 'tok-5', { keySpec: 'AES_256' }, create, find);
    expect(key.keyId).not.toBe('never-created');
    expect(created.has(key.keyId)).toBe(true);
  });

  it('a claim whose creation and release both failed (the database was down) is released once it is back', async () => {
    const ctx = asPrincipal('p1');
    // The real store, with its first release failing as a database that went away would.
    let releasesRefused = 1;
    const flaky = new ClientTokens(
      {
        claim: (...args) => stores.clientTokens.claim(...args),
        purge: (...args) => stores.clientTokens.purge(...args),
        release: async (...args) => {
          if (releasesRefused-- > 0) throw new KmsError('Unavailable', 'the database is down');
          return stores.clientTokens.release(...args);
        },
      },
      systemClock,
    );
    const down = () => Promise.reject(new KmsError('Unavailable', 'the database is down'));
    await expect(flaky.createOnce(ctx, 'tok-7', { keySpec: 'AES_256' }, down, find)).rejects.toMatchObject({
      code: 'Unavailable',
    });
    // Released in the background a second later: the retry creates the key at once, instead of
    // waiting (and answering 503) until the claim counts as abandoned a minute after it was made.
    await new Promise((settle) => setTimeout(settle, RELEASE_RETRY_MS + 500));
    const probe = await stores.clientTokens.claim(ctx.tenant, ctx.principal.id, 'tok-7', {
      requestDigest: 'probe',
      keyId: 'probe',
      createdAt: new Date(),
    });
    expect(probe.claimed).toBe(true);
    await stores.clientTokens.release(ctx.tenant, ctx.principal.id, 'tok-7', 'probe');
    const key = await flaky.createOnce(ctx, 'tok-7', { keySpec: 'AES_256' }, create, find);
    expect(created.has(key.keyId)).toBe(true);
  });

  it('a failed creation whose key exists after all keeps its claim: the retry gets that key', async () => {
    const ctx = asPrincipal('p1');
    // The commit succeeded but its answer was lost (the connection dropped): the creation throws.
    const committedUnacknowledged = async (keyId: string) => {
      await create(keyId);
      throw new KmsError('Unavailable', 'connection terminated');
    };
    await expect(
      tokens.createOnce(ctx, 'tok-8', { keySpec: 'AES_256' }, committedUnacknowledged, find),
    ).rejects.toMatchObject({ code: 'Unavailable' });
    const key = await tokens.createOnce(ctx, 'tok-8', { keySpec: 'AES_256' }, create, find);
    expect(created.size).toBe(1);
    expect(created.has(key.keyId)).toBe(true);
  });

  it('concurrent identical requests create one key', async () => {
    const ctx = asPrincipal('p1');
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => tokens.createOnce(ctx, 'tok-6', { keySpec: 'AES_256' }, create, find)),
    );
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect(created.size).toBe(1);
  });

  it('migration 0013 turns a database with tenant-wide claims into per-principal ones', async () => {
    const file = join(dir, 'before-0013.db');
    const sqlite = new Database(file);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
    await migrateTo(db, '0011_client_tokens');
    sqlite
      .prepare(
        `insert into client_tokens (tenant_id, client_token, request_digest, key_id, created_at)
         values ('default', 'tok-old', ?, 'old-key', ?)`,
      )
      .run('0'.repeat(64), Date.now());
    await db.destroy();
    const migrated = await openSqliteStores(file, { auditFsync: false });
    try {
      // The tenant-wide claim cannot be given a principal: it is gone, and each principal claims
      // the string for itself.
      const claim = { requestDigest: '1'.repeat(64), keyId: 'new-key', createdAt: new Date() };
      expect(await migrated.clientTokens.claim('default', 'p1', 'tok-old', claim)).toEqual({ claimed: true });
      expect(await migrated.clientTokens.claim('default', 'p2', 'tok-old', claim)).toEqual({ claimed: true });
    } finally {
      await migrated.audit.close();
      await migrated.metadata.close();
    }
  });
});
