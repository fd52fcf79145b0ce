// Importing key material: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, on
// KeyImportService as REST's /v1/keys/import-parameters, /import and /material routes.
import { unsupportedOperation, validationError } from '../../../domain/errors.js';
import { DAY_MS } from '../../../domain/key.js';
import {
  IMPORT_WRAPPING_ALGORITHMS,
  IMPORT_WRAPPING_KEY_SPECS,
  type ImportWrappingAlgorithm,
  type ImportWrappingKeySpec,
} from '../../../services/key-import-service.js';
import {
  blob,
  epochSeconds,
  optionalEnum,
  optionalPatterned,
  optionalTimestamp,
  requiredBlob,
  requiredEnum,
  type Members,
} from '../wire.js';
import { keyRef, usedKeyArn, type ActionCall, type AwsActions } from './action-call.js';

/** AWS's AlgorithmSpec and WrappingKeySpec, all of them: the ones Keyhaven lacks are refused by name. */
const AWS_WRAPPING_ALGORITHMS = [
  'RSAES_PKCS1_V1_5',
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
  'SM2PKE',
] as const;
const AWS_WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;

/** ImportKeyMaterial's ValidTo: at most 365 days ahead (AWS). */
const MAX_VALID_TO_MS = 365 * DAY_MS;
/** CiphertextType: ImportToken and EncryptedKeyMaterial. */
const MAX_CIPHERTEXT_BYTES = 6144;
/** BackingKeyIdType: 64 hex digits. */
const KEY_MATERIAL_ID = /^[a-f0-9]{64}$/;

const keyMaterialId = (input: Members) => optionalPatterned(input, 'KeyMaterialId', KEY_MATERIAL_ID, 64);

function wrappingAlgorithmOf(input: Members): ImportWrappingAlgorithm {
  const algorithm = requiredEnum(input, 'WrappingAlgorithm', AWS_WRAPPING_ALGORITHMS);
  // AWS withdrew PKCS#1 v1.5 wrapping on 10 October 2023 (a padding oracle risk); SM2 is China-only.
  if (algorithm === 'RSAES_PKCS1_V1_5') {
    throw validationError(
      'WrappingAlgorithm RSAES_PKCS1_V1_5 is no longer supported; use RSAES_OAEP_SHA_256',
    );
  }
  if (algorithm === 'SM2PKE')
    throw unsupportedOperation('WrappingAlgorithm SM2PKE is not served by Keyhaven');
  return algorithm satisfies (typeof IMPORT_WRAPPING_ALGORITHMS)[number];
}

function wrappingKeySpecOf(input: Members): ImportWrappingKeySpec {
  const spec = requiredEnum(input, 'WrappingKeySpec', AWS_WRAPPING_KEY_SPECS);
  if (spec === 'SM2') throw unsupportedOperation('WrappingKeySpec SM2 is not served by Keyhaven');
  return spec satisfies (typeof IMPORT_WRAPPING_KEY_SPECS)[number];
}

/** ExpirationModel (default KEY_MATERIAL_EXPIRES) with ValidTo, as one expiry: null never expires. */
function expiryOf(input: Members): string | null {
  const model = optionalEnum(input, 'ExpirationModel', [
    'KEY_MATERIAL_EXPIRES',
    'KEY_MATERIAL_DOES_NOT_EXPIRE',
  ] as const);
  const validTo = optionalTimestamp(input, 'ValidTo');
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (validTo)
      throw validationError('ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
    return null;
  }
  if (!validTo) throw validationError('ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES');
  const now = Date.now();
  if (validTo.getTime() <= now) throw validationError('ValidTo must be in the future');
  if (validTo.getTime() > now + MAX_VALID_TO_MS) {
    throw validationError('ValidTo must be at most 365 days from now');
  }
  return validTo.toISOString();
}

const materialReply = (call: ActionCall, keyId: string, materialId: string | null): Members => ({
  KeyId: usedKeyArn(call, keyId),
  ...(materialId === null ? {} : { KeyMaterialId: materialId }),
});

export const IMPORT_ACTIONS: AwsActions = {
  async GetParametersForImport(call) {
    const reference = keyRef(call);
    const wrappingAlgorithm = wrappingAlgorithmOf(call.input);
    const wrappingKeySpec = wrappingKeySpecOf(call.input);
    const parameters = await call.keyhaven.imports.getImportParameters(call.ctx, reference, {
      wrappingAlgorithm,
      wrappingKeySpec,
    });
    return {
      KeyId: usedKeyArn(call, parameters.keyId),
      ImportToken: blob(Buffer.from(parameters.importToken, 'utf8')),
      PublicKey: blob(parameters.wrappingPublicKeySpki),
      ParametersValidTo: epochSeconds(parameters.expiresAt),
    };
  },

  async ImportKeyMaterial(call) {
    const { input } = call;
    const reference = keyRef(call);
    const importToken = requiredBlob(input, 'ImportToken', MAX_CIPHERTEXT_BYTES).toString('utf8');
    const encryptedKeyMaterial = requiredBlob(input, 'EncryptedKeyMaterial', MAX_CIPHERTEXT_BYTES);
    const expiresAt = expiryOf(input);
    const importType = optionalEnum(input, 'ImportType', [
      'NEW_KEY_MATERIAL',
      'EXISTING_KEY_MATERIAL',
    ] as const);
    const expectedMaterialId = keyMaterialId(input);
    if (importType === 'NEW_KEY_MATERIAL' && expectedMaterialId !== undefined) {
      throw validationError('KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL');
    }
    if (input.KeyMaterialDescription !== undefined && input.KeyMaterialDescription !== null) {
      throw unsupportedOperation('KeyMaterialDescription is not kept by Keyhaven; omit it');
    }
    const key = await call.keyhaven.imports.importKeyMaterial(call.ctx, reference, {
      importToken,
      encryptedKeyMaterial,
      expiresAt,
      ...(importType ? { importType } : {}),
      ...(expectedMaterialId ? { expectedMaterialId } : {}),
    });
    return materialReply(call, key.keyId, key.keyMaterialId);
  },

  async DeleteImportedKeyMaterial(call) {
    const reference = keyRef(call);
    const expectedMaterialId = keyMaterialId(call.input);
    const key = await call.keyhaven.imports.deleteImportedKeyMaterial(
      call.ctx,
      reference,
      expectedMaterialId,
    );
    return materialReply(call, key.keyId, key.keyMaterialId);
  },
};
