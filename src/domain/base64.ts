// API.md's base64 convention for binary fields: the standard alphabet with padding (RFC 4648 §4).
// Shared by the REST transport (request fields) and the CLI (options given as base64).

/** 1 for the 64 characters of the standard base64 alphabet (RFC 4648 §4), 0 for every other code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') {
  BASE64_ALPHABET[c.charCodeAt(0)] = 1;
}

/**
 * Standard base64 with padding (API.md conventions): whole quads of alphabet characters, the last
 * one possibly ending in "=" or "==". A table lookup per character: the equivalent regular
 * expression cost four times as much on every request's plaintext or ciphertext.
 */
export function isPaddedBase64(value: string): boolean {
  const length = value.length;
  if (length % 4 !== 0) return false;
  let end = length;
  if (length > 0 && value.charCodeAt(length - 1) === 0x3d)
    end = value.charCodeAt(length - 2) === 0x3d ? length - 2 : length - 1;
  for (let i = 0; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code > 127 || BASE64_ALPHABET[code] === 0) return false;
  }
  return true;
}
