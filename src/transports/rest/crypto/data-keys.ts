// REST routes of envelope encryption (API.md): data keys (to a recipient too) and data key pairs.
import type { FastifyInstance } from 'fastify';
import type { EncryptionContext } from '../../../domain/encryption-context.js';
import { validationError } from '../../../domain/errors.js';
import type { DataKeyPairSpec, DataKeySpec } from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { dataKeyPairSpec, dataKeySpec, encryptionContext } from '../schemas.js';
import { b64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, reply, tags, text, version } from './fields.js';
import { recipientField, recipientInputOf, type RecipientBody } from './recipient.js';

export function registerDataKeyRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto, recipients } = keyhaven;

  app.post<{
    Body: {
      keyId: string;
      keySpec?: DataKeySpec;
      numberOfBytes?: number;
      context?: EncryptionContext;
      withoutPlaintext?: boolean;
      recipient?: RecipientBody;
    };
  }>(
    '/v1/datakey',
    {
      config: { action: 'GenerateDataKey' },
      schema: {
        tags,
        summary: 'Generate a data key for envelope encryption',
        body: body(['keyId'], {
          keyId,
          keySpec: dataKeySpec,
          // Any size, as AWS GenerateDataKey's NumberOfBytes; instead of keySpec, not with it.
          numberOfBytes: { type: 'integer', minimum: 1, maximum: LIMITS.dataKeyBytes },
          context: encryptionContext,
          withoutPlaintext: { type: 'boolean' },
          recipient: recipientField,
        }),
        response: {
          200: reply({
            keyId: text,
            keyVersion: version,
            ciphertext: text,
            plaintext: text,
            ciphertextForRecipient: text,
          }),
        },
      },
    },
    async (request) => {
      const { keyId: id, keySpec, numberOfBytes, context, withoutPlaintext, recipient } = request.body;
      if (keySpec !== undefined && numberOfBytes !== undefined) {
        throw validationError('give keySpec or numberOfBytes, not both');
      }
      const size = numberOfBytes === undefined ? keySpec : { bytes: numberOfBytes };
      if (recipient !== undefined) {
        if (withoutPlaintext) throw validationError('give recipient or withoutPlaintext, not both');
        const ctx = contextOf(request);
        const bound = await recipients.generateDataKey(ctx, recipientInputOf(recipient), id, size, context);
        return {
          keyId: bound.keyId,
          keyVersion: bound.keyVersion,
          ciphertext: b64(bound.ciphertext),
          ciphertextForRecipient: b64(bound.ciphertextForRecipient),
        };
      }
      const result = await crypto.generateDataKey(contextOf(request), id, size, context, withoutPlaintext);
      return {
        keyId: result.keyId,
        keyVersion: result.keyVersion,
        ciphertext: b64(result.ciphertext),
        ...(result.plaintext ? { plaintext: b64(result.plaintext) } : {}),
      };
    },
  );

  app.post<{
    Body: {
      keyId: string;
      keyPairSpec: DataKeyPairSpec;
      context?: EncryptionContext;
      withoutPlaintext?: boolean;
    };
  }>(
    '/v1/datakey-pair',
    {
      config: { action: 'GenerateDataKeyPair' },
      schema: {
        tags,
        summary: 'Generate an asymmetric data key pair; the private key comes back encrypted',
        body: body(['keyId', 'keyPairSpec'], {
          keyId,
          keyPairSpec: dataKeyPairSpec,
          context: encryptionContext,
          withoutPlaintext: { type: 'boolean' },
        }),
        response: {
          200: reply({
            keyId: text,
            keyVersion: version,
            keyPairSpec: text,
            publicKey: text,
            privateKeyCiphertext: text,
            privateKeyPlaintext: text,
          }),
        },
      },
    },
    async (request) => {
      const { keyId: id, keyPairSpec, context, withoutPlaintext } = request.body;
      const result = await crypto.generateDataKeyPair(
        contextOf(request),
        id,
        keyPairSpec,
        context,
        withoutPlaintext,
      );
      return {
        keyId: result.keyId,
        keyVersion: result.keyVersion,
        keyPairSpec: result.keyPairSpec,
        publicKey: b64(result.publicKey),
        privateKeyCiphertext: b64(result.ciphertext),
        ...(result.privateKeyPlaintext ? { privateKeyPlaintext: b64(result.privateKeyPlaintext) } : {}),
      };
    },
  );
}
