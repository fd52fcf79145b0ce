// AWS's Recipient member (RecipientInfo: KeyEncryptionAlgorithm, AttestationDocument) on Decrypt,
// GenerateDataKey and GenerateRandom, as the RecipientBinding service takes it; the answer then
// carries CiphertextForRecipient and no Plaintext, as AWS's does.
import { validationError } from '../../../domain/errors.js';
import { RECIPIENT_KEY_ENCRYPTION_ALGORITHMS, type RecipientInput } from '../../../domain/recipient.js';
import { optionalEnum, requiredBlob, type Members } from '../wire.js';

/** Nitro attestation documents are about 4.5 kB; AWS bounds the member at 16 kB. */
const MAX_ATTESTATION_DOCUMENT_BYTES = 16_384;

export function optionalRecipient(input: Members): RecipientInput | undefined {
  const value = input.Recipient;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw validationError(
      "1 validation error detected: Value at 'recipient' failed to satisfy constraint: Member must be a structure",
    );
  }
  const recipient = value as Members;
  const keyEncryptionAlgorithm = optionalEnum(
    recipient,
    'KeyEncryptionAlgorithm',
    RECIPIENT_KEY_ENCRYPTION_ALGORITHMS,
  );
  return {
    attestationDocument: requiredBlob(recipient, 'AttestationDocument', MAX_ATTESTATION_DOCUMENT_BYTES),
    ...(keyEncryptionAlgorithm === undefined ? {} : { keyEncryptionAlgorithm }),
  };
}
