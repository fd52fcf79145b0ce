// REST routes of signatures (API.md): sign and verify with asymmetric keys.
import type { FastifyInstance } from 'fastify';
import type { SigningAlgorithm } from '../../../domain/key-spec.js';
import type { Keyhaven } from '../../../keyhaven.js';
import type { MessageType } from '../../../ports/key-backend.js';
import { messageType, signingAlgorithm } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, messageField, reply, signatureField, tags, text, version } from './fields.js';

export function registerSigningRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  const signBody = { keyId, message: messageField, messageType, algorithm: signingAlgorithm };
  app.post<{
    Body: { keyId: string; message: string; messageType?: MessageType; algorithm: SigningAlgorithm };
  }>(
    '/v1/sign',
    {
      config: { action: 'Sign' },
      schema: {
        tags,
        summary: 'Sign a message (RAW) or a digest (DIGEST)',
        body: body(['keyId', 'message', 'algorithm'], signBody),
        response: { 200: reply({ keyId: text, keyVersion: version, signature: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, messageType: type, algorithm } = request.body;
      const result = await crypto.sign(contextOf(request), id, fromB64(message, 'message'), algorithm, type);
      return { ...result, signature: b64(result.signature) };
    },
  );

  app.post<{
    Body: {
      keyId: string;
      message: string;
      messageType?: MessageType;
      algorithm: SigningAlgorithm;
      signature: string;
    };
  }>(
    '/v1/verify',
    {
      config: { action: 'Verify' },
      schema: {
        tags,
        summary: 'Verify a signature',
        body: body(['keyId', 'message', 'algorithm', 'signature'], {
          ...signBody,
          signature: signatureField,
        }),
        response: { 200: reply({ keyId: text, valid: { type: 'boolean' }, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, messageType: type, algorithm, signature } = request.body;
      return crypto.verify(
        contextOf(request),
        id,
        fromB64(message, 'message'),
        fromB64(signature, 'signature'),
        algorithm,
        type,
      );
    },
  );
}
