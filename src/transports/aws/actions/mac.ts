// HMAC: GenerateMac and VerifyMac (a MAC that does not verify answers KMSInvalidMacException, as
// AWS), through REST's service methods.
import { MAC_ALGORITHMS } from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import { AwsActionError, RESULT_ERRORS } from '../aws-errors.js';
import { blob, requiredBlob, requiredEnum, type Members } from '../wire.js';
import { keyRef, usedKeyArn, type AwsActions } from './action-call.js';
import { checkCommonMembers } from './common-members.js';

/** AWS's Mac member is a ciphertext-typed blob: up to 6144 bytes. */
const MAC_BYTES = LIMITS.ciphertextBytes;

function macInput(input: Members) {
  checkCommonMembers(input);
  return {
    message: requiredBlob(input, 'Message', LIMITS.macMessageBytes),
    algorithm: requiredEnum(input, 'MacAlgorithm', MAC_ALGORITHMS),
  };
}

export const MAC_ACTIONS: AwsActions = {
  async GenerateMac(call) {
    const { message, algorithm } = macInput(call.input);
    const result = await call.keyhaven.crypto.generateMac(call.ctx, keyRef(call), message, algorithm);
    return {
      Mac: blob(result.mac),
      MacAlgorithm: result.algorithm,
      KeyId: usedKeyArn(call, result.keyId),
    };
  },

  async VerifyMac(call) {
    const { message, algorithm } = macInput(call.input);
    const mac = requiredBlob(call.input, 'Mac', MAC_BYTES);
    const result = await call.keyhaven.crypto.verifyMac(call.ctx, keyRef(call), message, mac, algorithm);
    if (!result.valid) throw new AwsActionError(RESULT_ERRORS.invalidMac, 'the MAC does not verify');
    return {
      KeyId: usedKeyArn(call, result.keyId),
      MacValid: true,
      MacAlgorithm: result.algorithm,
    };
  },
};
