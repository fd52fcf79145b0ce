// Finds keys by id, alias or ARN-like name, with a small read-through cache of key records and
// versions. Every write in this process goes through invalidate(), so a disable takes effect at once;
// each invalidation is announced to the other processes sharing the database (cache-invalidation.ts).
// Tenant scoping happens here, once for every service: a key of a tenant the caller may not see
// fails exactly as a key that does not exist (same code, same message for the same reference).
import { notFound, validationError } from '../domain/errors.js';
import { canSeeTenant } from '../domain/identity.js';
import type { Key, KeyVersion } from '../domain/key.js';
import { KeyVersionMap } from '../domain/key-version-map.js';
import type { RequestContext } from '../domain/request-context.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import { announceNowhere, type AnnounceChange } from './cache-invalidation.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ARN = /^kh:[^:]*:key\/([0-9a-f-]{36})$/;
export const ALIAS_PATTERN = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
/** An alias name with its `alias/` prefix, whether or not it was given with one. */
export const fullAliasName = (name: string) => (name.startsWith('alias/') ? name : `alias/${name}`);

interface CachedKey {
  key: Key;
  until: number;
}

interface CachedAliases {
  names: string[];
  until: number;
}

/** The NotFound every invisible or missing key answers with; the message names only what was asked. */
export const keyNotFound = (reference: string) => notFound(`key ${reference} does not exist`);

/**
 * Throws NotFound unless the caller may see the key and the ARN, if one names it, names its tenant
 * (`kh::key/<uuid>`, what keys had before tenants, names none).
 */
export function assertVisible(ctx: RequestContext, key: Key, reference: string): Key {
  if (!canSeeTenant(ctx.principal, key.tenant)) throw keyNotFound(reference);
  if (reference.startsWith('kh:')) {
    const tenant = reference.slice(3, reference.indexOf(':', 3));
    if (tenant !== '' && tenant !== key.tenant) throw keyNotFound(reference);
  }
  return key;
}

export class KeyDirectory {
  private readonly keys = new Map<string, CachedKey>();
  private readonly versions = new KeyVersionMap<KeyVersion>();
  private readonly aliases = new Map<string, CachedAliases>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly announce: AnnounceChange = announceNowhere,
  ) {}

  /**
   * Resolves a key id, `alias/<name>` (in the caller's tenant) or `kh:<tenant>:key/<uuid>` to a key
   * id, or throws NotFound. The id is not yet known to exist or to be visible: getKey checks both.
   */
  async resolveKeyId(ctx: RequestContext, reference: string): Promise<string> {
    if (UUID.test(reference)) return reference;
    const arn = ARN.exec(reference);
    if (arn && UUID.test(arn[1]!)) return arn[1]!;
    if (reference.startsWith('alias/')) {
      if (!ALIAS_PATTERN.test(reference)) throw validationError(`${reference} is not a valid alias name`);
      const keyId = await this.metadata.resolveAlias(ctx.tenant, reference);
      if (!keyId) throw notFound(`alias ${reference} does not exist`);
      return keyId;
    }
    throw validationError('keyId must be a key id (UUID), alias/<name> or kh:<tenant>:key/<uuid>');
  }

  /** The cached record of a key named by its id, if fresh and visible; never touches the store. */
  peekKey(ctx: RequestContext, reference: string): Key | undefined {
    const cached = this.keys.get(reference);
    if (!cached || cached.until <= Date.now()) return undefined;
    return assertVisible(ctx, cached.key, reference);
  }

  peekVersion(key: Key, version: number): KeyVersion | undefined {
    return this.versions.get(key.keyId, version);
  }

  async getKey(ctx: RequestContext, reference: string): Promise<Key> {
    const keyId = await this.resolveKeyId(ctx, reference);
    const cached = this.keys.get(keyId);
    if (cached && cached.until > Date.now()) return assertVisible(ctx, cached.key, reference);
    const key = await this.metadata.getKey(keyId);
    if (!key) throw keyNotFound(reference);
    if (this.keys.size >= this.maxEntries) this.keys.clear();
    this.keys.set(keyId, { key, until: Date.now() + this.ttlMs });
    return assertVisible(ctx, key, reference);
  }

  /** The key's alias names if cached (and fresh); never touches the store. */
  peekAliases(key: Key): string[] | undefined {
    const cached = this.aliases.get(key.keyId);
    return cached && cached.until > Date.now() ? cached.names : undefined;
  }

  /** The key's alias names (for policies that name aliases), cached like the key record. */
  async aliasesOf(key: Key): Promise<string[]> {
    const cached = this.aliases.get(key.keyId);
    if (cached && cached.until > Date.now()) return cached.names;
    const names = (await this.metadata.aliasesOf([key.keyId])).get(key.keyId) ?? [];
    if (this.aliases.size >= this.maxEntries) this.aliases.clear();
    this.aliases.set(key.keyId, { names, until: Date.now() + this.ttlMs });
    return names;
  }

  /** Versions never change once written (until the key is deleted), so they are cached until then. */
  async getVersion(key: Key, version: number): Promise<KeyVersion> {
    const cached = this.versions.get(key.keyId, version);
    if (cached) return cached;
    const found = await this.metadata.getVersion(key.keyId, version);
    if (!found) throw notFound(`key ${key.keyId} has no version ${version}`);
    if (this.versions.size >= this.maxEntries) this.versions.clear();
    this.versions.set(key.keyId, version, found);
    return found;
  }

  invalidate(keyId: string): void {
    this.keys.delete(keyId);
    this.aliases.delete(keyId);
    this.announce({ kind: 'key', keyId });
  }

  forget(keyId: string): void {
    this.invalidate(keyId);
    this.versions.deleteKey(keyId);
  }

  /**
   * Another process changed the key: everything about it goes, versions included (a re-import or a
   * deletion there changes versions this process holds). Not announced again.
   */
  drop(keyId: string): void {
    this.keys.delete(keyId);
    this.aliases.delete(keyId);
    this.versions.deleteKey(keyId);
  }

  dropAll(): void {
    this.keys.clear();
    this.aliases.clear();
    this.versions.clear();
  }
}
