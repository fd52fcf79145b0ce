// REST routes of RSA encryption (API.md): encrypt and decrypt with an RSA key pair.
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../../keyhaven.js';
import type { RsaEncryptionAlgorithm } from '../../../ports/key-backend.js';
import { base64Bounded, rsaEncryptionAlgorithm } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, reply, tags, text, version } from './fields.js';

export function registerAsymmetricRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  app.post<{ Body: { keyId: string; plaintext: string; algorithm: RsaEncryptionAlgorithm } }>(
    '/v1/asymmetric/encrypt',
    {
      config: { action: 'AsymmetricEncrypt' },
      schema: {
        tags,
        summary: 'RSA-OAEP encryption with an RSA ENCRYPT_DECRYPT key',
        body: body(['keyId', 'plaintext', 'algorithm'], {
          keyId,
          plaintext: base64Bounded(512),
          algorithm: rsaEncryptionAlgorithm,
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, ciphertext: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, plaintext, algorithm } = request.body;
      const result = await crypto.asymmetricEncrypt(
        contextOf(request),
        id,
        fromB64(plaintext, 'plaintext'),
        algorithm,
      );
      return { ...result, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: { keyId: string; ciphertext: string; algorithm: RsaEncryptionAlgorithm } }>(
    '/v1/asymmetric/decrypt',
    {
      config: { action: 'AsymmetricDecrypt' },
      schema: {
        tags,
        summary: 'RSA-OAEP decryption',
        body: body(['keyId', 'ciphertext', 'algorithm'], {
          keyId,
          ciphertext: base64Bounded(512, 1),
          algorithm: rsaEncryptionAlgorithm,
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, plaintext: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, ciphertext, algorithm } = request.body;
      const result = await crypto.asymmetricDecrypt(
        contextOf(request),
        id,
        fromB64(ciphertext, 'ciphertext'),
        algorithm,
      );
      return { ...result, plaintext: b64(result.plaintext) };
    },
  );
}
