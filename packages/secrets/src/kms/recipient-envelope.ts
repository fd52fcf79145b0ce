// Opens a recipient-bound decrypt result: the CMS EnvelopedData (RFC 5652) that POST /v1/decrypt
// answers for a `recipient`, one KeyTransRecipientInfo (RSAES-OAEP SHA-256, MGF1-SHA-256) and
// AES-256-CBC content, read with a strict DER reader and node:crypto.
// A copy of src/client/recipient-envelope.ts (the SDK's reader): this package imports nothing from
// the server's tree, and that duplication is the price of the package boundary. Keep them in step.
import { constants, createDecipheriv, privateDecrypt, type KeyObject } from 'node:crypto';
import { SecretsError } from '../errors.js';

interface Element {
  tag: number;
  content: Buffer;
  end: number;
}

const malformed = (why: string) =>
  new SecretsError('KmsError', `the server's ciphertextForRecipient cannot be opened: ${why}`);

/** One TLV at `offset`, definite length only. */
function element(der: Buffer, offset: number): Element {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw malformed('truncated');
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw malformed('unsupported length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  if (start + length > der.length) throw malformed('truncated');
  return { tag, content: der.subarray(start, start + length), end: start + length };
}

function children(parent: Element, expectedTag: number): Element[] {
  if (parent.tag !== expectedTag) throw malformed('unexpected structure');
  const items: Element[] = [];
  for (let offset = 0; offset < parent.content.length;) {
    const item = element(parent.content, offset);
    items.push(item);
    offset = item.end;
  }
  return items;
}

const OID = {
  envelopedData: '2a864886f70d010703',
  rsaesOaep: '2a864886f70d010107',
  sha256: '608648016503040201',
  aes256Cbc: '60864801650304012a',
} as const;

const isOid = (item: Element | undefined, hex: string) =>
  item?.tag === 0x06 && item.content.toString('hex') === hex;

/**
 * The content in a fresh Buffer the caller owns and zeroizes, for the first key-transport recipient
 * `privateKey` opens; SecretsError (KmsError) otherwise. The content key and the decipher's output
 * buffers are zeroized here.
 */
export function openRecipientEnvelope(der: Buffer, privateKey: KeyObject): Buffer {
  const contentInfo = element(der, 0);
  if (contentInfo.end !== der.length) throw malformed('trailing bytes');
  const [type, wrapped] = children(contentInfo, 0x30);
  if (!isOid(type, OID.envelopedData) || !wrapped) throw malformed('not EnvelopedData');
  const [envelopedData] = children(wrapped, 0xa0);
  if (!envelopedData) throw malformed('not EnvelopedData');
  const [, recipientInfos, encryptedContentInfo] = children(envelopedData, 0x30);
  if (!recipientInfos || !encryptedContentInfo) throw malformed('incomplete EnvelopedData');
  const [, algorithm, encrypted] = children(encryptedContentInfo, 0x30);
  const [aes, iv] = algorithm ? children(algorithm, 0x30) : [];
  if (!isOid(aes, OID.aes256Cbc) || iv?.tag !== 0x04 || iv.content.length !== 16 || encrypted?.tag !== 0x80)
    throw malformed('content is not AES-256-CBC');
  for (const info of children(recipientInfos, 0x31)) {
    if (info.tag !== 0x30) continue; // not a KeyTransRecipientInfo
    const [, , keyAlgorithm, encryptedKey] = children(info, 0x30);
    if (!keyAlgorithm || encryptedKey?.tag !== 0x04) continue;
    const [oaep, parameters] = children(keyAlgorithm, 0x30);
    // RSAES-OAEP with SHA-256 named for the hash (MGF1 follows it; a default SHA-1 would not).
    if (!isOid(oaep, OID.rsaesOaep) || !parameters?.content.includes(Buffer.from(OID.sha256, 'hex')))
      continue;
    let contentKey: Buffer;
    try {
      contentKey = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        encryptedKey.content,
      );
    } catch {
      continue; // for another recipient
    }
    let head: Buffer | undefined;
    let tail: Buffer | undefined;
    try {
      if (contentKey.length !== 32) throw malformed('the content key is not 256 bits');
      const decipher = createDecipheriv('aes-256-cbc', contentKey, iv.content);
      head = decipher.update(encrypted.content);
      tail = decipher.final();
      const content = Buffer.alloc(head.length + tail.length);
      head.copy(content);
      tail.copy(content, head.length);
      return content;
    } catch (cause) {
      if (cause instanceof SecretsError) throw cause;
      throw malformed('the content does not decrypt');
    } finally {
      contentKey.fill(0);
      head?.fill(0);
      tail?.fill(0);
    }
  }
  throw malformed('no recipient opens with this process key');
}
