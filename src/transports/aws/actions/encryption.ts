// Encryption: Encrypt, Decrypt, ReEncrypt (SYMMETRIC_DEFAULT on AES keys, RSAES-OAEP on RSA
// ENCRYPT_DECRYPT keys through the same service methods as REST's /v1/asymmetric routes), and
// GenerateRandom; Decrypt and GenerateRandom with a Recipient through the RecipientBinding service.
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../../../domain/key-spec.js';
import type { EncryptionContext } from '../../../domain/encryption-context.js';
import { LIMITS } from '../../../domain/limits.js';
import { unsupportedOperation, validationError } from '../../../domain/errors.js';
import type { RsaEncryptionAlgorithm } from '../../../ports/key-backend.js';
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
import { keyRef, usedKeyArn, type ActionCall, type AwsActions } from './action-call.js';
import { checkCommonMembers } from './common-members.js';
import { optionalRecipient } from './recipient.js';

const encryptionAlgorithm = (input: Members, name: string): EncryptionAlgorithm =>
  optionalEnum(input, name, ENCRYPTION_ALGORITHMS) ?? 'SYMMETRIC_DEFAULT';

const isRsa = (algorithm: EncryptionAlgorithm): algorithm is RsaEncryptionAlgorithm =>
  algorithm !== 'SYMMETRIC_DEFAULT';

/** An RSA ciphertext binds no context: one given would be silently unauthenticated. */
function noContext(context: EncryptionContext | undefined, algorithm: EncryptionAlgorithm): void {
  if (context !== undefined) {
    throw validationError(`EncryptionContext is supported only with SYMMETRIC_DEFAULT, not ${algorithm}`);
  }
}

/** An optional key reference member (Decrypt's KeyId, ReEncrypt's SourceKeyId) as the services take it. */
function optionalKeyRef(call: ActionCall, name: string): string | undefined {
  const value = optionalString(call.input, name, 2048);
  return value === undefined ? undefined : keyReference(value, call.ctx.tenant, call.arns);
}

export const ENCRYPTION_ACTIONS: AwsActions = {
  async Encrypt(call) {
    checkCommonMembers(call.input);
    const algorithm = encryptionAlgorithm(call.input, 'EncryptionAlgorithm');
    const plaintext = requiredBlob(call.input, 'Plaintext', LIMITS.plaintextBytes);
    const context = optionalContext(call.input);
    if (isRsa(algorithm)) noContext(context, algorithm);
    const result = isRsa(algorithm)
      ? await call.keyhaven.crypto.asymmetricEncrypt(call.ctx, keyRef(call), plaintext, algorithm)
      : await call.keyhaven.crypto.encrypt(call.ctx, keyRef(call), plaintext, context);
    return {
      CiphertextBlob: blob(result.ciphertext),
      KeyId: usedKeyArn(call, result.keyId),
      EncryptionAlgorithm: algorithm,
    };
  },

  async Decrypt(call) {
    checkCommonMembers(call.input, true);
    const algorithm = encryptionAlgorithm(call.input, 'EncryptionAlgorithm');
    const ciphertext = requiredBlob(call.input, 'CiphertextBlob', LIMITS.ciphertextBytes);
    const context = optionalContext(call.input);
    const keyId = optionalKeyRef(call, 'KeyId');
    const recipient = optionalRecipient(call.input);
    // An RSA ciphertext names no key (AWS: KeyId is required for asymmetric ciphertexts).
    if (isRsa(algorithm)) {
      if (keyId === undefined)
        throw validationError(`KeyId is required with EncryptionAlgorithm ${algorithm}`);
      noContext(context, algorithm);
    }
    if (recipient) {
      const { recipients } = call.keyhaven;
      const bound = isRsa(algorithm)
        ? await recipients.asymmetricDecrypt(call.ctx, recipient, keyId!, ciphertext, algorithm)
        : await recipients.decrypt(call.ctx, recipient, ciphertext, context, keyId);
      return {
        KeyId: usedKeyArn(call, bound.keyId),
        CiphertextForRecipient: blob(bound.ciphertextForRecipient),
        EncryptionAlgorithm: algorithm,
      };
    }
    const result = isRsa(algorithm)
      ? await call.keyhaven.crypto.asymmetricDecrypt(call.ctx, keyId!, ciphertext, algorithm)
      : await call.keyhaven.crypto.decrypt(call.ctx, ciphertext, context, keyId);
    try {
      return {
        KeyId: usedKeyArn(call, result.keyId),
        Plaintext: blob(result.plaintext),
        EncryptionAlgorithm: algorithm,
      };
    } finally {
      result.plaintext.fill(0);
    }
  },

  async ReEncrypt(call) {
    checkCommonMembers(call.input);
    const { input } = call;
    const sourceAlgorithm = encryptionAlgorithm(input, 'SourceEncryptionAlgorithm');
    const destinationAlgorithm = encryptionAlgorithm(input, 'DestinationEncryptionAlgorithm');
    const ciphertext = requiredBlob(input, 'CiphertextBlob', LIMITS.ciphertextBytes);
    const sourceKeyId = optionalKeyRef(call, 'SourceKeyId');
    const destinationKeyId = keyRef(call, 'DestinationKeyId');
    if (isRsa(sourceAlgorithm) && sourceKeyId === undefined) {
      throw validationError(`SourceKeyId is required with SourceEncryptionAlgorithm ${sourceAlgorithm}`);
    }
    const result = await call.keyhaven.crypto.reencrypt(
      call.ctx,
      ciphertext,
      optionalContext(input, 'SourceEncryptionContext'),
      destinationKeyId,
      optionalContext(input, 'DestinationEncryptionContext'),
      {
        ...(sourceKeyId === undefined ? {} : { sourceKeyId }),
        sourceAlgorithm,
        destinationAlgorithm,
      },
    );
    return {
      CiphertextBlob: blob(result.ciphertext),
      SourceKeyId: usedKeyArn(call, result.sourceKeyId),
      KeyId: usedKeyArn(call, result.keyId),
      SourceEncryptionAlgorithm: result.sourceAlgorithm,
      DestinationEncryptionAlgorithm: result.destinationAlgorithm,
    };
  },

  async GenerateRandom(call) {
    checkCommonMembers(call.input, true);
    const bytes = optionalInteger(call.input, 'NumberOfBytes', 1, LIMITS.randomBytes);
    if (bytes === undefined) throw validationError('NumberOfBytes is required');
    if (optionalString(call.input, 'CustomKeyStoreId') !== undefined) {
      throw unsupportedOperation('custom key stores are not served by Keyhaven');
    }
    const recipient = optionalRecipient(call.input);
    if (recipient) {
      const sealed = await call.keyhaven.recipients.random(call.ctx, recipient, bytes);
      return { CiphertextForRecipient: blob(sealed) };
    }
    return { Plaintext: blob(await call.keyhaven.crypto.random(call.ctx, bytes)) };
  },
};
