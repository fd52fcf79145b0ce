// REST routes for tenants (API.md "Identity, policy, tenants, audit"): parse, call TenantService.
import type { FastifyInstance } from 'fastify';
import type { TenantQuotas } from '../../domain/identity.js';
import type { Keyhaven } from '../../keyhaven.js';
import { identifier, pageQuery, quotasSchema, tenantSchema, tenantView } from './identity-views.js';
import { contextOf } from './request-context.js';
import { keyRef } from './schemas.js';
import { keyView } from './views.js';

const tags = ['tenants'];
const tenantReply = { type: 'object', required: ['tenant'], properties: { tenant: tenantSchema } } as const;
const tenantParams = {
  type: 'object',
  required: ['tenantId'],
  properties: { tenantId: identifier },
} as const;
type TenantParams = { tenantId: string };
type PageQuery = { limit?: string; cursor?: string };
const limitOf = (query: PageQuery) => (query.limit === undefined ? undefined : Number(query.limit));

export function registerTenantRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { tenants, keys } = keyhaven;

  app.post<{ Body: { name: string; quotas?: TenantQuotas } }>(
    '/v1/tenants',
    {
      config: { action: 'CreateTenant' },
      schema: {
        tags,
        summary: 'Create a tenant (system administrators)',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, quotas: quotasSchema },
        },
        response: { 201: tenantReply },
      },
    },
    async (request, reply) => {
      const tenant = await tenants.createTenant(contextOf(request), request.body);
      return reply.status(201).send({ tenant: tenantView(tenant) });
    },
  );

  app.get<{ Querystring: PageQuery }>(
    '/v1/tenants',
    {
      config: { action: 'ListTenants' },
      schema: {
        tags,
        summary: "List tenants (all for system administrators, else one's own)",
        querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
        response: {
          200: {
            type: 'object',
            required: ['tenants', 'nextCursor'],
            properties: {
              tenants: { type: 'array', items: tenantSchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request) => {
      const page = await tenants.listTenants(contextOf(request), {
        limit: limitOf(request.query),
        cursor: request.query.cursor,
      });
      return { tenants: page.items.map(tenantView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: TenantParams }>(
    '/v1/tenants/:tenantId',
    {
      config: { action: 'DescribeTenant' },
      schema: { tags, summary: 'Describe a tenant', params: tenantParams, response: { 200: tenantReply } },
    },
    async (request) => ({
      tenant: tenantView(await tenants.describeTenant(contextOf(request), request.params.tenantId)),
    }),
  );

  app.patch<{ Params: TenantParams; Body: { name?: string; quotas?: TenantQuotas; policyIds?: string[] } }>(
    '/v1/tenants/:tenantId',
    {
      config: { action: 'UpdateTenant' },
      schema: {
        tags,
        summary: "Change a tenant's name and quotas (system administrators) or its tenant-wide policies",
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 256 },
            quotas: quotasSchema,
            policyIds: { type: 'array', maxItems: 50, items: identifier },
          },
        },
        response: { 200: tenantReply },
      },
    },
    async (request) => ({
      tenant: tenantView(
        await tenants.updateTenant(contextOf(request), request.params.tenantId, request.body),
      ),
    }),
  );

  app.get<{ Params: TenantParams; Querystring: PageQuery }>(
    '/v1/tenants/:tenantId/keys',
    {
      config: { action: 'ListKeys' },
      schema: {
        tags,
        summary: "List a tenant's keys",
        params: tenantParams,
        querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
        response: {
          200: {
            type: 'object',
            required: ['keys', 'nextCursor'],
            properties: { keys: { type: 'array', items: keyRef }, nextCursor: { type: ['string', 'null'] } },
          },
        },
      },
    },
    async (request) => {
      const page = await keys.listKeys(contextOf(request), {
        tenantId: request.params.tenantId,
        limit: limitOf(request.query),
        cursor: request.query.cursor,
      });
      return { keys: page.keys.map(keyView), nextCursor: page.nextCursor };
    },
  );
}
