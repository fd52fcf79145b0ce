// The ENC[...] token: `ENC[kh1:<base64>]` when the variable name is bound as encryption context
// (Keyhaven's default), `ENC[<base64>]` without context (the form @faizahmed/secret-keystore writes).
import { SecretsError } from './errors.js';

/** The encryption context key under which a value's name is bound. */
export const NAME_CONTEXT_KEY = 'keyhaven:secret';

export type ContextMode = 'name' | 'none';

export interface ParsedToken {
  mode: ContextMode;
  ciphertext: Buffer;
}

const TOKEN = /^ENC\[(kh1:)?([A-Za-z0-9+/=]*)\]$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Whether a value is an `ENC[...]` token (well formed or not: a malformed one is never plaintext). */
export function isEncryptedValue(value: string): boolean {
  return value.startsWith('ENC[') && value.endsWith(']');
}

export function parseToken(value: string): ParsedToken {
  const match = TOKEN.exec(value);
  const body = match?.[2];
  if (!match || !body || !BASE64.test(body)) {
    throw new SecretsError('InvalidToken', 'the ENC[...] token is not well formed');
  }
  return { mode: match[1] ? 'name' : 'none', ciphertext: Buffer.from(body, 'base64') };
}

export function formatToken(mode: ContextMode, ciphertext: Uint8Array): string {
  const body = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength).toString(
    'base64',
  );
  return mode === 'name' ? `ENC[kh1:${body}]` : `ENC[${body}]`;
}

/** The encryption context a value is bound to under `mode`. */
export function contextFor(mode: ContextMode, name: string): Record<string, string> | undefined {
  return mode === 'name' ? { [NAME_CONTEXT_KEY]: name } : undefined;
}
