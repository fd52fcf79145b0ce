// Data keys for envelope encryption: GenerateDataKey(WithoutPlaintext) and
// GenerateDataKeyPair(WithoutPlaintext), sealed under a symmetric key as REST's /v1/datakey routes.
import { DATA_KEY_PAIR_SPECS, DATA_KEY_SPECS, type DataKeySize } from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import { validationError } from '../../../domain/errors.js';
import { blob, optionalContext, optionalEnum, optionalInteger, requiredEnum, type Members } from '../wire.js';
import { keyRef, usedKeyArn, type ActionCall, type AwsActions } from './action-call.js';
import { checkCommonMembers } from './common-members.js';
import { optionalRecipient } from './recipient.js';

/** GenerateDataKey's size: KeySpec or NumberOfBytes, not both, not neither (as AWS). */
function dataKeySize(input: Members): DataKeySize {
  const keySpec = optionalEnum(input, 'KeySpec', DATA_KEY_SPECS);
  const bytes = optionalInteger(input, 'NumberOfBytes', 1, LIMITS.dataKeyBytes);
  if ((keySpec === undefined) === (bytes === undefined)) {
    throw validationError('Please specify either number of bytes or key spec.');
  }
  return keySpec ?? { bytes: bytes! };
}

async function generateDataKey(call: ActionCall, withoutPlaintext: boolean): Promise<Members> {
  // GenerateDataKeyWithoutPlaintext has no Recipient member (AWS): refused there.
  checkCommonMembers(call.input, !withoutPlaintext);
  const recipient = optionalRecipient(call.input);
  if (recipient) {
    const bound = await call.keyhaven.recipients.generateDataKey(
      call.ctx,
      recipient,
      keyRef(call),
      dataKeySize(call.input),
      optionalContext(call.input),
    );
    return {
      CiphertextBlob: blob(bound.ciphertext),
      KeyId: usedKeyArn(call, bound.keyId),
      CiphertextForRecipient: blob(bound.ciphertextForRecipient),
    };
  }
  const result = await call.keyhaven.crypto.generateDataKey(
    call.ctx,
    keyRef(call),
    dataKeySize(call.input),
    optionalContext(call.input),
    withoutPlaintext,
  );
  try {
    return {
      CiphertextBlob: blob(result.ciphertext),
      KeyId: usedKeyArn(call, result.keyId),
      ...(result.plaintext ? { Plaintext: blob(result.plaintext) } : {}),
    };
  } finally {
    result.plaintext?.fill(0);
  }
}

async function generateDataKeyPair(call: ActionCall, withoutPlaintext: boolean): Promise<Members> {
  checkCommonMembers(call.input, !withoutPlaintext);
  const keyPairSpec = requiredEnum(call.input, 'KeyPairSpec', DATA_KEY_PAIR_SPECS);
  const recipient = optionalRecipient(call.input);
  if (recipient) {
    const bound = await call.keyhaven.recipients.generateDataKeyPair(
      call.ctx,
      recipient,
      keyRef(call),
      keyPairSpec,
      optionalContext(call.input),
    );
    return {
      PrivateKeyCiphertextBlob: blob(bound.ciphertext),
      PublicKey: blob(bound.publicKey),
      KeyId: usedKeyArn(call, bound.keyId),
      KeyPairSpec: bound.keyPairSpec,
      CiphertextForRecipient: blob(bound.ciphertextForRecipient),
    };
  }
  const result = await call.keyhaven.crypto.generateDataKeyPair(
    call.ctx,
    keyRef(call),
    keyPairSpec,
    optionalContext(call.input),
    withoutPlaintext,
  );
  try {
    return {
      PrivateKeyCiphertextBlob: blob(result.ciphertext),
      ...(result.privateKeyPlaintext ? { PrivateKeyPlaintext: blob(result.privateKeyPlaintext) } : {}),
      PublicKey: blob(result.publicKey),
      KeyId: usedKeyArn(call, result.keyId),
      KeyPairSpec: result.keyPairSpec,
    };
  } finally {
    result.privateKeyPlaintext?.fill(0);
  }
}

export const DATA_KEY_ACTIONS: AwsActions = {
  GenerateDataKey: (call) => generateDataKey(call, false),
  GenerateDataKeyWithoutPlaintext: (call) => generateDataKey(call, true),
  GenerateDataKeyPair: (call) => generateDataKeyPair(call, false),
  GenerateDataKeyPairWithoutPlaintext: (call) => generateDataKeyPair(call, true),
};
