// Signatures and public keys: Sign, Verify (a signature that does not verify answers
// KMSInvalidSignatureException, as AWS) and GetPublicKey, through REST's service methods.
import { KmsError, unsupportedOperation, validationError } from '../../../domain/errors.js';
import {
  encryptionAlgorithmsFor,
  signingAlgorithmsFor,
  SIGNING_ALGORITHMS,
} from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import type { MessageType } from '../../../ports/key-backend.js';
import { AwsActionError, RESULT_ERRORS } from '../aws-errors.js';
import { blob, optionalEnum, requiredBlob, requiredEnum, type Members } from '../wire.js';
import { keyRef, usedKeyArn, type AwsActions } from './action-call.js';
import { checkCommonMembers } from './common-members.js';

function messageType(input: Members): MessageType {
  const type = optionalEnum(input, 'MessageType', ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const);
  if (type === 'EXTERNAL_MU') {
    throw validationError(
      'MessageType EXTERNAL_MU applies only to ML-DSA keys, which Keyhaven does not serve',
    );
  }
  return type ?? 'RAW';
}

/** What Sign and Verify both read, in AWS's member names. */
function signingInput(input: Members) {
  checkCommonMembers(input);
  return {
    message: requiredBlob(input, 'Message', LIMITS.messageBytes),
    messageType: messageType(input),
    algorithm: requiredEnum(input, 'SigningAlgorithm', SIGNING_ALGORITHMS),
  };
}

export const ASYMMETRIC_ACTIONS: AwsActions = {
  async Sign(call) {
    const { message, messageType: type, algorithm } = signingInput(call.input);
    const result = await call.keyhaven.crypto.sign(call.ctx, keyRef(call), message, algorithm, type);
    return {
      KeyId: usedKeyArn(call, result.keyId),
      Signature: blob(result.signature),
      SigningAlgorithm: result.algorithm,
    };
  },

  async Verify(call) {
    const { message, messageType: type, algorithm } = signingInput(call.input);
    const signature = requiredBlob(call.input, 'Signature', LIMITS.signatureBytes);
    const result = await call.keyhaven.crypto.verify(
      call.ctx,
      keyRef(call),
      message,
      signature,
      algorithm,
      type,
    );
    if (!result.valid) {
      throw new AwsActionError(RESULT_ERRORS.invalidSignature, 'the signature does not verify');
    }
    return {
      KeyId: usedKeyArn(call, result.keyId),
      SignatureValid: true,
      SigningAlgorithm: result.algorithm,
    };
  },

  async GetPublicKey(call) {
    checkCommonMembers(call.input);
    let view;
    try {
      view = await call.keyhaven.keys.getPublicKey(call.ctx, keyRef(call));
    } catch (error) {
      // AWS answers a symmetric or HMAC key's GetPublicKey with UnsupportedOperationException.
      if (error instanceof KmsError && error.code === 'KeyUsageMismatch') {
        throw unsupportedOperation(error.message);
      }
      throw error;
    }
    return {
      KeyId: usedKeyArn(call, view.keyId),
      PublicKey: blob(view.spki),
      CustomerMasterKeySpec: view.keySpec,
      KeySpec: view.keySpec,
      KeyUsage: view.keyUsage,
      ...(view.keyUsage === 'ENCRYPT_DECRYPT'
        ? { EncryptionAlgorithms: encryptionAlgorithmsFor(view.keySpec) }
        : {}),
      ...(view.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: signingAlgorithmsFor(view.keySpec) } : {}),
      ...(view.keyUsage === 'KEY_AGREEMENT' ? { KeyAgreementAlgorithms: ['ECDH'] } : {}),
    };
  },
};
