// The key state machine (API.md states). Every transition is checked here, so every surface
// (REST, CLI, later AWS dialect) refuses the same invalid transitions with the same codes.
import { KmsError, invalidState } from './errors.js';
import { isExpired, type Key } from './key.js';

export const KEY_STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'Unavailable'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export type KeyTransition =
  'enable' | 'disable' | 'scheduleDeletion' | 'cancelDeletion' | 'rotate' | 'import' | 'deleteMaterial';

const allowedFrom: Record<KeyTransition, readonly KeyState[]> = {
  enable: ['Enabled', 'Disabled'],
  disable: ['Enabled', 'Disabled'],
  scheduleDeletion: ['Enabled', 'Disabled', 'PendingImport'],
  cancelDeletion: ['PendingDeletion'],
  rotate: ['Enabled'],
  import: ['PendingImport'],
  // AWS deletes imported material in PendingDeletion too (the state stays); Keyhaven refuses it
  // there, since cancelling the deletion would leave a Disabled key without material.
  deleteMaterial: ['Enabled', 'Disabled', 'PendingImport'],
};

export function assertTransition(key: Key, transition: KeyTransition): void {
  if (allowedFrom[transition].includes(key.state)) return;
  if (key.state === 'PendingDeletion') {
    throw new KmsError('KeyPendingDeletion', `key ${key.keyId} is pending deletion; cannot ${transition}`);
  }
  throw invalidState(`key ${key.keyId} is ${key.state}; cannot ${transition}`);
}

/** Metadata changes (description, tags, aliases) and reads of the public key stop at deletion. */
export function assertNotPendingDeletion(key: Key): void {
  if (key.state === 'PendingDeletion') {
    throw new KmsError('KeyPendingDeletion', `key ${key.keyId} is pending deletion`);
  }
}

/** Operations on material: producing new ciphertext/signatures needs an unexpired key. */
export type KeyOperationKind = 'protect' | 'unprotect';

export function assertUsable(key: Key, kind: KeyOperationKind, now: Date): void {
  switch (key.state) {
    case 'Enabled':
      break;
    case 'Disabled':
      throw new KmsError('KeyDisabled', `key ${key.keyId} is disabled`);
    case 'PendingDeletion':
      return assertNotPendingDeletion(key);
    case 'PendingImport':
      throw invalidState(`key ${key.keyId} has no key material yet (PendingImport)`);
    case 'Unavailable':
      throw new KmsError('Unavailable', `key ${key.keyId} is unavailable`);
  }
  // An expired key still decrypts and verifies what it produced, but produces nothing new.
  if (kind === 'protect' && isExpired(key, now)) {
    throw new KmsError('KeyExpired', `key ${key.keyId} expired at ${key.expiresAt?.toISOString()}`);
  }
}
