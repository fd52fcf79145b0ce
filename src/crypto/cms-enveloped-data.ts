// CMS EnvelopedData (RFC 5652 §6) to one RSA public key, as AWS KMS returns CiphertextForRecipient:
// one KeyTransRecipientInfo with RSAES-OAEP (SHA-256, MGF1-SHA-256, RFC 8017 / RFC 4055) on a fresh
// AES-256 content-encryption key, the content in AES-256-CBC (RFC 3565). `openssl cms -decrypt`
// opens it with the recipient's private key.
import {
  constants,
  createCipheriv,
  createHash,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import {
  derExplicit,
  derImplicitPrimitive,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSetOf,
  derSmallInteger,
} from './der-writer.js';
import { zeroize } from './key-material.js';

const OID = {
  envelopedData: '1.2.840.113549.1.7.3',
  data: '1.2.840.113549.1.7.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

const sha256Identifier = () => derSequence(derOid(OID.sha256), derNull());

/** RSAES-OAEP-params (RFC 4055 §4.1) with SHA-256 for the hash and for MGF1, the empty label. */
const rsaesOaepSha256Identifier = () =>
  derSequence(
    derOid(OID.rsaesOaep),
    derSequence(
      derExplicit(0, sha256Identifier()),
      derExplicit(1, derSequence(derOid(OID.mgf1), sha256Identifier())),
    ),
  );

/**
 * The recipient is named by subjectKeyIdentifier (there is no certificate to take an issuer and
 * serial number from): RFC 5280 §4.2.1.2 method 1, the SHA-1 of the subjectPublicKey bits, which
 * for RSA are the PKCS#1 RSAPublicKey.
 */
export function subjectKeyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1')
    .update(publicKey.export({ type: 'pkcs1', format: 'der' }))
    .digest();
}

/** The DER ContentInfo of an EnvelopedData holding `content` for `publicKey` (an RSA public key). */
export function envelopeForRecipient(publicKey: KeyObject, content: Buffer): Buffer {
  const contentKey = randomBytes(32);
  const iv = randomBytes(16);
  let encryptedContent: Buffer;
  let encryptedKey: Buffer;
  try {
    // PKCS#7 padding (RFC 5652 §6.3), which node's CBC applies by default.
    const cipher = createCipheriv('aes-256-cbc', contentKey, iv);
    encryptedContent = Buffer.concat([cipher.update(content), cipher.final()]);
    encryptedKey = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      contentKey,
    );
  } finally {
    zeroize(contentKey);
  }
  // KeyTransRecipientInfo version 2: the rid is a subjectKeyIdentifier (RFC 5652 §6.2.1).
  const recipientInfo = derSequence(
    derSmallInteger(2),
    derImplicitPrimitive(0, subjectKeyIdentifier(publicKey)),
    rsaesOaepSha256Identifier(),
    derOctetString(encryptedKey),
  );
  const encryptedContentInfo = derSequence(
    derOid(OID.data),
    derSequence(derOid(OID.aes256Cbc), derOctetString(iv)),
    derImplicitPrimitive(0, encryptedContent),
  );
  // Version 2: a recipient info is not version 0 (RFC 5652 §6.1).
  const envelopedData = derSequence(derSmallInteger(2), derSetOf(recipientInfo), encryptedContentInfo);
  return derSequence(derOid(OID.envelopedData), derExplicit(0, envelopedData));
}
