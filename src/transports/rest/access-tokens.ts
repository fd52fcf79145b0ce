// REST routes for Keyhaven's access tokens (API.md "Identity, policy, tenants, audit"): trading an
// API key for a short-lived JWT, and the public keys that verify those tokens (public, as a JWKS is
// everywhere: other services verify our tokens with it and hold no credential of ours).
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../keyhaven.js';
import { contextOf } from './request-context.js';

const tags = ['auth'];

const publicJwkSchema = {
  type: 'object',
  required: ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'],
  properties: {
    kty: { type: 'string' },
    crv: { type: 'string' },
    x: { type: 'string' },
    y: { type: 'string' },
    kid: { type: 'string' },
    alg: { type: 'string' },
    use: { type: 'string' },
  },
} as const;

export function registerAccessTokenRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { tokens } = keyhaven;

  app.post<{ Body: { ttlSeconds?: number } | undefined }>(
    '/v1/auth/token',
    {
      config: { action: 'CreateAccessToken' },
      schema: {
        tags,
        summary: "An access token (ES256 JWT) for the caller's API key: its principal, tenant and roles",
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { ttlSeconds: { type: 'integer', minimum: 1 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['accessToken', 'tokenType', 'expiresIn'],
            properties: {
              accessToken: { type: 'string' },
              tokenType: { type: 'string', enum: ['Bearer'] },
              expiresIn: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const issued = await tokens.createAccessToken(contextOf(request), request.body ?? {});
      // RFC 6749 §5.1: a response carrying a token is never stored by a cache.
      void reply.header('cache-control', 'no-store');
      return issued;
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: { action: 'Jwks', public: true },
      schema: {
        tags,
        summary: 'The public keys that verify access tokens (every version of the signing key)',
        response: {
          200: {
            type: 'object',
            required: ['keys'],
            properties: { keys: { type: 'array', items: publicJwkSchema } },
          },
        },
      },
    },
    async (_request, reply) => {
      const jwks = await tokens.jwks();
      void reply.header('cache-control', 'public, max-age=300');
      return jwks;
    },
  );
}
