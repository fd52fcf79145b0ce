// RootKeyStore whose root key is an AES-256 object in the HSM (label `keyhaven-root`, sensitive, not
// extractable; with several backends, copied to each of them by pkcs11-replication.ts). SOFTWARE key material is wrapped by AES-GCM inside the token with the same associated
// data as the sealed software root, so the database alone never suffices to recover a key.
// A marker file in the data directory records the root key's check value: a token that lost the root
// key (or another token under the same label) makes keys Unavailable instead of getting a new root.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { AES_GCM_IV_LENGTH, AES_GCM_TAG_LENGTH } from '../../../crypto/aead.js';
import { KmsError } from '../../../domain/errors.js';
import type { KeyStoreStatus, StatusOptions } from '../../../ports/key-store-status.js';
import type { RootKeyStore } from '../../../ports/root-key-store.js';
import { wrappingAad } from '../software/software-root-key-store.js';
import { GcmAuthenticationError, hsmGcmDecrypt, hsmGcmEncrypt } from './hsm-aes-gcm.js';
import type { TokenFailover } from './pkcs11-token-failover.js';
import { ALLOWED_MECHANISMS, secretKeyTemplate, withMechanismRestriction } from './pkcs11-templates.js';
import type { Handle, SessionScope } from './pkcs11-token.js';

/** Format byte of HSM-wrapped material (the sealed software root writes 0x01). */
const WRAP_FORMAT = 0x02;
export const ROOT_MARKER_FILE = 'pkcs11-root.json';

interface RootMarker {
  version: 1;
  label: string;
  /** Key check value: the GCM tag of an empty message under a fixed IV and label. */
  checkValue: string;
  createdAt: string;
}

export interface OpenedRootKey {
  store: Pkcs11RootKeyStore;
  /** A new root key was generated in the token during this start. */
  created: boolean;
  /** The token could not be reached at start: the server runs degraded until it comes back. */
  available: boolean;
}

export class Pkcs11RootKeyStore implements RootKeyStore {
  readonly kind = 'pkcs11';
  /** Whether the token's root key was found (or made) and matched the marker since start. */
  private verified = false;
  /** The check in progress, shared: concurrent first uses must neither repeat it nor make two root keys. */
  private verifying: Promise<boolean> | undefined;

  private constructor(
    readonly failover: TokenFailover,
    readonly label: string,
    private readonly markerPath: string,
  ) {}

  /**
   * Finds the root key in the token, or creates it on the first start of this data directory.
   * An unreachable token does not stop the start: operations answer Unavailable until it returns.
   */
  static async open(failover: TokenFailover, dataDir: string, label: string): Promise<OpenedRootKey> {
    const store = new Pkcs11RootKeyStore(failover, label, join(dataDir, ROOT_MARKER_FILE));
    await failover.primary.connect().catch((error: unknown) => {
      if (!(error instanceof KmsError)) throw error;
    });
    try {
      const created = await store.verify();
      return { store, created, available: true };
    } catch (error) {
      if (error instanceof KmsError && error.code === 'Unavailable')
        return { store, created: false, available: false };
      throw error;
    }
  }

  private verify(): Promise<boolean> {
    this.verifying ??= this.ensureRootKey().finally(() => (this.verifying = undefined));
    return this.verifying;
  }

