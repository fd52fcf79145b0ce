// A recipient-bound request (AWS KMS's Recipient, docs/api.md "Recipient-bound results"): the result
// leaves the server only as CMS EnvelopedData to the recipient's RSA key. What the policies and the
// audit record learn of the recipient: whether it came attested, and the attested PCRs.

/** The one key-encryption algorithm AWS KMS (and Keyhaven) offers for a recipient. */
export const RECIPIENT_KEY_ENCRYPTION_ALGORITHMS = ['RSAES_OAEP_SHA_256'] as const;
export type RecipientKeyEncryptionAlgorithm = (typeof RECIPIENT_KEY_ENCRYPTION_ALGORITHMS)[number];

/** RSA keys below this size are refused, as AWS KMS refuses them. */
export const RECIPIENT_MIN_MODULUS_BITS = 2048;
export const RECIPIENT_MAX_MODULUS_BITS = 4096;

/** What a request names its recipient with (a transport decodes the base64). */
export interface RecipientInput {
  /** DER SubjectPublicKeyInfo of an RSA key (Keyhaven's REST extension). */
  publicKey?: Buffer;
  /** A COSE_Sign1 attestation document carrying the key in `public_key` (AWS's). */
  attestationDocument?: Buffer;
  keyEncryptionAlgorithm?: RecipientKeyEncryptionAlgorithm;
}

export interface RecipientFacts {
  /** The key came in an attestation document that verified against a configured root. */
  attested: boolean;
  /** The attested PCRs by index, lowercase hex (PCR0 is the image's SHA-384: ImageSha384). */
  pcrs?: Readonly<Record<number, string>>;
}

/**
 * The value of a recipient condition key (`ImageSha384`, `PCR<n>`) for a request, or undefined
 * when the request has no attested recipient or the document has no such PCR.
 */
export function recipientAttestationValue(
  facts: RecipientFacts | undefined,
  name: string,
): string | undefined {
  if (!facts?.attested || !facts.pcrs) return undefined;
  const index = pcrIndexOf(name);
  return index === undefined ? undefined : facts.pcrs[index];
}

/** `ImageSha384` is PCR0 (AWS KMS); `PCR<n>` for n from 0 to 31. */
export function pcrIndexOf(name: string): number | undefined {
  if (name.toLowerCase() === 'imagesha384') return 0;
  const match = /^pcr(\d{1,2})$/i.exec(name);
  const index = match ? Number(match[1]) : undefined;
  return index !== undefined && index <= 31 && String(index) === match![1] ? index : undefined;
}
