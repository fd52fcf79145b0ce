// Schema fragments shared by the crypto routes: the fields, and the shape of bodies and replies.
import { LIMITS } from '../../../domain/limits.js';
import { base64Bounded, keyReference } from '../schemas.js';

export const tags = ['crypto'];
export const keyId = keyReference;
export const version = { type: 'integer' } as const;
export const text = { type: 'string' } as const;
// Schemas allow a little more than the service limit so an oversize value gets the service's
// precise message; the service enforces the real limits for every surface.
export const plaintextField = base64Bounded(LIMITS.plaintextBytes + 3);
export const ciphertextField = base64Bounded(LIMITS.ciphertextBytes + 3, 1);
export const messageField = base64Bounded(LIMITS.messageBytes + 3);
export const signatureField = base64Bounded(LIMITS.signatureBytes + 3);

export const body = (required: string[], properties: Record<string, unknown>) =>
  ({ type: 'object', required, additionalProperties: false, properties }) as const;
export const reply = (properties: Record<string, unknown>) => ({ type: 'object', properties }) as const;
