// REST routes of AEAD encryption (API.md): encrypt, decrypt, re-encrypt, and their batches.
import type { FastifyInstance } from 'fastify';
import type { EncryptionContext } from '../../../domain/encryption-context.js';
import { LIMITS } from '../../../domain/limits.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { batchItemError, encryptionContext } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { recipientField, recipientInputOf, type RecipientBody } from './recipient.js';
import { body, ciphertextField, keyId, plaintextField, reply, tags, text, version } from './fields.js';

const encryptItem = body(['keyId', 'plaintext'], {
  keyId,
  plaintext: plaintextField,
  context: encryptionContext,
});
const decryptItem = body(['ciphertext'], { ciphertext: ciphertextField, context: encryptionContext, keyId });
const encryptReply = reply({ keyId: text, keyVersion: version, ciphertext: text });
const decryptReply = reply({ keyId: text, keyVersion: version, plaintext: text });
const singleDecryptItem = body(['ciphertext'], {
  ciphertext: ciphertextField,
  context: encryptionContext,
  keyId,
  recipient: recipientField,
});
// Either the plaintext or, for a recipient, the CMS EnvelopedData that holds it; never both.
const singleDecryptReply = reply({
  keyId: text,
  keyVersion: version,
  plaintext: text,
  ciphertextForRecipient: text,
});

type EncryptBody = { keyId: string; plaintext: string; context?: EncryptionContext };
type DecryptBody = { ciphertext: string; context?: EncryptionContext; keyId?: string };

export function registerEncryptionRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto, recipients } = keyhaven;

  app.post<{ Body: EncryptBody }>(
    '/v1/encrypt',
    {
      config: { action: 'Encrypt' },
      schema: {
        tags,
        summary: 'Encrypt up to 4096 bytes',
        body: encryptItem,
        response: { 200: encryptReply },
      },
    },
    async (request) => {
      const { keyId, plaintext, context } = request.body;
      const result = await crypto.encrypt(
        contextOf(request),
        keyId,
        fromB64(plaintext, 'plaintext'),
        context,
      );
      return { keyId: result.keyId, keyVersion: result.keyVersion, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: DecryptBody & { recipient?: RecipientBody } }>(
    '/v1/decrypt',
    {
      config: { action: 'Decrypt' },
      schema: {
        tags,
        summary: 'Decrypt a ciphertext (to a recipient: sealed to its key as CMS EnvelopedData)',
        body: singleDecryptItem,
        response: { 200: singleDecryptReply },
      },
    },
    async (request) => {
      const { ciphertext, context, keyId, recipient } = request.body;
      const blob = fromB64(ciphertext, 'ciphertext');
      if (recipient !== undefined) {
        const input = recipientInputOf(recipient);
        const bound = await recipients.decrypt(contextOf(request), input, blob, context, keyId);
        return {
          keyId: bound.keyId,
          keyVersion: bound.keyVersion,
          ciphertextForRecipient: b64(bound.ciphertextForRecipient),
        };
      }
      const result = await crypto.decrypt(contextOf(request), blob, context, keyId);
      return { keyId: result.keyId, keyVersion: result.keyVersion, plaintext: b64(result.plaintext) };
    },
  );

  app.post<{
    Body: {
      ciphertext: string;
      context?: EncryptionContext;
      destinationKeyId: string;
      destinationContext?: EncryptionContext;
    };
  }>(
    '/v1/reencrypt',
    {
      config: { action: 'ReEncrypt' },
      schema: {
        tags,
        summary: 'Decrypt and encrypt again under another key, without exposing the plaintext',
        body: body(['ciphertext', 'destinationKeyId'], {
          ciphertext: ciphertextField,
          context: encryptionContext,
          destinationKeyId: keyId,
          destinationContext: encryptionContext,
        }),
        response: {
          200: reply({
            keyId: text,
            keyVersion: version,
            ciphertext: text,
            sourceKeyId: text,
            sourceKeyVersion: version,
          }),
        },
      },
    },
    async (request) => {
      const { ciphertext, context, destinationKeyId, destinationContext } = request.body;
      const result = await crypto.reencrypt(
        contextOf(request),
        fromB64(ciphertext, 'ciphertext'),
        context,
        destinationKeyId,
        destinationContext,
      );
      return { ...result, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: { items: EncryptBody[] } }>(
    '/v1/encrypt/batch',
    {
      config: { action: 'EncryptBatch' },
      schema: {
        tags,
        summary: 'Encrypt up to 100 items; each result is a ciphertext or an error',
        body: body(['items'], {
          items: { type: 'array', minItems: 1, maxItems: LIMITS.batchItems, items: encryptItem },
        }),
        response: {
          200: reply({ results: { type: 'array', items: { anyOf: [batchItemError, encryptReply] } } }),
        },
      },
    },
    async (request) => {
      const results = await crypto.encryptBatch(
        contextOf(request),
        request.body.items.map((i) => ({
          keyId: i.keyId,
          plaintext: fromB64(i.plaintext, 'plaintext'),
          context: i.context,
        })),
      );
      return {
        results: results.map((r) =>
          'error' in r ? r : { keyId: r.keyId, keyVersion: r.keyVersion, ciphertext: b64(r.ciphertext) },
        ),
      };
    },
  );

  app.post<{ Body: { items: DecryptBody[] } }>(
    '/v1/decrypt/batch',
    {
      config: { action: 'DecryptBatch' },
      schema: {
        tags,
        summary: 'Decrypt up to 100 items; each result is a plaintext or an error',
        body: body(['items'], {
          items: { type: 'array', minItems: 1, maxItems: LIMITS.batchItems, items: decryptItem },
        }),
        response: {
          200: reply({ results: { type: 'array', items: { anyOf: [batchItemError, decryptReply] } } }),
        },
      },
    },
    async (request) => {
      const results = await crypto.decryptBatch(
        contextOf(request),
        request.body.items.map((i) => ({
          ciphertext: fromB64(i.ciphertext, 'ciphertext'),
          context: i.context,
          keyId: i.keyId,
        })),
      );
      return {
        results: results.map((r) =>
          'error' in r ? r : { keyId: r.keyId, keyVersion: r.keyVersion, plaintext: b64(r.plaintext) },
        ),
      };
    },
  );
}
