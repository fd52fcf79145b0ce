// Port: the root of the key hierarchy. It wraps every SOFTWARE key version's material so that the
// metadata store alone never suffices to recover a key. Implemented by the sealed software root and,
// later, by the PKCS#11 store (the root key is then an HSM object).
export interface BackendStatus {
  name: string;
  kind: string;
  healthy: boolean;
  detail?: string;
}

export interface RootKeyStore {
  readonly kind: string;
  /** Wraps material, binding it to (keyId, version) so blobs cannot be swapped between versions. */
  wrapKeyMaterial(material: Buffer, keyId: string, version: number): Promise<Buffer>;
  unwrapKeyMaterial(wrapped: Buffer, keyId: string, version: number): Promise<Buffer>;
  status(): Promise<BackendStatus[]>;
  close(): Promise<void>;
}
