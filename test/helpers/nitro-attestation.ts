// Test-side AWS Nitro attestation documents: a PKI of our own (root CA, intermediate, ES384 leaf,
// made by the openssl CLI), a small CBOR encoder, and COSE_Sign1 documents signed by node:crypto, as
// the Nitro hypervisor signs them. Also an independent CMS EnvelopedData opener (a DER reader and
// node:crypto's RSA-OAEP and AES-CBC) to check the server's CiphertextForRecipient besides openssl.
import { execFileSync } from 'node:child_process';
import {
  createDecipheriv,
  createPrivateKey,
  constants,
  privateDecrypt,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// --- CBOR (RFC 8949), the types a document needs ---------------------------------------------------

export type CborIn =
  number | string | Buffer | null | CborIn[] | Map<CborIn, CborIn> | { tag: number; value: CborIn };

function head(major: number, value: number): Buffer {
  if (value < 24) return Buffer.from([(major << 5) | value]);
  if (value < 0x100) return Buffer.from([(major << 5) | 24, value]);
  if (value < 0x10000) return Buffer.from([(major << 5) | 25, value >> 8, value & 0xff]);
  if (value < 0x100000000) {
    const out = Buffer.alloc(5);
    out[0] = (major << 5) | 26;
    out.writeUInt32BE(value, 1);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = (major << 5) | 27;
  out.writeBigUInt64BE(BigInt(value), 1);
  return out;
}

export function cbor(value: CborIn): Buffer {
  if (value === null) return Buffer.from([0xf6]);
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return Buffer.concat(parts);
  }
  return Buffer.concat([head(6, value.tag), cbor(value.value)]);
}

// --- the PKI ---------------------------------------------------------------------------------------

export interface AttestationPki {
  rootPemPath: string;
  rootDer: Buffer;
  intermediateDer: Buffer;
  leafDer: Buffer;
  leafKey: KeyObject;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** root CA -> intermediate CA -> leaf (ES384: P-384), in `dir` under `name`-prefixed files. */
export function createAttestationPki(dir: string, name: string, leafCurve = 'secp384r1'): AttestationPki {
  const file = (suffix: string) => join(dir, `${name}-${suffix}`);
  const ext = file('ext.cnf');
  writeFileSync(
    ext,
    [
      '[ca]',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      '[leaf]',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      '',
    ].join('\n'),
  );
  for (const part of ['root', 'int', 'leaf']) {
    const curve = part === 'leaf' ? leafCurve : 'secp384r1';
    openssl(dir, ['ecparam', '-name', curve, '-genkey', '-noout', '-out', file(`${part}.key`)]);
  }
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    file('root.key'),
    '-sha384',
    '-days',
    '30',
    '-subj',
    `/CN=${name} root`,
    '-extensions',
    'ca',
    '-config',
    ext,
    '-out',
    file('root.pem'),
  ]);
  const issue = (part: string, issuer: string, extensions: string, cn: string) => {
    openssl(dir, [
      'req',
      '-new',
      '-key',
      file(`${part}.key`),
      '-subj',
      `/CN=${cn}`,
      '-out',
      file(`${part}.csr`),
    ]);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      file(`${part}.csr`),
      '-CA',
      file(`${issuer}.pem`),
      '-CAkey',
      file(`${issuer}.key`),
      '-CAcreateserial',
      '-sha384',
      '-days',
      '30',
      '-extfile',
      ext,
      '-extensions',
      extensions,
      '-out',
      file(`${part}.pem`),
    ]);
  };
  issue('int', 'root', 'ca', `${name} intermediate`);
  issue('leaf', 'int', 'leaf', `${name} enclave`);
  const der = (part: string) => openssl(dir, ['x509', '-in', file(`${part}.pem`), '-outform', 'DER']);
  return {
    rootPemPath: file('root.pem'),
    rootDer: der('root'),
    intermediateDer: der('int'),
    leafDer: der('leaf'),
    leafKey: createPrivateKey(readFileSync(file('leaf.key'))),
  };
}

// --- documents -------------------------------------------------------------------------------------

