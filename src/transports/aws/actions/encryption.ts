// Symmetric encryption, data keys and random bytes: Encrypt, Decrypt, GenerateDataKey(WithoutPlaintext),
// GenerateRandom.
import { DATA_KEY_SPECS } from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import { unsupportedOperation, validationError } from '../../../domain/errors.js';
import { keyReference } from '../key-references.js';
import {
  blob,
  optionalContext,
  optionalEnum,
  optionalInteger,
  optionalString,
  requiredBlob,
  type Members,
} from '../wire.js';
import { checkGrantTokens, keyRef, usedKeyArn, type ActionCall, type AwsActions } from './action-call.js';

function onlySymmetricDefault(input: Members): void {
  const algorithm = optionalString(input, 'EncryptionAlgorithm', 64);
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw unsupportedOperation(`EncryptionAlgorithm ${algorithm} is not served by the AWS dialect yet`);
  }
}

/** GenerateDataKey's size: KeySpec or NumberOfBytes, not both, not neither (as AWS). */
function dataKeySpec(input: Members): 'AES_128' | 'AES_256' {
  const keySpec = optionalEnum(input, 'KeySpec', DATA_KEY_SPECS);
  const bytes = optionalInteger(input, 'NumberOfBytes', 1, 1024);
  if ((keySpec === undefined) === (bytes === undefined)) {
    throw validationError('Please specify either number of bytes or key spec.');
  }
  if (keySpec !== undefined) return keySpec;
  if (bytes === 16) return 'AES_128';
  if (bytes === 32) return 'AES_256';
  throw unsupportedOperation('NumberOfBytes other than 16 or 32 is not served by the AWS dialect yet');
}

async function generateDataKey(call: ActionCall, withoutPlaintext: boolean): Promise<Members> {
  checkGrantTokens(call);
  const spec = dataKeySpec(call.input);
  const result = await call.keyhaven.crypto.generateDataKey(
    call.ctx,
    keyRef(call),
    spec,
    optionalContext(call.input),
    withoutPlaintext,
  );
  return {
    CiphertextBlob: blob(result.ciphertext),
    KeyId: usedKeyArn(call, result.keyId),
    ...(result.plaintext ? { Plaintext: blob(result.plaintext) } : {}),
  };
}

export const ENCRYPTION_ACTIONS: AwsActions = {
  async Encrypt(call) {
    checkGrantTokens(call);
    onlySymmetricDefault(call.input);
    const result = await call.keyhaven.crypto.encrypt(
      call.ctx,
      keyRef(call),
      requiredBlob(call.input, 'Plaintext', LIMITS.plaintextBytes),
      optionalContext(call.input),
    );
    return {
      CiphertextBlob: blob(result.ciphertext),
      KeyId: usedKeyArn(call, result.keyId),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },

  async Decrypt(call) {
    checkGrantTokens(call);
    onlySymmetricDefault(call.input);
    const keyId = optionalString(call.input, 'KeyId', 2048);
    const result = await call.keyhaven.crypto.decrypt(
      call.ctx,
      requiredBlob(call.input, 'CiphertextBlob', LIMITS.ciphertextBytes),
      optionalContext(call.input),
      keyId === undefined ? undefined : keyReference(keyId, call.ctx.tenant, call.arns),
    );
    return {
      KeyId: usedKeyArn(call, result.keyId),
      Plaintext: blob(result.plaintext),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },

  GenerateDataKey: (call) => generateDataKey(call, false),
  GenerateDataKeyWithoutPlaintext: (call) => generateDataKey(call, true),

  async GenerateRandom(call) {
    const bytes = optionalInteger(call.input, 'NumberOfBytes', 1, 1024);
    if (bytes === undefined) throw validationError('NumberOfBytes is required');
    if (optionalString(call.input, 'CustomKeyStoreId') !== undefined) {
      throw unsupportedOperation('custom key stores are not served by Keyhaven');
    }
    return { Plaintext: blob(await call.keyhaven.crypto.random(call.ctx, bytes)) };
  },
};
