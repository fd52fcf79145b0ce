// Port: the source of truth for keys, versions, aliases, import tokens and usage (identity-store.ts
// holds principals, credentials and policies).
// One Kysely implementation serves SQLite now and PostgreSQL later; every multi-row change is one
// transaction, so a failed write leaves no partial state.
import type { AuditEntry } from '../domain/audit-record.js';
import type { Key, KeyVersion } from '../domain/key.js';
import type { KeySpec, ProtectionLevel } from '../domain/key-spec.js';
import type { KeyState } from '../domain/key-state.js';

export interface KeyListFilter {
  /** Only this tenant's keys: another tenant's are never listed. */
  tenant: string;
  alias?: string;
  tag?: { key: string; value: string };
  state?: KeyState;
  limit: number;
  cursor?: string;
}

export interface ImportToken {
  id: string;
  keyId: string;
  /** The wrapping private key (PKCS#8), itself wrapped by the root key. */
  wrappedPrivateKey: Buffer;
  expiresAt: Date;
  /** The wrapping algorithm the token was issued for; null: the import names it (REST's default). */
  wrappingAlgorithm: string | null;
}

export interface SealReservation {
  first: number;
  granted: number;
}

/** A deleted key's version whose material its backend has not yet confirmed destroyed. */
export interface QueuedDestruction {
  keyId: string;
  keySpec: KeySpec;
  protectionLevel: ProtectionLevel;
  /** The version's material, as stored; its createdAt is when it was queued. */
  version: KeyVersion;
}

/** Where a page of due keys starts: after this (due time, key id), in that order. */
export interface DueCursor {
  dueAt: Date;
  keyId: string;
}

/** An alias and the key it names; updatedAt is createdAt until it is re-pointed. */
export interface AliasRecord {
  name: string;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface AliasListFilter {
  tenant: string;
  /** Only the aliases of this key. */
  keyId?: string;
  limit: number;
  /** A nextCursor this store issued; anything else fails with invalidMarker(). */
  cursor?: string;
}

/** A key recreated from a backup bundle (services/key-backup-service.ts), with every version. */
export interface RestoredKey {
  key: Key;
  /** Each version with the AES-GCM seals already counted against it (never reset by a restore). */
  versions: { version: KeyVersion; sealsReserved: number }[];
  /** Aliases to give the key where the name is free in its tenant; a taken name is skipped. */
  aliases: string[];
}

export type UsageCounts = Map<string, Map<string, number>>;

export interface KeyUsageRecord {
  counts: Record<string, number>;
  lastUsedAt: Date | null;
}

export interface MetadataStore {
  /**
   * Writes a new key with its first version and aliases, in one transaction; with `maxKeys`, only
   * if its tenant holds fewer keys (else LimitExceeded), counted in that same transaction.
   */
  createKey(key: Key, firstVersion: KeyVersion | null, aliases: string[], maxKeys?: number): Promise<void>;
  getKey(keyId: string): Promise<Key | undefined>;
  /**
   * Writes restored keys, their versions and their free aliases in one transaction: if any key id
   * exists already (AlreadyExists) or the tenant's `maxKeys` would be passed (LimitExceeded),
   * nothing is written. Returns the aliases each key got.
   */
  restoreKeys(keys: RestoredKey[], maxKeys?: number): Promise<Map<string, string[]>>;
  /** How many AES-GCM seals each version of the key has reserved (reserveSeals), by version. */
  sealsReserved(keyId: string): Promise<Map<number, number>>;
  listKeys(filter: KeyListFilter): Promise<{ keys: Key[]; nextCursor: string | null }>;
  /** Writes the key's mutable fields; fails with Conflict if updatedAt changed since it was read. */
  updateKey(key: Key, expectedUpdatedAt: Date): Promise<void>;
  /**
   * Adds a version and moves the key to it, in one transaction; with `audit`, that transaction also
   * chains its record onto the stored audit chain (the server's own rotations: a process that dies
   * midway leaves both or neither). Another writer appending first makes it run again, whole.
   */
  addVersion(key: Key, version: KeyVersion, expectedUpdatedAt: Date, audit?: AuditEntry): Promise<void>;
  /**
   * Writes the key (now without material) and, in the same transaction, queues its Enabled versions'
   * material for destruction and marks those versions Destroyed, their material erased: the rows and
   * their fingerprints stay for a re-import. Returns what was queued, for the caller to destroy now.
   */
  destroyImportedMaterial(key: Key, expectedUpdatedAt: Date, queuedAt: Date): Promise<QueuedDestruction[]>;
  /** Gives a Destroyed version its material back and writes the key, in one transaction. */
  restoreVersion(key: Key, version: KeyVersion, expectedUpdatedAt: Date): Promise<void>;
  getVersion(keyId: string, version: number): Promise<KeyVersion | undefined>;
  listVersions(keyId: string): Promise<KeyVersion[]>;
  /**
   * Reserves up to `count` more AES-GCM seals of a version, never beyond `max` in all: returns the
   * first index granted (meaningful when something was) and how many were granted (0 at the
   * bound). Atomic: concurrent reservations, from any process, get disjoint ranges.
   */
  reserveSeals(keyId: string, version: number, count: number, max: number): Promise<SealReservation>;
  /**
   * If the key is still PendingDeletion with its deletion date at or before `now`, removes it (versions,
   * aliases, tags, usage, import tokens, key policy, grants) and queues its versions for material destruction, in one
   * transaction. False when the key changed meanwhile (a deletion cancelled): nothing is removed.
   */
  deleteKeyIfDue(keyId: string, now: Date): Promise<boolean>;
  /** Queued versions in (queued time, key id, version) order, after `after` when given. */
  queuedDestructions(limit: number, after?: QueuedDestruction): Promise<QueuedDestruction[]>;
  /** Forgets a queued version once its backend destroyed the material. */
  completeDestruction(keyId: string, version: number): Promise<void>;

