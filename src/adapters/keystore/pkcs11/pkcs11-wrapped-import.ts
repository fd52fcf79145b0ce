// The HSM key backend's WrappedImport (ports/key-backend.ts; docs/hsm.md "Import"): import
// parameters whose key pair the token makes, and imports the token unwraps into the version's own
// object, which is checked (length where the token reports it, key check value) and copied to the
// other backends. The token-level steps are in pkcs11-key-import.ts.
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { expiredImportToken, invalidImportToken, KmsError, validationError } from '../../../domain/errors.js';
import type { KeySpec } from '../../../domain/key-spec.js';
import type {
  ImportedVersionMaterial,
  ImportWrappingKey,
  WrappedImport,
} from '../../../ports/key-backend.js';
import { tokenAnswers } from './hsm-aes-gcm.js';
import { keyCheckValue } from './pkcs11-content-checks.js';
import { pkcs11Code } from './pkcs11-errors.js';
import {
  destroyImportKey,
  expectImportKeyRestricted,
  generateImportKey,
  HSM_IMPORT_WRAPPING_ALGORITHMS,
  importedKeyTemplate,
  importedLengthFits,
  importKeyLabel,
  isImportKeyLabel,
  sweepImportKeys,
  unwrapImported,
} from './pkcs11-key-import.js';
import type { Handle } from './pkcs11-object-policy.js';
import { withMechanismRestriction } from './pkcs11-templates.js';
import { HsmUnavailableError, type Pkcs11Token, type SessionScope } from './pkcs11-token.js';
import type { TokenFailover } from './pkcs11-token-failover.js';
import { encodeVersionReference, importedObjectLabel } from './pkcs11-version-reference.js';

/** The HSM backend's WrappedImport (ports/key-backend.ts). */
export class Pkcs11WrappedImport implements WrappedImport {
  readonly algorithms = HSM_IMPORT_WRAPPING_ALGORITHMS;
  readonly keySpecs = HSM_IMPORTABLE_SPECS;

  constructor(
    private readonly failover: TokenFailover,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async createWrappingKey(
    keyId: string,
    id: string,
    modulusBits: number,
    expiresAt: Date,
  ): Promise<ImportWrappingKey> {
    const label = importKeyLabel(keyId, id, expiresAt);
    const replicable = this.failover.replication?.enabled ?? false;
    // The key's earlier pairs go on every backend (a pair is made on one only).
    await this.failover.runOnEach((scope, token) => this.sweep(scope, token, keyId));
    const publicKeySpki = await this.failover.run((scope) =>
      generateImportKey(scope, label, modulusBits, replicable),
    );
    return { reference: Buffer.from(label, 'utf8'), publicKeySpki };
  }

  private sweep(scope: SessionScope, token: Pkcs11Token, keyId?: string): void {
    for (const swept of sweepImportKeys(scope, this.clock(), keyId)) {
      token.forgetHandle(swept, pkcs11js.CKO_PRIVATE_KEY);
    }
  }

  async importWrapped(input: {
    keyId: string;
    version: number;
    spec: KeySpec;
    reference: Buffer;
    encrypted: Buffer;
  }): Promise<ImportedVersionMaterial> {
    const { keyId, version, spec } = input;
    if (!HSM_IMPORTABLE_SPECS.includes(spec)) {
      throw validationError(`HSM keys take imported material for ${HSM_IMPORTABLE_SPECS.join(', ')} only`);
    }
    const importLabel = input.reference.toString('utf8');
    const label = importedObjectLabel(keyId, version, randomBytes(9).toString('base64url'));
    const replication = this.failover.replication;
    const replicable = replication?.enabled ?? false;
    const { token, result: checkValue } = await this.onHolder(importLabel, async (scope, importKey) => {
      const handle = await withMechanismRestriction(async (restrict) =>
        unwrapImported(
          scope,
          importKey,
          input.encrypted,
          importedKeyTemplate(label, spec, replicable, restrict),
        ),
      );
      try {
        if (importedLengthFits(scope, handle, spec) === false) throw wrongMaterial(spec);
        return checkValueOrRefuse(scope, handle, spec);
      } catch (error) {
        scope.api.C_DestroyObject(scope.session, handle);
        throw error;
      }
    });
    if (replication && replicable) await replication.replicate(token, label, pkcs11js.CKO_SECRET_KEY);
    return {
      material: encodeVersionReference({ label, checkValue, imported: true }),
      publicKeySpki: null,
      checkValue,
    };
  }

  async discardWrappingKey(reference: Buffer): Promise<void> {
    const label = reference.toString('utf8');
    if (!isImportKeyLabel(label)) return;
    await this.failover.runOnEach((scope, token) => {
      const handle = scope.find(label, pkcs11js.CKO_PRIVATE_KEY, 'import-key');
      token.forgetHandle(label, pkcs11js.CKO_PRIVATE_KEY);
      if (handle) destroyImportKey(scope, handle);
    });
  }

  /**
   * Runs `use` on the backend holding the import key (it was made on one backend only), then
   * destroys the key: single use, whatever the outcome, since the import token that named it is
   * spent. Should the token fail then, the sweep destroys it once the import token has expired.
   */
  private async onHolder<T>(
    importLabel: string,
    use: (scope: SessionScope, importKey: Handle) => Promise<T>,
  ): Promise<{ token: Pkcs11Token; result: T }> {
    if (!isImportKeyLabel(importLabel)) throw invalidImportToken('the import token names no wrapping key');
    let unavailable: Error | undefined;
    for (const token of this.failover.tokens) {
      try {
        const result = await token.run(async (scope) => {
          const importKey = scope.find(
            importLabel,
            pkcs11js.CKO_PRIVATE_KEY,
            'import-key',
            expectImportKeyRestricted(scope, { label: importLabel }),
          );
          if (!importKey) return undefined;
          try {
            return { value: await use(scope, importKey) };
          } finally {
            token.forgetHandle(importLabel, pkcs11js.CKO_PRIVATE_KEY);
            try {
              destroyImportKey(scope, importKey);
            } catch {
              // Left to the sweep.
            }
          }
        });
        if (result) return { token, result: result.value };
      } catch (error) {
        if (!(error instanceof HsmUnavailableError)) throw error;
        unavailable = error;
      }
    }
    if (unavailable) {
      throw new KmsError(
        'Unavailable',
        `the HSM backend holding this import's wrapping key is unavailable: ${unavailable.message}`,
        { cause: unavailable },
      );
    }
    throw expiredImportToken('the import wrapping key is gone from the HSM; request new import parameters');
  }
}

/** Symmetric specs only: an asymmetric key's public half could not be checked against it unseen. */
export const HSM_IMPORTABLE_SPECS: readonly KeySpec[] = [
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
];

const wrongMaterial = (spec: KeySpec) =>
  validationError(`the imported material is not a valid ${spec} key (wrong length)`);

/** The key check value; a key the token cannot compute one with (an AES key of 20 bytes) is refused. */
function checkValueOrRefuse(scope: SessionScope, handle: Handle, spec: KeySpec): Buffer {
  try {
    return keyCheckValue(scope, handle, spec);
  } catch (error) {
    const code = pkcs11Code(error);
    const material =
      code === pkcs11js.CKR_KEY_SIZE_RANGE ||
      code === pkcs11js.CKR_MECHANISM_INVALID ||
      code === pkcs11js.CKR_KEY_TYPE_INCONSISTENT;
    if (material && tokenAnswers(scope.api, scope.slot)) throw wrongMaterial(spec);
    throw error;
  }
}
