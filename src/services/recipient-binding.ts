// Recipient-bound results (docs/api.md "Recipient-bound results", AWS KMS's Recipient): Decrypt,
// GenerateDataKey, GenerateDataKeyPair and GenerateRandom through the same CryptoService methods as ever, their plaintext
// then sealed as CMS EnvelopedData to the recipient's RSA key and zeroized. The recipient is checked
// first (a bad key or document fails before any key is touched), and becomes a request fact that the
// policies (keyhaven:RecipientBound, kms:RecipientAttestation:*) and the audit record see.
import type { KeyObject, X509Certificate } from 'node:crypto';
import { envelopeForRecipient } from '../crypto/cms-enveloped-data.js';
import { publicKeyFromSpki, zeroize } from '../crypto/key-material.js';
import { verifyAttestationDocument } from '../crypto/nitro-attestation.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import { validationError } from '../domain/errors.js';
import type { DataKeyPairSpec, DataKeySize } from '../domain/key-spec.js';
import {
  RECIPIENT_MAX_MODULUS_BITS,
  RECIPIENT_MIN_MODULUS_BITS,
  type RecipientFacts,
  type RecipientInput,
} from '../domain/recipient.js';
import type { RequestContext } from '../domain/request-context.js';
import type { RsaEncryptionAlgorithm } from '../ports/key-backend.js';
import type { Clock } from '../ports/clock.js';
import type { CryptoService } from './crypto-service.js';

export interface VerifiedRecipient {
  publicKey: KeyObject;
  facts: RecipientFacts;
}

export interface RecipientDecryptResult {
  keyId: string;
  keyVersion: number;
  ciphertextForRecipient: Buffer;
}

export interface RecipientDataKeyResult extends RecipientDecryptResult {
  ciphertext: Buffer;
}

export class RecipientBinding {
  constructor(
    private readonly crypto: CryptoService,
    /** recipient.attestationRoots; none: attestation documents are refused. */
    private readonly attestationRoots: readonly X509Certificate[],
    private readonly clock: Clock,
  ) {}

  async decrypt(
    ctx: RequestContext,
    recipient: RecipientInput,
    ciphertext: Buffer,
    context?: EncryptionContext,
    expectedKeyId?: string,
  ): Promise<RecipientDecryptResult> {
    const bound = this.bind(ctx, recipient);
    const result = await this.crypto.decrypt(ctx, ciphertext, context, expectedKeyId);
    return { keyId: result.keyId, keyVersion: result.keyVersion, ...sealed(bound, result.plaintext) };
  }

  async asymmetricDecrypt(
    ctx: RequestContext,
    recipient: RecipientInput,
    keyId: string,
    ciphertext: Buffer,
    algorithm: RsaEncryptionAlgorithm,
  ): Promise<RecipientDecryptResult> {
    const bound = this.bind(ctx, recipient);
    const result = await this.crypto.asymmetricDecrypt(ctx, keyId, ciphertext, algorithm);
    return { keyId: result.keyId, keyVersion: result.keyVersion, ...sealed(bound, result.plaintext) };
  }

  async generateDataKey(
    ctx: RequestContext,
    recipient: RecipientInput,
    keyId: string,
    size?: DataKeySize,
    context?: EncryptionContext,
  ): Promise<RecipientDataKeyResult> {
    const bound = this.bind(ctx, recipient);
    const result = await this.crypto.generateDataKey(ctx, keyId, size, context);
    return {
      keyId: result.keyId,
      keyVersion: result.keyVersion,
      ciphertext: result.ciphertext,
      ...sealed(bound, result.plaintext!),
    };
  }

  /** The private key (PKCS#8 DER) sealed to the recipient, beside its ciphertext and public key. */
  async generateDataKeyPair(
    ctx: RequestContext,
    recipient: RecipientInput,
    keyId: string,
    keyPairSpec: DataKeyPairSpec,
    context?: EncryptionContext,
  ): Promise<RecipientDataKeyResult & { keyPairSpec: DataKeyPairSpec; publicKey: Buffer }> {
    const bound = this.bind(ctx, recipient);
    const result = await this.crypto.generateDataKeyPair(ctx, keyId, keyPairSpec, context);
    return {
      keyId: result.keyId,
      keyVersion: result.keyVersion,
      ciphertext: result.ciphertext,
      keyPairSpec: result.keyPairSpec,
      publicKey: result.publicKey,
      ...sealed(bound, result.privateKeyPlaintext!),
    };
  }

  async random(ctx: RequestContext, recipient: RecipientInput, bytes: number): Promise<Buffer> {
    const bound = this.bind(ctx, recipient);
    return sealed(bound, await this.crypto.random(ctx, bytes)).ciphertextForRecipient;
  }

  /** The recipient's key, checked; its facts join the request's before it is authorized. */
  private bind(ctx: RequestContext, recipient: RecipientInput): VerifiedRecipient {
    const verified = this.verify(recipient);
    ctx.facts.recipient = verified.facts;
    return verified;
  }

  verify(recipient: RecipientInput): VerifiedRecipient {
    const { publicKey, attestationDocument } = recipient;
    if ((publicKey === undefined) === (attestationDocument === undefined)) {
      throw validationError('a recipient is a public key or an attestation document, exactly one of them');
    }
    if (publicKey !== undefined) return { publicKey: recipientKey(publicKey), facts: { attested: false } };
    if (this.attestationRoots.length === 0) {
      throw validationError(
        'attestation documents are not accepted: this server has no recipient.attestationRoots configured',
      );
    }
    const claims = verifyAttestationDocument(attestationDocument!, this.attestationRoots, this.clock.now());
    if (!claims.publicKey) throw validationError('the attestation document carries no public_key');
    const pcrs: Record<number, string> = {};
    for (const [index, value] of claims.pcrs) pcrs[index] = value.toString('hex');
    return { publicKey: recipientKey(claims.publicKey), facts: { attested: true, pcrs } };
  }
}

/** An RSA public key of 2048 to 4096 bits, as AWS KMS takes for a recipient. */
function recipientKey(spki: Buffer): KeyObject {
  const key = publicKeyFromSpki(spki);
  const bits = key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits === undefined) throw validationError('the recipient key is not an RSA key');
  if (bits < RECIPIENT_MIN_MODULUS_BITS || bits > RECIPIENT_MAX_MODULUS_BITS) {
    throw validationError(
      `the recipient key has ${bits} bits; RSA keys of ${RECIPIENT_MIN_MODULUS_BITS} to ${RECIPIENT_MAX_MODULUS_BITS} bits are accepted`,
    );
  }
  return key;
}

/** The plaintext sealed to the recipient, then zeroized: it never leaves in the clear. */
function sealed(recipient: VerifiedRecipient, plaintext: Buffer): { ciphertextForRecipient: Buffer } {
  try {
    return { ciphertextForRecipient: envelopeForRecipient(recipient.publicKey, plaintext) };
  } finally {
    zeroize(plaintext);
  }
}
