// Port: the root of the key hierarchy. It wraps every SOFTWARE key version's material so that the
// metadata store alone never suffices to recover a key. Implemented by the sealed software root and
// the PKCS#11 store (the root key is then an HSM object).
import type { KeyStoreStatus, StatusOptions } from './key-store-status.js';

export interface RootKeyStore {
  readonly kind: string;
  /** Wraps material, binding it to (keyId, version) so blobs cannot be swapped between versions. */
  wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer>;
  unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer>;
  /** Probes by default (readiness); `{ probe: false }` reports the last known state. */
  status(options?: StatusOptions): Promise<KeyStoreStatus[]>;
  close(): Promise<void>;
}
