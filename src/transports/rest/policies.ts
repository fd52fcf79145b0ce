// REST routes for policies, key policies, the simulator and /v1/auth/verify (API.md "Identity,
// policy, tenants, audit").
import type { FastifyInstance } from 'fastify';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import type { Keyhaven } from '../../keyhaven.js';
import type { SimulationInput } from '../../services/policy-service.js';
import {
  accessQuestion,
  decidedBySchema,
  decisionView,
  identifier,
  pageQuery,
  policyDocumentSchema,
  policySchema,
  policyVersionSchema,
  policyVersionView,
  policyView,
} from './identity-views.js';
import { contextOf } from './request-context.js';
import { keyIdParams } from './schemas.js';

const tags = ['policies'];
const policyReply = { type: 'object', required: ['policy'], properties: { policy: policySchema } } as const;
const policyParams = {
  type: 'object',
  required: ['policyId'],
  properties: { policyId: identifier },
} as const;
const effectiveAt = { type: 'string', format: 'date-time' } as const;
const keyPolicyReply = {
  type: 'object',
  required: ['keyId', 'version', 'document'],
  properties: { keyId: { type: 'string' }, version: { type: 'integer' }, document: policyDocumentSchema },
} as const;
type PolicyParams = { policyId: string };

export function registerPolicyRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { policies } = keyhaven;

  app.post<{ Body: { name: string; tenantId?: string; document: unknown; effectiveAt?: string } }>(
    '/v1/policies',
    {
      config: { action: 'CreatePolicy' },
      schema: {
        tags,
        summary: 'Create a policy (attach it to principals or to its tenant to apply it)',
        body: {
          type: 'object',
          required: ['name', 'document'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            tenantId: identifier,
            document: { type: 'object' },
            effectiveAt,
          },
        },
        response: { 201: policyReply },
      },
    },
    async (request, reply) => {
      const policy = await policies.createPolicy(contextOf(request), request.body);
      return reply.status(201).send({ policy: policyView(policy) });
    },
  );

  app.get<{ Querystring: { tenantId?: string; limit?: string; cursor?: string } }>(
    '/v1/policies',
    {
      config: { action: 'ListPolicies' },
      schema: {
        tags,
        summary: "List a tenant's policies (key policies are read through their key)",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { tenantId: identifier, ...pageQuery },
        },
        response: {
          200: {
            type: 'object',
            required: ['policies', 'nextCursor'],
            properties: {
              policies: { type: 'array', items: policySchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request) => {
      const { limit, ...rest } = request.query;
      const page = await policies.listPolicies(contextOf(request), {
        ...rest,
        limit: limit === undefined ? undefined : Number(limit),
      });
      return { policies: page.items.map(policyView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: PolicyParams }>(
    '/v1/policies/:policyId',
    {
      config: { action: 'GetPolicy' },
      schema: {
        tags,
        summary: 'Get a policy at the version in force',
        params: policyParams,
        response: { 200: policyReply },
      },
    },
    async (request) => ({
      policy: policyView(await policies.getPolicy(contextOf(request), request.params.policyId)),
    }),
  );

  app.put<{ Params: PolicyParams; Body: { document: unknown; effectiveAt?: string } }>(
    '/v1/policies/:policyId',
    {
      config: { action: 'UpdatePolicy' },
      schema: {
        tags,
        summary: 'Add a version (in force now, or from effectiveAt)',
        params: policyParams,
        body: {
          type: 'object',
          required: ['document'],
          additionalProperties: false,
          properties: { document: { type: 'object' }, effectiveAt },
        },
        response: { 200: policyReply },
      },
    },
    async (request) => ({
      policy: policyView(
        await policies.updatePolicy(contextOf(request), request.params.policyId, request.body),
      ),
    }),
  );

  app.delete<{ Params: PolicyParams }>(
    '/v1/policies/:policyId',
    {
      config: { action: 'DeletePolicy' },
      schema: { tags, summary: 'Delete a policy that nothing has attached', params: policyParams },
    },
    async (request, reply) => {
      await policies.deletePolicy(contextOf(request), request.params.policyId);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: PolicyParams }>(
    '/v1/policies/:policyId/versions',
    {
      config: { action: 'ListPolicyVersions' },
      schema: {
        tags,
        summary: "List a policy's versions",
        params: policyParams,
        response: {
          200: {
            type: 'object',
            required: ['versions'],
            properties: { versions: { type: 'array', items: policyVersionSchema } },
          },
        },
      },
    },
    async (request) => ({
      versions: (await policies.listPolicyVersions(contextOf(request), request.params.policyId)).map(
        policyVersionView,
      ),
    }),
  );

  app.post<{ Params: PolicyParams; Body: { version: number } }>(
    '/v1/policies/:policyId/rollback',
    {
      config: { action: 'RollbackPolicy' },
      schema: {
        tags,
        summary: "Make an earlier version's document the newest version, in force at once",
        params: policyParams,
        body: {
          type: 'object',
          required: ['version'],
          additionalProperties: false,
          properties: { version: { type: 'integer', minimum: 1 } },
        },
        response: { 200: policyReply },
      },
    },
    async (request) => ({
      policy: policyView(
        await policies.rollbackPolicy(contextOf(request), request.params.policyId, request.body.version),
      ),
    }),
  );

  app.get<{ Params: { keyId: string } }>(
    '/v1/keys/:keyId/policy',
    {
      config: { action: 'GetKeyPolicy' },
      schema: {
        tags: ['keys', ...tags],
        summary: "Get a key's policy (version 0 and no statements while it has none)",
        params: keyIdParams,
        response: { 200: keyPolicyReply },
      },
    },
    async (request) => policies.getKeyPolicy(contextOf(request), request.params.keyId),
  );

  app.put<{ Params: { keyId: string }; Body: { document: unknown } }>(
    '/v1/keys/:keyId/policy',
    {
      config: { action: 'PutKeyPolicy' },
      schema: {
        tags: ['keys', ...tags],
        summary: "Write a new version of a key's policy",
        params: keyIdParams,
        body: {
          type: 'object',
          required: ['document'],
          additionalProperties: false,
          properties: { document: { type: 'object' } },
        },
        response: { 200: keyPolicyReply },
      },
    },
    async (request) => policies.putKeyPolicy(contextOf(request), request.params.keyId, request.body.document),
  );

  app.post<{ Body: SimulationInput }>(
    '/v1/simulate',
    {
      config: { action: 'SimulatePolicy' },
      schema: {
        tags,
        summary: 'Decide a request for a principal, naming the deciding statement; nothing is done',
        body: {
          type: 'object',
          required: ['principalId', 'action'],
          additionalProperties: false,
          properties: {
            principalId: identifier,
            ...accessQuestion,
            sourceIp: { type: 'string', maxLength: 64 },
            at: { type: 'string', format: 'date-time' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['decision', 'decidedBy', 'reason'],
            properties: {
              decision: { type: 'string', enum: ['allow', 'deny'] },
              decidedBy: decidedBySchema,
              reason: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => decisionView(await policies.simulate(contextOf(request), request.body)),
  );

  app.post<{ Body: { action: string; keyId?: string; context?: EncryptionContext } }>(
    '/v1/auth/verify',
    {
      config: { action: 'VerifyAccess' },
      schema: {
        tags: ['auth'],
        summary: 'Whether the caller may perform an action (on a key, with a context)',
        body: {
          type: 'object',
          required: ['action'],
          additionalProperties: false,
          properties: accessQuestion,
        },
        response: {
          200: {
            type: 'object',
            required: ['allowed', 'principalId', 'decidedBy'],
            properties: {
              allowed: { type: 'boolean' },
              principalId: { type: 'string' },
              decidedBy: decidedBySchema,
              reason: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const decision = await policies.verifyAccess(ctx, request.body);
      return {
        allowed: decision.allowed,
        principalId: ctx.principal.id,
        decidedBy: decision.decidedBy,
        reason: decision.reason,
      };
    },
  );
}
