// SecretKms over Keyhaven's REST API (POST /v1/encrypt, /v1/decrypt, /v1/reencrypt) with fetch: no
// dependency on the server code or the SDK. Decrypt answers are read as bytes (see base64-bytes.ts);
// by default they are recipient-bound: sealed by the server to a key pair only this process holds.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { SecretsError, type SecretsErrorCode } from '../errors.js';
import { base64FieldOf } from './base64-bytes.js';
import { openRecipientEnvelope } from './recipient-envelope.js';
import type { DecryptRequest, EncryptionContext, SecretKms } from './secret-kms.js';

export interface KeyhavenKmsOptions {
  /** The server URL, e.g. http://127.0.0.1:8400. */
  endpoint: string;
  /** An API key secret or access token (Bearer). */
  token: string;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (for TLS options, say, through an undici Agent). */
  fetch?: typeof fetch;
  /**
   * Ask for recipient-bound decrypt results (default true): each decrypt sends the public half of
   * an ephemeral RSA key pair made at the first decrypt, the server answers the plaintext as CMS
   * EnvelopedData for it (`ciphertextForRecipient`), opened here. `false` for servers without the
   * feature (they refuse the `recipient` member with 400); there is no automatic fallback.
   */
  recipientBound?: boolean;
}

/** The ephemeral key's size: RSA-3072, about 128-bit security, like the AES-256 content it carries. */
const RECIPIENT_MODULUS_BITS = 3072;

interface RecipientKeyPair {
  /** Base64 SubjectPublicKeyInfo DER: public, so a string is harmless. */
  publicKey: string;
  /** Never exported: the private key lives only in this KeyObject. */
  privateKey: KeyObject;
}

const generateRsaKeyPair = promisify(generateKeyPair);

async function recipientKeyPair(): Promise<RecipientKeyPair> {
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: RECIPIENT_MODULUS_BITS,
  });
  return { publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), privateKey };
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function keyhavenKms(options: KeyhavenKmsOptions): SecretKms {
  const base = options.endpoint.replace(/\/+$/, '');
  const send = options.fetch ?? fetch;
  const recipientBound = options.recipientBound ?? true;
  let keyPair: Promise<RecipientKeyPair> | undefined;
  const recipient = () => {
    keyPair ??= recipientKeyPair().catch((error: unknown) => {
      keyPair = undefined; // the next decrypt tries again
      throw new SecretsError('KmsError', 'cannot make the recipient key pair', { cause: error });
    });
    return keyPair;
  };

  const post = async (path: string, body: Record<string, unknown>): Promise<Buffer> => {
    let response: Response;
    try {
      response = await send(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (cause) {
      throw new SecretsError('Unavailable', `the Keyhaven server at ${base} cannot be reached`, { cause });
    }
    const raw = Buffer.from(await response.arrayBuffer());
    if (response.ok) return raw;
    throw errorOf(response.status, raw, body.recipient !== undefined);
  };

  const ciphertextOf = (raw: Buffer) => {
    const ciphertext = base64FieldOf(raw, 'ciphertext');
    if (!ciphertext) throw new SecretsError('KmsError', 'the server answered without a ciphertext');
    return ciphertext;
  };

  return {
    async decrypt({ ciphertext, context }: DecryptRequest) {
      const body: Record<string, unknown> = { ciphertext: b64(ciphertext), ...(context ? { context } : {}) };
      const keys = recipientBound ? await recipient() : undefined;
      if (keys) body.recipient = { publicKey: keys.publicKey };
      const raw = await post('/v1/decrypt', body);
      let envelope: Buffer | undefined;
      try {
        if (!keys) {
          const plaintext = base64FieldOf(raw, 'plaintext');
          if (!plaintext) throw new SecretsError('KmsError', 'the server answered without a plaintext');
          return plaintext;
        }
        // A server that ignored the recipient member and answered the plaintext in the clear is
        // refused: that is exactly what recipient binding exists to rule out.
        const clear = base64FieldOf(raw, 'plaintext');
        if (clear) {
          clear.fill(0);
          throw new SecretsError(
            'KmsError',
            'the server answered a plaintext to a recipient-bound request (refused; see recipientBound)',
          );
        }
        envelope = base64FieldOf(raw, 'ciphertextForRecipient');
        if (!envelope)
          throw new SecretsError('KmsError', 'the server answered without a ciphertextForRecipient');
        return openRecipientEnvelope(envelope, keys.privateKey);
      } finally {
        raw.fill(0);
        envelope?.fill(0);
      }
    },
    async encrypt({ keyId, plaintext, context }) {
      return ciphertextOf(
        await post('/v1/encrypt', { keyId, plaintext: b64(plaintext), ...(context ? { context } : {}) }),
      );
    },
    async reencrypt({ ciphertext, context, destinationKeyId, destinationContext }) {
      const body: Record<string, unknown> = { ciphertext: b64(ciphertext), destinationKeyId };
      if (context) body.context = context;
      if (destinationContext) body.destinationContext = destinationContext as EncryptionContext;
      return ciphertextOf(await post('/v1/reencrypt', body));
    },
  };
}

const CODES: Record<string, SecretsErrorCode> = {
  InvalidCiphertext: 'InvalidCiphertext',
  IncorrectKey: 'InvalidCiphertext',
  KeyDisabled: 'KeyDisabled',
  KeyPendingDeletion: 'KeyDisabled',
  AccessDenied: 'AccessDenied',
  Unauthenticated: 'AccessDenied',
  NotFound: 'NotFound',
  Unavailable: 'Unavailable',
};

function errorOf(status: number, raw: Buffer, sentRecipient: boolean): SecretsError {
  let kmsCode = `HTTP${status}`;
  try {
    const body = JSON.parse(raw.toString('utf8')) as { error?: { code?: unknown } };
    if (typeof body.error?.code === 'string') kmsCode = body.error.code;
  } catch {
    // not JSON: the status says enough
  }
  const code = CODES[kmsCode] ?? (status >= 500 ? 'Unavailable' : 'KmsError');
  // A server without recipient-bound decryption refuses the unknown member this way.
  const hint =
    sentRecipient && kmsCode === 'ValidationError'
      ? ' (a server without recipient-bound decryption refuses the recipient member: upgrade it, or set recipientBound: false)'
      : '';
  return new SecretsError(code, `Keyhaven answered ${status} ${kmsCode}${hint}`, { kmsCode });
}
