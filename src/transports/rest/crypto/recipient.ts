// The `recipient` member of REST's decrypt, datakey and random bodies (docs/api.md "Recipient-bound
// results"): its schema, and the service's RecipientInput from it.
import { RECIPIENT_KEY_ENCRYPTION_ALGORITHMS, type RecipientInput } from '../../../domain/recipient.js';
import { base64Bounded } from '../schemas.js';
import { fromB64 } from '../views.js';

/** A 4096-bit RSA SubjectPublicKeyInfo is 550 bytes; Nitro attestation documents are about 4.5 kB. */
const MAX_PUBLIC_KEY_BYTES = 2048;
const MAX_ATTESTATION_DOCUMENT_BYTES = 16_384;

export interface RecipientBody {
  publicKey?: string;
  attestationDocument?: string;
  keyEncryptionAlgorithm?: (typeof RECIPIENT_KEY_ENCRYPTION_ALGORITHMS)[number];
}

export const recipientField = {
  type: 'object',
  description:
    'Seal the result to this RSA key (DER SubjectPublicKeyInfo, base64) or to the public_key of this ' +
    'attestation document (AWS Nitro COSE_Sign1, base64): exactly one of the two. The reply then ' +
    'carries ciphertextForRecipient, CMS EnvelopedData, instead of the plaintext.',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    publicKey: base64Bounded(MAX_PUBLIC_KEY_BYTES, 1),
    attestationDocument: base64Bounded(MAX_ATTESTATION_DOCUMENT_BYTES, 1),
    keyEncryptionAlgorithm: { type: 'string', enum: [...RECIPIENT_KEY_ENCRYPTION_ALGORITHMS] },
  },
} as const;

export function recipientInputOf(body: RecipientBody): RecipientInput {
  return {
    ...(body.publicKey === undefined ? {} : { publicKey: fromB64(body.publicKey, 'recipient.publicKey') }),
    ...(body.attestationDocument === undefined
      ? {}
      : { attestationDocument: fromB64(body.attestationDocument, 'recipient.attestationDocument') }),
    ...(body.keyEncryptionAlgorithm === undefined
      ? {}
      : { keyEncryptionAlgorithm: body.keyEncryptionAlgorithm }),
  };
}
