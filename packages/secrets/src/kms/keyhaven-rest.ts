// SecretKms over Keyhaven's REST API (POST /v1/encrypt, /v1/decrypt, /v1/reencrypt) with fetch: no
// dependency on the server code or the SDK. Decrypt answers are read as bytes (see base64-bytes.ts).
import { SecretsError, type SecretsErrorCode } from '../errors.js';
import { base64FieldOf } from './base64-bytes.js';
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
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function keyhavenKms(options: KeyhavenKmsOptions): SecretKms {
  const base = options.endpoint.replace(/\/+$/, '');
  const send = options.fetch ?? fetch;

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
    throw errorOf(response.status, raw);
  };

  const ciphertextOf = (raw: Buffer) => {
    const ciphertext = base64FieldOf(raw, 'ciphertext');
    if (!ciphertext) throw new SecretsError('KmsError', 'the server answered without a ciphertext');
    return ciphertext;
  };

  return {
    async decrypt({ ciphertext, context }: DecryptRequest) {
      const raw = await post('/v1/decrypt', { ciphertext: b64(ciphertext), ...(context ? { context } : {}) });
      try {
        const plaintext = base64FieldOf(raw, 'plaintext');
        if (!plaintext) throw new SecretsError('KmsError', 'the server answered without a plaintext');
        return plaintext;
      } finally {
        raw.fill(0);
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

function errorOf(status: number, raw: Buffer): SecretsError {
  let kmsCode = `HTTP${status}`;
  try {
    const body = JSON.parse(raw.toString('utf8')) as { error?: { code?: unknown } };
    if (typeof body.error?.code === 'string') kmsCode = body.error.code;
  } catch {
    // not JSON: the status says enough
  }
  const code = CODES[kmsCode] ?? (status >= 500 ? 'Unavailable' : 'KmsError');
  return new SecretsError(code, `Keyhaven answered ${status} ${kmsCode}`, { kmsCode });
}