  /** Alias names are unique within a tenant; every alias query names the tenant. */
  resolveAlias(tenant: string, name: string): Promise<string | undefined>;
  putAlias(tenant: string, name: string, keyId: string, at: Date): Promise<void>;
  /** Adds the alias, or fails with AlreadyExists if the name is taken (one statement: no race). */
  createAlias(tenant: string, name: string, keyId: string, at: Date): Promise<void>;
  /** Re-points the alias only if it still names `fromKeyId`; false if it changed or is gone. */
  updateAlias(tenant: string, name: string, fromKeyId: string, toKeyId: string, at: Date): Promise<boolean>;
  /** A page of aliases by name. */
  listAliasPage(filter: AliasListFilter): Promise<{ aliases: AliasRecord[]; nextCursor: string | null }>;
  deleteAlias(tenant: string, name: string): Promise<boolean>;
  listAliases(tenant: string, keyId?: string): Promise<{ name: string; keyId: string; createdAt: Date }[]>;
  aliasesOf(keyIds: string[]): Promise<Map<string, string[]>>;

  saveImportToken(token: ImportToken): Promise<void>;
  /**
   * Returns and deletes the token (single use) if it belongs to `keyId`; a token of another key is
   * left as it is, so naming the wrong key cannot spend it.
   */
  takeImportToken(id: string, keyId: string): Promise<ImportToken | undefined>;

  addUsage(counts: UsageCounts, at: Date): Promise<void>;
  getUsage(keyId: string): Promise<KeyUsageRecord>;

  countKeys(tenant: string): Promise<number>;

  /** Enabled keys whose next rotation is due, by due time then id, after `after` when given. */
  keysDueForRotation(now: Date, limit: number, after?: DueCursor): Promise<Key[]>;
  /** Keys pending deletion whose deletion date has come, by that date then id, after `after`. */
  keysDueForDeletion(now: Date, limit: number, after?: DueCursor): Promise<Key[]>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
