// REST routes for principals and their credentials (API.md "Identity, policy, tenants, audit").
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../keyhaven.js';
import type { CreatePrincipalInput, UpdatePrincipalInput } from '../../services/principal-service.js';
import {
  accessKeySchema,
  accessKeyView,
  apiKeySchema,
  apiKeyView,
  identifier,
  pageQuery,
  principalSchema,
  principalView,
} from './identity-views.js';
import { contextOf } from './request-context.js';
import { enumOf } from './schemas.js';

const tags = ['principals'];
const principalReply = {
  type: 'object',
  required: ['principal'],
  properties: { principal: principalSchema },
} as const;
const principalParams = {
  type: 'object',
  required: ['principalId'],
  properties: { principalId: identifier },
} as const;
const roles = { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 64 } } as const;
const attributes = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 256 },
  maxProperties: 50,
} as const;
type PrincipalParams = { principalId: string };

export function registerPrincipalRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { principals } = keyhaven;

  app.post<{ Body: CreatePrincipalInput }>(
    '/v1/principals',
    {
      config: { action: 'CreatePrincipal' },
      schema: {
        tags,
        summary: 'Create a user or service principal',
        body: {
          type: 'object',
          required: ['name', 'type'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            type: enumOf(['user', 'service']),
            tenantId: identifier,
            roles,
            attributes,
          },
        },
        response: { 201: principalReply },
      },
    },
    async (request, reply) => {
      const principal = await principals.createPrincipal(contextOf(request), request.body);
      return reply.status(201).send({ principal: principalView(principal) });
    },
  );

  app.get<{ Querystring: { tenantId?: string; limit?: string; cursor?: string } }>(
    '/v1/principals',
    {
      config: { action: 'ListPrincipals' },
      schema: {
        tags,
        summary: "List a tenant's principals",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { tenantId: identifier, ...pageQuery },
        },
        response: {
          200: {
            type: 'object',
            required: ['principals', 'nextCursor'],
            properties: {
              principals: { type: 'array', items: principalSchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request) => {
      const { limit, ...rest } = request.query;
      const page = await principals.listPrincipals(contextOf(request), {
        ...rest,
        limit: limit === undefined ? undefined : Number(limit),
      });
      return { principals: page.items.map(principalView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: PrincipalParams }>(
    '/v1/principals/:principalId',
    {
      config: { action: 'DescribePrincipal' },
      schema: {
        tags,
        summary: 'Describe a principal',
        params: principalParams,
        response: { 200: principalReply },
      },
    },
    async (request) => ({
      principal: principalView(
        await principals.describePrincipal(contextOf(request), request.params.principalId),
      ),
    }),
  );

  app.patch<{ Params: PrincipalParams; Body: UpdatePrincipalInput }>(
    '/v1/principals/:principalId',
    {
      config: { action: 'UpdatePrincipal' },
      schema: {
        tags,
        summary: "Change a principal's name, roles or attributes",
        params: principalParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, roles, attributes },
        },
        response: { 200: principalReply },
      },
    },
    async (request) => ({
      principal: principalView(
        await principals.updatePrincipal(contextOf(request), request.params.principalId, request.body),
      ),
    }),
  );

  app.delete<{ Params: PrincipalParams }>(
    '/v1/principals/:principalId',
    {
      config: { action: 'DeletePrincipal' },
      schema: { tags, summary: 'Delete a principal and every credential it holds', params: principalParams },
    },
    async (request, reply) => {
      await principals.deletePrincipal(contextOf(request), request.params.principalId);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: PrincipalParams; Body: { policyIds: string[] } }>(
    '/v1/principals/:principalId/policies',
    {
      config: { action: 'PutPrincipalPolicies' },
      schema: {
        tags,
        summary: 'Replace the policies attached to a principal',
        params: principalParams,
        body: {
          type: 'object',
          required: ['policyIds'],
          additionalProperties: false,
          properties: { policyIds: { type: 'array', maxItems: 50, items: identifier } },
        },
        response: { 200: principalReply },
      },
    },
    async (request) => ({
      principal: principalView(
        await principals.setPolicies(contextOf(request), request.params.principalId, request.body.policyIds),
      ),
    }),
  );

  app.post<{ Params: PrincipalParams; Body: { expiresAt?: string } }>(
    '/v1/principals/:principalId/api-keys',
    {
      config: { action: 'CreateApiKey' },
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: 'Create an API key (its secret is shown once: it is the Bearer token)',
        params: principalParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { expiresAt: { type: 'string', format: 'date-time' } },
        },
        response: {
          201: {
            type: 'object',
            required: ['apiKey', 'secret'],
            properties: { apiKey: apiKeySchema, secret: { type: 'string' } },
          },
        },
      },
    },
    async (request, reply) => {
      const created = await principals.createApiKey(
        contextOf(request),
        request.params.principalId,
        request.body,
      );
      return reply.status(201).send({ apiKey: apiKeyView(created.apiKey), secret: created.secret });
    },
  );

  app.get<{ Params: PrincipalParams }>(
    '/v1/principals/:principalId/api-keys',
    {
      config: { action: 'ListApiKeys' },
      schema: {
        tags,
        summary: "List a principal's API keys (never their secrets)",
        params: principalParams,
        response: {
          200: {
            type: 'object',
            required: ['apiKeys'],
            properties: { apiKeys: { type: 'array', items: apiKeySchema } },
          },
        },
      },
    },
    async (request) => ({
      apiKeys: (await principals.listApiKeys(contextOf(request), request.params.principalId)).map(apiKeyView),
    }),
  );

  app.delete<{ Params: PrincipalParams & { apiKeyId: string } }>(
    '/v1/principals/:principalId/api-keys/:apiKeyId',
    {
      config: { action: 'RevokeApiKey' },
      schema: {
        tags,
        summary: 'Revoke an API key (refused from the next request on)',
        params: {
          type: 'object',
          required: ['principalId', 'apiKeyId'],
          properties: { principalId: identifier, apiKeyId: identifier },
        },
      },
    },
    async (request, reply) => {
      await principals.revokeApiKey(contextOf(request), request.params.principalId, request.params.apiKeyId);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: PrincipalParams }>(
    '/v1/principals/:principalId/access-keys',
    {
      config: { action: 'CreateAccessKey' },
      schema: {
        tags,
        summary: 'Create an access key pair for AWS Signature V4 (the secret is shown once)',
        params: principalParams,
        response: {
          201: {
            type: 'object',
            required: ['accessKeyId', 'secretAccessKey'],
            properties: {
              accessKeyId: { type: 'string' },
              secretAccessKey: { type: 'string' },
              accessKey: accessKeySchema,
            },
          },
        },
      },
    },
    async (request, reply) => {
      const created = await principals.createAccessKey(contextOf(request), request.params.principalId);
      return reply.status(201).send({
        accessKeyId: created.accessKey.accessKeyId,
        secretAccessKey: created.secretAccessKey,
        accessKey: accessKeyView(created.accessKey),
      });
    },
  );

  app.get<{ Params: PrincipalParams }>(
    '/v1/principals/:principalId/access-keys',
    {
      config: { action: 'ListAccessKeys' },
      schema: {
        tags,
        summary: "List a principal's access keys (never their secrets)",
        params: principalParams,
        response: {
          200: {
            type: 'object',
            required: ['accessKeys'],
            properties: { accessKeys: { type: 'array', items: accessKeySchema } },
          },
        },
      },
    },
    async (request) => ({
      accessKeys: (await principals.listAccessKeys(contextOf(request), request.params.principalId)).map(
        accessKeyView,
      ),
    }),
  );

  app.delete<{ Params: PrincipalParams & { accessKeyId: string } }>(
    '/v1/principals/:principalId/access-keys/:accessKeyId',
    {
      config: { action: 'DeleteAccessKey' },
      schema: {
        tags,
        summary: 'Revoke an access key',
        params: {
          type: 'object',
          required: ['principalId', 'accessKeyId'],
          properties: { principalId: identifier, accessKeyId: identifier },
        },
      },
    },
    async (request, reply) => {
      await principals.revokeAccessKey(
        contextOf(request),
        request.params.principalId,
        request.params.accessKeyId,
      );
      return reply.status(204).send();
    },
  );
}
