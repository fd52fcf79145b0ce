// AWS Nitro Enclaves attestation documents: a COSE_Sign1 (RFC 9052 §4.2) whose payload is a CBOR
// map (module_id, digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce),
// signed ES384 by `certificate`, which chains through `cabundle` (root first) to a trust anchor.
// What AWS KMS checks before it honours a Recipient, done with node:crypto's X509Certificate.
import { verify, X509Certificate } from 'node:crypto';
import { decodeCbor, isCborTagged, type CborValue } from '../domain/cbor.js';
import { validationError } from '../domain/errors.js';

export interface AttestationClaims {
  moduleId: string;
  /** Milliseconds since the epoch, as the enclave's hypervisor wrote them. */
  timestamp: number;
  /** PCR index to its value (48 bytes for SHA-384). */
  pcrs: ReadonlyMap<number, Buffer>;
  /** The enclave's public key (DER SubjectPublicKeyInfo), when the document carries one. */
  publicKey?: Buffer;
}

/** COSE alg ES384 (RFC 9053 §2.1); the only one Nitro uses. */
const COSE_ALG_ES384 = -35;
const COSE_SIGN1_TAG = 18;
const MAX_CHAIN = 8;

const refused = (why: string) => validationError(`the attestation document is not valid: ${why}`);

function field(map: Map<CborValue, CborValue>, name: string): CborValue {
  if (!map.has(name)) throw refused(`it has no ${name}`);
  return map.get(name);
}

function bytes(value: CborValue, name: string): Buffer {
  if (!Buffer.isBuffer(value)) throw refused(`${name} is not a byte string`);
  return value;
}

function certificate(der: Buffer, name: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw refused(`${name} is not an X.509 certificate`);
  }
}

/**
 * The claims of a document whose signature and certificate chain verify against one of `anchors`
 * at `now`; ValidationError naming the first problem otherwise.
 */
export function verifyAttestationDocument(
  document: Buffer,
  anchors: readonly X509Certificate[],
  now: Date,
): AttestationClaims {
  let cose = decodeCbor(document, 'the attestation document');
  if (isCborTagged(cose) && cose.tag === COSE_SIGN1_TAG) cose = cose.value;
  if (!Array.isArray(cose) || cose.length !== 4) throw refused('it is not a COSE_Sign1 structure');
  const [protectedHeader, , payloadValue, signatureValue] = cose;
  const protectedBytes = bytes(protectedHeader, 'the protected header');
  const header = protectedBytes.length === 0 ? new Map() : decodeCbor(protectedBytes, 'the protected header');
  if (!(header instanceof Map) || header.get(1) !== COSE_ALG_ES384)
    throw refused('its algorithm is not ES384');
  const payload = bytes(payloadValue, 'the payload');
  const signature = bytes(signatureValue, 'the signature');

  const claims = decodeCbor(payload, 'the attestation payload');
  if (!(claims instanceof Map)) throw refused('its payload is not a map');
  const moduleId = field(claims, 'module_id');
  const timestamp = field(claims, 'timestamp');
  if (typeof moduleId !== 'string' || moduleId === '') throw refused('module_id is not text');
  if (typeof timestamp !== 'number') throw refused('timestamp is not an integer');
  if (field(claims, 'digest') !== 'SHA384') throw refused('digest is not SHA384');

  const leaf = certificate(bytes(field(claims, 'certificate'), 'certificate'), 'certificate');
  const bundle = field(claims, 'cabundle');
  if (!Array.isArray(bundle) || bundle.length === 0 || bundle.length > MAX_CHAIN)
    throw refused(`cabundle is not a list of 1 to ${MAX_CHAIN} certificates`);
  const chain = bundle.map((der, i) => certificate(bytes(der, `cabundle[${i}]`), `cabundle[${i}]`));
  verifyChain([...chain, leaf], anchors, now);
  // ES384 is ECDSA on P-384: a leaf with another key would have crypto.verify check another scheme.
  const leafKey = leaf.publicKey;
  if (leafKey.asymmetricKeyType !== 'ec' || leafKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw refused('its certificate does not hold a P-384 key');

  // Sig_structure (RFC 9052 §4.4): ["Signature1", protected, external_aad = h'', payload].
  const toBeSigned = encodeSigStructure(protectedBytes, payload);
  const signed = verify('sha384', toBeSigned, { key: leafKey, dsaEncoding: 'ieee-p1363' }, signature);
  if (!signed) throw refused('its signature does not verify with its certificate');

  return { moduleId, timestamp, pcrs: pcrsOf(field(claims, 'pcrs')), ...publicKeyOf(claims) };
}

function pcrsOf(value: CborValue): Map<number, Buffer> {
  if (!(value instanceof Map) || value.size === 0 || value.size > 32)
    throw refused('pcrs is not a map of 1 to 32 PCRs');
  const pcrs = new Map<number, Buffer>();
  for (const [index, pcr] of value) {
    if (typeof index !== 'number' || index < 0 || index > 31) throw refused('a PCR index is not 0 to 31');
    const digest = bytes(pcr, `PCR${index}`);
    if (![32, 48, 64].includes(digest.length)) throw refused(`PCR${index} is not a SHA-2 digest`);
    pcrs.set(index, digest);
  }
  return pcrs;
}

function publicKeyOf(claims: Map<CborValue, CborValue>): { publicKey?: Buffer } {
  const value = claims.get('public_key');
  if (value === undefined || value === null) return {};
  return { publicKey: bytes(value, 'public_key') };
}

/**
 * chain[0] is a trust anchor, or is issued by one; each next certificate is issued by the one before
 * it, which must be a CA; every certificate is valid at `now`.
 */
function verifyChain(
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: Date,
): void {
  const [first] = chain;
  const anchored = anchors.some(
    (anchor) =>
      first!.raw.equals(anchor.raw) ||
      (anchor.ca && first!.checkIssued(anchor) && first!.verify(anchor.publicKey)),
  );
  if (!anchored) throw refused('its certificate chain does not lead to a configured attestation root');
  for (const [i, cert] of chain.entries()) {
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo))
      throw refused(`a certificate of its chain is not valid now (position ${i})`);
    if (i === 0) continue;
    const issuer = chain[i - 1]!;
    if (!issuer.ca || !cert.checkIssued(issuer) || !cert.verify(issuer.publicKey))
      throw refused(`its certificate chain is broken at position ${i}`);
  }
}

/** CBOR of ["Signature1", protected, h'', payload]: the one structure this module encodes. */
function encodeSigStructure(protectedBytes: Buffer, payload: Buffer): Buffer {
  const head = (major: number, length: number): Buffer => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
    if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
    const out = Buffer.alloc(5);
    out[0] = (major << 5) | 26;
    out.writeUInt32BE(length, 1);
    return out;
  };
  const context = Buffer.from('Signature1', 'utf8');
  return Buffer.concat([
    head(4, 4),
    head(3, context.length),
    context,
    head(2, protectedBytes.length),
    protectedBytes,
    head(2, 0),
    head(2, payload.length),
    payload,
  ]);
}
