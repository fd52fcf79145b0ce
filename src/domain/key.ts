// The key model: a key with metadata and numbered versions (Vault transit's keysutil plays this role).
import type { KeySpec, KeyUsage, ProtectionLevel } from './key-spec.js';
import type { KeyState } from './key-state.js';

export const KEY_ORIGINS = ['KEYHAVEN', 'EXTERNAL'] as const;
export type KeyOrigin = (typeof KEY_ORIGINS)[number];

export interface Key {
  keyId: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  state: KeyState;
  protectionLevel: ProtectionLevel;
  origin: KeyOrigin;
  /** 0 until material exists (an EXTERNAL-origin key awaiting import). */
  currentVersion: number;
  description: string;
  tags: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
  rotationPeriodDays: number | null;
  nextRotationAt: Date | null;
  expiresAt: Date | null;
  deletionDate: Date | null;
  exportable: boolean;
  /** True when only a public key was imported: the key can verify and encrypt, never sign or decrypt. */
  publicKeyOnly: boolean;
  /** The tenant the key belongs to; other tenants' principals never see it. */
  tenant: string;
}

export type KeyVersionState = 'Enabled' | 'Destroyed';

export interface KeyVersion {
  keyId: string;
  version: number;
  state: KeyVersionState;
  createdAt: Date;
  /** Opaque to everything but the key backend: root-wrapped material, or an HSM object reference. */
  material: Buffer;
  /** SPKI DER of asymmetric keys, null for symmetric ones. */
  publicKeySpki: Buffer | null;
  /** How a rotation made this version; absent for a key's first version and imported material. */
  rotation?: RotationKind;
  /** Imported material only: what tells a re-import of the same material from other material. */
  materialFingerprint?: MaterialFingerprint | null;
}

/**
 * A keyed digest of imported material, never the material: HMAC-SHA-256 under a per-key secret
 * that is kept wrapped under the root key. The digest doubles as AWS's KeyMaterialId.
 */
export interface MaterialFingerprint {
  digest: Buffer;
  wrappedSecret: Buffer;
}

/**
 * The record of a key whose one version's material the server generated: Enabled, at version 1,
 * with no rotation period, expiry, deletion date, export or imported material, made `now`. The
 * server's signing keys (system-keys.ts) and the benchmark's filled keys are built here, so that a
 * field added to Key is given to both at once.
 */
export function generatedKey(
  fields: Pick<Key, 'keyId' | 'keySpec' | 'keyUsage' | 'protectionLevel' | 'tenant'> &
    Partial<Pick<Key, 'description' | 'tags'>>,
  now: Date,
): Key {
  return {
    description: '',
    tags: {},
    ...fields,
    state: 'Enabled',
    origin: 'KEYHAVEN',
    currentVersion: 1,
    createdAt: now,
    updatedAt: now,
    rotationPeriodDays: null,
    nextRotationAt: null,
    expiresAt: null,
    deletionDate: null,
    exportable: false,
    publicKeyOnly: false,
  };
}

/** The first version of a generatedKey, holding the material its backend made. */
export function firstVersion(
  keyId: string,
  now: Date,
  created: Pick<KeyVersion, 'material' | 'publicKeySpki'>,
): KeyVersion {
  return { keyId, version: 1, state: 'Enabled', createdAt: now, ...created };
}

/** A version from the server's own schedule (or the AES-GCM bound), or one a caller asked for. */
export type RotationKind = 'AUTOMATIC' | 'ON_DEMAND';

export const MIN_ROTATION_DAYS = 90;
export const MAX_ROTATION_DAYS = 2560;
export const MIN_DELETION_WINDOW_DAYS = 7;
export const MAX_DELETION_WINDOW_DAYS = 30;
export const DEFAULT_DELETION_WINDOW_DAYS = 30;

export const DAY_MS = 24 * 60 * 60 * 1000;

export const isExpired = (key: Key, now: Date) => key.expiresAt !== null && key.expiresAt <= now;
