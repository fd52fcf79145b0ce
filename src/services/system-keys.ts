// The server's own signing keys: the audit log's checkpoint key and the access-token key. Each is a
// key like any other, made by the key store (inside the HSM when pkcs11 is configured, else wrapped
// by the root key), recorded in the reserved system tenant that no principal can see, and found
// again at start-up by its purpose tag. Only this service signs with them.
import { createPublicKey, randomBytes, randomUUID, verify, type KeyObject } from 'node:crypto';
import { firstVersion, generatedKey, type Key, type KeyVersion } from '../domain/key.js';
import type { ProtectionLevel } from '../domain/key-spec.js';
import { SYSTEM_KEYS_TENANT } from '../domain/identity.js';
import type { KeyBackend } from '../ports/key-backend.js';
import type { Clock } from '../ports/clock.js';
import type { MetadataStore } from '../ports/metadata-store.js';
import { announceNowhere, type AnnounceChange } from './cache-invalidation.js';

export type SystemKeyPurpose = 'audit-checkpoint' | 'access-token';

const PURPOSE_TAG = 'keyhaven:purpose';

/** A system signing key: ECDSA P-256, signatures in DER (as Keyhaven's Sign returns them). */
export interface SystemSigningKey {
  keyId: string;
  version: number;
  algorithm: 'ECDSA_SHA_256';
  /** SPKI DER of the public key. */
  publicKeySpki: Buffer;
  sign(message: Buffer): Promise<Buffer>;
}

/** A version of a system key whose private half the key store holds (it signed a challenge). */
export interface ProvenPublicKey {
  keyId: string;
  version: number;
  /** SPKI DER, as stored. */
  spki: Buffer;
  publicKey: KeyObject;
}

export class SystemKeys {
  private readonly loaded = new Map<SystemKeyPurpose, Promise<SystemSigningKey>>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly backend: KeyBackend,
    private readonly protectionLevel: ProtectionLevel,
    private readonly clock: Clock,
    private readonly announce: AnnounceChange = announceNowhere,
  ) {}

  /**
   * Another process made a system key: found again on next use. (The cluster's first start makes
   * both keys before workers fork, so this is for nodes that raced to make one.)
   */
  drop(): void {
    this.loaded.clear();
  }

  /** The key for `purpose`, made on first use; the same key on every later start. */
  signingKey(purpose: SystemKeyPurpose): Promise<SystemSigningKey> {
    let key = this.loaded.get(purpose);
    if (!key) {
      key = this.findOrCreate(purpose);
      // A failure (the HSM away at start) is not remembered: the next call tries again.
      key.catch(() => this.loaded.delete(purpose));
      this.loaded.set(purpose, key);
    }
    return key;
  }

  /**
   * Every version of `purpose`'s keys that the key store proves it holds (verifying old checkpoints
   * and old tokens needs old versions): each stored version signs a fresh challenge, and only those
   * whose stored public key verifies it count. A version or a key row someone added to the database,
   * with a public key of their own, proves nothing and is left out.
   */
  async publicKeys(purpose: SystemKeyPurpose): Promise<ProvenPublicKey[]> {
    const proven: ProvenPublicKey[] = [];
    for (const key of await this.keysFor(purpose)) {
      for (const version of await this.metadata.listVersions(key.keyId)) {
        if (!version.publicKeySpki) continue;
        const publicKey = createPublicKey({ key: version.publicKeySpki, format: 'der', type: 'spki' });
        const challenge = randomBytes(32);
        try {
          const proof = await this.signerFor(key, version).sign(challenge);
          if (verify('sha256', challenge, { key: publicKey, dsaEncoding: 'der' }, proof)) {
            proven.push({
              keyId: key.keyId,
              version: version.version,
              spki: version.publicKeySpki,
              publicKey,
            });
          }
        } catch {
          // Material the key store cannot use (not its own, or forged): not a key of the server's.
        }
      }
    }
    return proven;
  }

  private async findOrCreate(purpose: SystemKeyPurpose): Promise<SystemSigningKey> {
    const existing = (await this.keysFor(purpose))[0];
    const key = existing ?? (await this.create(purpose));
    const version = await this.metadata.getVersion(key.keyId, key.currentVersion);
    if (!version?.publicKeySpki) throw new Error(`system key ${key.keyId} has no public key`);
    return this.signerFor(key, version);
  }

  private async keysFor(purpose: SystemKeyPurpose): Promise<Key[]> {
    const page = await this.metadata.listKeys({
      tenant: SYSTEM_KEYS_TENANT,
      tag: { key: PURPOSE_TAG, value: purpose },
      limit: 10,
    });
    return page.keys;
  }

  private async create(purpose: SystemKeyPurpose): Promise<Key> {
    const keyId = randomUUID();
    const now = this.clock.now();
    const created = await this.backend.createVersionMaterial(keyId, 1, 'ECC_NIST_P256', 'SIGN_VERIFY');
    const version = firstVersion(keyId, now, created);
    const key = generatedKey(
      {
        keyId,
        keySpec: 'ECC_NIST_P256',
        keyUsage: 'SIGN_VERIFY',
        protectionLevel: this.protectionLevel,
        description: `Keyhaven ${purpose} signing key`,
        tags: { [PURPOSE_TAG]: purpose },
        tenant: SYSTEM_KEYS_TENANT,
      },
      now,
    );
    try {
      await this.metadata.createKey(key, version, []);
    } catch (error) {
      await this.backend.destroyVersionMaterial({ keyId, keySpec: key.keySpec, version });
      throw error;
    }
    this.announce({ kind: 'system-keys' });
    return key;
  }

  private signerFor(key: Key, version: KeyVersion): SystemSigningKey {
    const ref = { keyId: key.keyId, keySpec: key.keySpec, version };
    return {
      keyId: key.keyId,
      version: version.version,
      algorithm: 'ECDSA_SHA_256',
      publicKeySpki: version.publicKeySpki!,
      sign: (message) => this.backend.sign(ref, 'ECDSA_SHA_256', message, 'RAW'),
    };
  }
}
