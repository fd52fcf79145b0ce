// Finds keys by id, alias or ARN-like name, with a small read-through cache of key records and
// versions. Every write in this process goes through invalidate(), so a disable takes effect at once.
import { notFound, validationError } from '../domain/errors.js';
import type { Key, KeyVersion } from '../domain/key.js';
import { KeyVersionMap } from '../domain/key-version-map.js';
import type { MetadataStore } from '../ports/metadata-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ARN = /^kh:[^:]*:key\/([0-9a-f-]{36})$/;
export const ALIAS_PATTERN = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
/** An alias name with its `alias/` prefix, whether or not it was given with one. */
export const fullAliasName = (name: string) => (name.startsWith('alias/') ? name : `alias/${name}`);

interface CachedKey {
  key: Key;
  until: number;
}

export class KeyDirectory {
  private readonly keys = new Map<string, CachedKey>();
  private readonly versions = new KeyVersionMap<KeyVersion>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** Resolves a key id, `alias/<name>` or `kh:<tenant>:key/<uuid>` to a key id, or throws NotFound. */
  async resolveKeyId(reference: string): Promise<string> {
    if (UUID.test(reference)) return reference;
    const arn = ARN.exec(reference);
    if (arn && UUID.test(arn[1]!)) return arn[1]!;
    if (reference.startsWith('alias/')) {
      if (!ALIAS_PATTERN.test(reference)) throw validationError(`${reference} is not a valid alias name`);
      const keyId = await this.metadata.resolveAlias(reference);
      if (!keyId) throw notFound(`alias ${reference} does not exist`);
      return keyId;
    }
    throw validationError('keyId must be a key id (UUID), alias/<name> or kh:<tenant>:key/<uuid>');
  }

  /** The cached record of a key named by its id, if fresh; never touches the store. */
  peekKey(reference: string): Key | undefined {
    const cached = this.keys.get(reference);
    return cached && cached.until > Date.now() ? cached.key : undefined;
  }

  peekVersion(key: Key, version: number): KeyVersion | undefined {
    return this.versions.get(key.keyId, version);
  }

  async getKey(reference: string): Promise<Key> {
    const keyId = await this.resolveKeyId(reference);
    const cached = this.peekKey(keyId);
    if (cached) return cached;
    const key = await this.metadata.getKey(keyId);
    if (!key) throw notFound(`key ${reference} does not exist`);
    if (this.keys.size >= this.maxEntries) this.keys.clear();
    this.keys.set(keyId, { key, until: Date.now() + this.ttlMs });
    return key;
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
  }

  forget(keyId: string): void {
    this.keys.delete(keyId);
    this.versions.deleteKey(keyId);
  }
}