export interface DocumentOptions {
  /** DER SPKI of the recipient key, or null for a document without one. */
  publicKey: Buffer | null;
  pcrs: Map<number, Buffer>;
  /** Signs with this key instead of the leaf's (a forgery). */
  signingKey?: KeyObject;
  /** The COSE algorithm in the protected header (ES384 is -35). */
  alg?: number;
  /** Changes the payload after signing (a tampered document). */
  tamper?: (payload: Buffer) => Buffer;
  /** Leaves the signature empty (an unsigned document). */
  unsigned?: boolean;
}

export function attestationDocument(pki: AttestationPki, options: DocumentOptions): Buffer {
  const protectedHeader = cbor(new Map([[1, options.alg ?? -35]]));
  const payload = cbor(
    new Map<CborIn, CborIn>([
      ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
      ['digest', 'SHA384'],
      ['timestamp', Date.now()],
      ['pcrs', new Map<CborIn, CborIn>(options.pcrs)],
      ['certificate', pki.leafDer],
      ['cabundle', [pki.rootDer, pki.intermediateDer]],
      ['public_key', options.publicKey],
      ['user_data', null],
      ['nonce', null],
    ]),
  );
  const toBeSigned = cbor(['Signature1', protectedHeader, Buffer.alloc(0), payload]);
  const signature = options.unsigned
    ? Buffer.alloc(0)
    : sign('sha384', toBeSigned, { key: options.signingKey ?? pki.leafKey, dsaEncoding: 'ieee-p1363' });
  const sent = options.tamper ? options.tamper(payload) : payload;
  return cbor([protectedHeader, new Map(), sent, signature]);
}

// --- an independent CMS EnvelopedData opener --------------------------------------------------------

interface Tlv {
  tag: number;
  content: Buffer;
  end: number;
}

function readTlv(der: Buffer, offset: number): Tlv {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  if (start + length > der.length) throw new Error('truncated DER');
  return { tag, content: der.subarray(start, start + length), end: start + length };
}

function children(content: Buffer): Tlv[] {
  const items: Tlv[] = [];
  for (let offset = 0; offset < content.length;) {
    const item = readTlv(content, offset);
    items.push(item);
    offset = item.end;
  }
  return items;
}

const oidHex = (tlv: Tlv) => tlv.content.toString('hex');
const OID_ENVELOPED = '2a864886f70d010703';
const OID_OAEP = '2a864886f70d010107';
const OID_AES256_CBC = '60864801650304012a';

/**
 * Opens a DER ContentInfo of EnvelopedData with one RSAES-OAEP-SHA-256 KeyTransRecipientInfo and
 * AES-256-CBC content; throws on anything else. Returns the content and what it checked.
 */
export function openEnvelopedData(der: Buffer, privateKey: KeyObject): { content: Buffer; ski: Buffer } {
  const contentInfo = readTlv(der, 0);
  if (contentInfo.end !== der.length) throw new Error('trailing bytes');
  const [type, explicit] = children(contentInfo.content);
  if (oidHex(type!) !== OID_ENVELOPED || explicit!.tag !== 0xa0) throw new Error('not EnvelopedData');
  const [version, recipientInfos, encryptedContentInfo] = children(children(explicit!.content)[0]!.content);
  if (version!.content[0] !== 2 || recipientInfos!.tag !== 0x31) throw new Error('unexpected version');
  const infos = children(recipientInfos!.content);
  if (infos.length !== 1) throw new Error('expected one recipient');
  const [ktriVersion, rid, keyAlgorithm, encryptedKey] = children(infos[0]!.content);
  if (ktriVersion!.content[0] !== 2 || rid!.tag !== 0x80) throw new Error('expected a subjectKeyIdentifier');
  if (oidHex(children(keyAlgorithm!.content)[0]!) !== OID_OAEP) throw new Error('not RSAES-OAEP');
  const contentKey = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    encryptedKey!.content,
  );
  const [, algorithm, encrypted] = children(encryptedContentInfo!.content);
  const [aesOid, iv] = children(algorithm!.content);
  if (oidHex(aesOid!) !== OID_AES256_CBC || encrypted!.tag !== 0x80) throw new Error('not AES-256-CBC');
  const decipher = createDecipheriv('aes-256-cbc', contentKey, iv!.content);
  return {
    content: Buffer.concat([decipher.update(encrypted!.content), decipher.final()]),
    ski: rid!.content,
  };
}
