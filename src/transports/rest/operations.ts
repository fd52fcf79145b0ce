// Operational endpoints outside /v1: liveness, readiness, Prometheus metrics, the OpenAPI document.
// /health, /openapi.json and /ready's status are public; /ready's backend details and /metrics need
// a credential (/metrics is public only with server.metricsPublic, as Vault's
// unauthenticated_metrics_access).
import type { FastifyInstance } from 'fastify';
import { CIRCUIT_STATES, type RestMetrics } from './metrics.js';
import type { Keyhaven } from '../../keyhaven.js';
import { authenticateRequest, gatekeeperFor } from './authentication.js';
import { contextOf } from './request-context.js';

export function registerOperationsRoutes(
  app: FastifyInstance,
  keyhaven: Keyhaven,
  metrics: RestMetrics,
): void {
  app.get(
    '/health',
    {
      config: { action: 'Health', public: true },
      schema: {
        tags: ['operations'],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  const backend = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      kind: { type: 'string' },
      healthy: { type: 'boolean' },
      detail: { type: 'string' },
      circuit: { type: 'string', enum: CIRCUIT_STATES },
      pendingReplications: { type: 'integer' },
      failoverGroup: {
        type: 'string',
        description:
          'parts that stand in for one another (HSM backends: pkcs11; EXTERNAL providers: external): one healthy part keeps the server ready',
      },
    },
  };
  const readinessReply = {
    type: 'object',
    required: ['ready'],
    properties: {
      ready: { type: 'boolean' },
      checkedAt: {
        type: 'string',
        format: 'date-time',
        description: 'when the background probe ran (authenticated callers)',
      },
      backends: {
        type: 'array',
        items: backend,
        description: 'only for authenticated callers',
      },
    },
  };
  app.get(
    '/ready',
    {
      config: { action: 'Ready', public: true },
      schema: {
        tags: ['operations'],
        description:
          'Status for anyone; backend names, kinds, circuits and last errors only with a credential (a wrong one is 401).',
        response: {
          200: readinessReply,
          503: readinessReply,
        },
      },
    },
    async (request, reply) => {
      const withDetails = request.headers.authorization !== undefined;
      if (withDetails) await authenticateRequest(gatekeeperFor(keyhaven), request);
      const readiness = await keyhaven.readiness();
      const status = readiness.ready ? 200 : 503;
      return reply.status(status).send(withDetails ? readiness : { ready: readiness.ready });
    },
  );

  app.get(
    '/metrics',
    {
      config: { action: 'Metrics', public: keyhaven.config.server.metricsPublic },
      schema: { tags: ['operations'] },
    },
    async (request, reply) => {
      // Metrics count every tenant's requests: for the default tenant's admins and auditors.
      if (!keyhaven.config.server.metricsPublic) {
        await keyhaven.access.authorizeServerWide(contextOf(request), 'Metrics');
      }
      void reply.header('content-type', metrics.contentType);
      return metrics.render();
    },
  );

  app.get(
    '/openapi.json',
    { config: { action: 'OpenApi', public: true }, schema: { hide: true } },
    async () => app.swagger(),
  );
}
