// REST routes of key wrapping (API.md): wrap and unwrap key material under a wrapping key.
import type { FastifyInstance } from 'fastify';
import { LIMITS } from '../../../domain/limits.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { base64Bounded } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, reply, tags, text, version } from './fields.js';

export function registerWrappingRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  app.post<{ Body: { keyId: string; keyMaterial: string } }>(
    '/v1/wrap',
    {
      config: { action: 'WrapKey' },
      schema: {
        tags,
        summary: 'Wrap key material with AES-KWP (RFC 5649)',
        body: body(['keyId', 'keyMaterial'], {
          keyId,
          keyMaterial: base64Bounded(LIMITS.wrapKeyBytes + 3, 1),
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, wrappedKey: text }) },
      },
    },
    async (request) => {
      const result = await crypto.wrapKey(
        contextOf(request),
        request.body.keyId,
        fromB64(request.body.keyMaterial, 'keyMaterial'),
      );
      return { ...result, wrappedKey: b64(result.wrappedKey) };
    },
  );

  app.post<{ Body: { keyId: string; wrappedKey: string } }>(
    '/v1/unwrap',
    {
      config: { action: 'UnwrapKey' },
      schema: {
        tags,
        summary: 'Unwrap AES-KWP wrapped key material',
        body: body(['keyId', 'wrappedKey'], {
          keyId,
          wrappedKey: base64Bounded(LIMITS.wrapKeyBytes + 32, 16),
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, keyMaterial: text }) },
      },
    },
    async (request) => {
      const result = await crypto.unwrapKey(
        contextOf(request),
        request.body.keyId,
        fromB64(request.body.wrappedKey, 'wrappedKey'),
      );
      return { ...result, keyMaterial: b64(result.keyMaterial) };
    },
  );
}
