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
// A PUT with `If-None-Match: *` only creates. A taken name answers 409 Conflict, not RFC 9110's 412:
// the API has one status per error code, and a name that exists is a Conflict everywhere else.
export function registerAliasRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const tags = ['aliases'];
  app.put<{ Params: { name: string }; Body: { keyId: string }; Headers: { 'if-none-match'?: string } }>(
    '/v1/aliases/:name',
    {
      config: { action: 'PutAlias' },
      schema: {
        tags,
        summary: 'Create or repoint an alias',
        description:
          'With `If-None-Match: *` only creates: an alias of that name (of any key) answers 409 Conflict and stays as it is.',
        params: aliasParams,
        headers: {
          type: 'object',
          properties: {
            'if-none-match': { type: 'string', enum: ['*'], description: 'create only (RFC 9110 13.1.2)' },
          },
        },
        body: {
          type: 'object',
          required: ['keyId'],
          additionalProperties: false,
          properties: { keyId: keyReference },
        },
        response: { 200: aliasObject },
      },
    },
    async (request) => {
      const name = fullAliasName(request.params.name);
      // The create-only form is how a client adds an alias without re-pointing one that another key
      // holds (between a check and a plain PUT, someone else may take the name).
      return request.headers['if-none-match'] === '*'
        ? keyhaven.aliases.createAlias(contextOf(request), name, request.body.keyId)
        : keyhaven.aliases.putAlias(contextOf(request), name, request.body.keyId);
    },
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
