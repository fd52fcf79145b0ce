// API.md's base64 convention for binary fields: the standard alphabet with padding (RFC 4648 §4).
// Shared by the REST transport (request fields) and the CLI (options given as base64).

/**
 * Decodes standard base64 with padding (API.md conventions: whole quads of the standard alphabet,
 * the last possibly ending in "=" or "=="), or returns undefined for anything else. Node's decoder
 * does the scan natively: it skips characters outside the alphabet and stops at "=", so the text is
 * exactly such base64 when the decoded length is the most its length allows, and it holds none of
 * the two URL-safe characters the decoder also takes ("-" and "_"). A per-character check in
 * JavaScript cost several times as much on every request's plaintext or ciphertext.
 */
export function decodePaddedBase64(value: string): Buffer | undefined {
  const length = value.length;
  if (length % 4 !== 0) return undefined;
  let padding = 0;
  if (length > 0 && value.charCodeAt(length - 1) === 0x3d)
    padding = value.charCodeAt(length - 2) === 0x3d ? 2 : 1;
  const decoded = Buffer.from(value, 'base64');
  if (decoded.length !== (length / 4) * 3 - padding) return undefined;
  if (value.includes('-') || value.includes('_')) return undefined;
  return decoded;
}

/** Whether `value` is standard base64 with padding (see decodePaddedBase64). */
export function isPaddedBase64(value: string): boolean {
  return decodePaddedBase64(value) !== undefined;
}
