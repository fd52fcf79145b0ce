// REST routes of key derivation and randomness (API.md): HKDF derivation and random bytes.
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../../keyhaven.js';
import { base64Bounded } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, reply, tags, text, version } from './fields.js';

export function registerDerivationRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  app.post<{ Body: { keyId: string; context: string; salt?: string; length: number } }>(
    '/v1/derive',
    {
      config: { action: 'DeriveKey' },
      schema: {
        tags,
        summary: 'Derive key material with HKDF-SHA-256 (context is the HKDF info)',
        body: body(['keyId', 'context', 'length'], {
          keyId,
          context: { type: 'string', maxLength: 1024 },
          salt: base64Bounded(1024),
          length: { type: 'integer' },
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, derivedKey: text }) },
      },
    },
    async (request) => {
      const { keyId: id, context, salt, length } = request.body;
      const result = await crypto.deriveKey(
        contextOf(request),
        id,
        context,
        length,
        salt === undefined ? undefined : fromB64(salt, 'salt'),
      );
      return { ...result, derivedKey: b64(result.derivedKey) };
    },
  );

  app.get<{ Querystring: { bytes: string } }>(
    '/v1/random',
    {
      config: { action: 'GenerateRandom' },
      schema: {
        tags,
        summary: 'Random bytes from the server CSPRNG',
        querystring: {
          type: 'object',
          required: ['bytes'],
          additionalProperties: false,
          properties: { bytes: { type: 'string', pattern: '^[0-9]{1,5}$' } },
        },
        response: { 200: reply({ random: text }) },
      },
    },
    async (request) => ({
      random: b64(await crypto.random(contextOf(request), Number(request.query.bytes))),
    }),
  );
}
