// REST routes of HMAC (API.md): generate and verify a MAC.
import type { FastifyInstance } from 'fastify';
import type { MacAlgorithm } from '../../../domain/key-spec.js';
import { LIMITS } from '../../../domain/limits.js';
import type { Keyhaven } from '../../../keyhaven.js';
import { base64Bounded, macAlgorithm } from '../schemas.js';
import { b64, fromB64 } from '../views.js';
import { contextOf } from '../request-context.js';
import { body, keyId, reply, tags, text, version } from './fields.js';

export function registerMacRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  const macBody = { keyId, message: base64Bounded(LIMITS.macMessageBytes + 3), algorithm: macAlgorithm };
  app.post<{ Body: { keyId: string; message: string; algorithm: MacAlgorithm } }>(
    '/v1/mac',
    {
      config: { action: 'GenerateMac' },
      schema: {
        tags,
        summary: 'Compute an HMAC',
        body: body(['keyId', 'message', 'algorithm'], macBody),
        response: { 200: reply({ keyId: text, keyVersion: version, mac: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, algorithm } = request.body;
      const result = await crypto.generateMac(contextOf(request), id, fromB64(message, 'message'), algorithm);
      return { ...result, mac: b64(result.mac) };
    },
  );

  app.post<{ Body: { keyId: string; message: string; algorithm: MacAlgorithm; mac: string } }>(
    '/v1/mac/verify',
    {
      config: { action: 'VerifyMac' },
      schema: {
        tags,
        summary: 'Verify an HMAC in constant time',
        body: body(['keyId', 'message', 'algorithm', 'mac'], { ...macBody, mac: base64Bounded(64) }),
        response: { 200: reply({ keyId: text, valid: { type: 'boolean' }, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, algorithm, mac } = request.body;
      return crypto.verifyMac(
        contextOf(request),
        id,
        fromB64(message, 'message'),
        fromB64(mac, 'mac'),
        algorithm,
      );
    },
  );
}