  /** Creates the root key if this data directory never had one; checks it otherwise. */
  private async ensureRootKey(): Promise<boolean> {
    const marker = this.readMarker();
    const replication = this.failover.replication;
    const { created, source } = await this.failover.run(async (scope, token) => {
      let handle = scope.find(this.label, pkcs11js.CKO_SECRET_KEY);
      let created = false;
      if (!handle) {
        if (marker) {
          throw new KmsError(
            'Unavailable',
            `root key "${this.label}" is missing from the token, but ${this.markerPath} says this data directory has one`,
          );
        }
        handle = await withMechanismRestriction((restrict) =>
          scope.api.C_GenerateKeyAsync(
            scope.session,
            { mechanism: pkcs11js.CKM_AES_KEY_GEN },
            secretKeyTemplate({
              label: this.label,
              keyType: pkcs11js.CKK_AES,
              length: 32,
              usage: 'encrypt',
              replicable: replication?.enabled ?? false,
              mechanisms: restrict ? ALLOWED_MECHANISMS.aes : undefined,
            }),
          ),
        );
        created = true;
      }
      const checkValue = await rootCheckValue(scope, handle);
      if (!marker) {
        this.writeMarker({ version: 1, label: this.label, checkValue, createdAt: new Date().toISOString() });
      } else if (marker.checkValue !== checkValue) {
        throw new KmsError(
          'Unavailable',
          `the token's "${this.label}" is not the root key this data directory was created with`,
        );
      }
      return { created, source: token };
    });
    // Every backend needs the root key; one that lacks it is filled now or by the catch-up pass.
    await replication?.replicate(source, this.label, pkcs11js.CKO_SECRET_KEY);
    this.verified = true;
    return created;
  }

  async wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer> {
    if (!this.verified) await this.verify();
    const iv = randomBytes(AES_GCM_IV_LENGTH);
    const { ciphertext, tag } = await this.failover.run(async (scope) =>
      hsmGcmEncrypt(scope, this.rootHandle(scope), iv, wrappingAad(keyId, version), material),
    );
    return Buffer.concat([Buffer.of(WRAP_FORMAT), iv, ciphertext, tag]);
  }

  async unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer> {
    if (wrapped.length < 1 + AES_GCM_IV_LENGTH + AES_GCM_TAG_LENGTH || wrapped[0] !== WRAP_FORMAT) {
      throw new KmsError(
        'Unavailable',
        `stored material of ${keyId} v${version} was not wrapped by an HSM root key (another key store?)`,
      );
    }
    if (!this.verified) await this.verify();
    const iv = wrapped.subarray(1, 1 + AES_GCM_IV_LENGTH);
    const ciphertext = wrapped.subarray(1 + AES_GCM_IV_LENGTH, wrapped.length - AES_GCM_TAG_LENGTH);
    const tag = wrapped.subarray(wrapped.length - AES_GCM_TAG_LENGTH);
    return this.failover.run(async (scope) => {
      try {
        return await hsmGcmDecrypt(
          scope,
          this.rootHandle(scope),
          iv,
          wrappingAad(keyId, version),
          ciphertext,
          tag,
        );
      } catch (error) {
        if (!(error instanceof GcmAuthenticationError)) throw error;
        // Another root key (wrong token or data directory) is an availability problem, not bad input.
        throw new KmsError(
          'Unavailable',
          `material of ${keyId} v${version} cannot be unwrapped by this root key`,
          {
            cause: error,
          },
        );
      }
    });
  }

  async status(options?: StatusOptions): Promise<KeyStoreStatus[]> {
    return this.failover.status(options);
  }

  async close(): Promise<void> {
    await this.failover.close();
  }

  private rootHandle(scope: SessionScope): Handle {
    return scope.require(this.label, pkcs11js.CKO_SECRET_KEY);
  }

  private readMarker(): RootMarker | undefined {
    if (!existsSync(this.markerPath)) return undefined;
    const marker = JSON.parse(readFileSync(this.markerPath, 'utf8')) as RootMarker;
    if (marker.label !== this.label) {
      throw new KmsError(
        'Unavailable',
        `${this.markerPath} names root key "${marker.label}", but "${this.label}" is configured`,
      );
    }
    return marker;
  }

  private writeMarker(marker: RootMarker): void {
    writeFileSync(this.markerPath, JSON.stringify(marker, null, 2) + '\n', { mode: 0o600 });
  }
}

/** A fixed, public computation with the root key: identifies the key without revealing it. */
async function rootCheckValue(scope: SessionScope, handle: Handle): Promise<string> {
  const { tag } = await hsmGcmEncrypt(
    scope,
    handle,
    Buffer.alloc(AES_GCM_IV_LENGTH),
    Buffer.from('keyhaven/root-check'),
    Buffer.alloc(0),
  );
  return tag.subarray(0, 8).toString('hex');
}
