// REST routes for aliases (API.md "Keys": PUT/DELETE/GET /v1/aliases).
import { contextOf } from './request-context.js';
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../keyhaven.js';
import { fullAliasName } from '../../services/key-directory.js';
import { keyReference } from './schemas.js';

const aliasParams = {
  type: 'object',
  required: ['name'],
  // With or without the alias/ prefix: alias/ + 250 characters (key-directory.ts ALIAS_PATTERN).
  properties: { name: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

const aliasObject = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    keyId: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

// Route parameters are alias names with or without `alias/` (a slash cannot sit in one path segment).
export function registerAliasRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const tags = ['aliases'];
  app.put<{ Params: { name: string }; Body: { keyId: string } }>(
    '/v1/aliases/:name',
    {
      config: { action: 'PutAlias' },
      schema: {
        tags,
        summary: 'Create or repoint an alias',
        params: aliasParams,
        body: {
          type: 'object',
          required: ['keyId'],
          additionalProperties: false,
          properties: { keyId: keyReference },
        },
        response: { 200: aliasObject },
      },
    },
    async (request) =>
      keyhaven.aliases.putAlias(contextOf(request), fullAliasName(request.params.name), request.body.keyId),
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/aliases/:name',
    { config: { action: 'DeleteAlias' }, schema: { tags, summary: 'Delete an alias', params: aliasParams } },
    async (request, reply) => {
      await keyhaven.aliases.deleteAlias(contextOf(request), fullAliasName(request.params.name));
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: { keyId?: string } }>(
    '/v1/aliases',
    {
      config: { action: 'ListAliases' },
      schema: {
        tags,
        summary: 'List aliases, optionally of one key',
        querystring: { type: 'object', additionalProperties: false, properties: { keyId: keyReference } },
        response: { 200: { type: 'object', properties: { aliases: { type: 'array', items: aliasObject } } } },
      },
    },
    async (request) => {
      const aliases = await keyhaven.aliases.listAliases(contextOf(request), request.query.keyId);
      return { aliases: aliases.map((a) => ({ ...a, createdAt: a.createdAt.toISOString() })) };
    },
  );
}
