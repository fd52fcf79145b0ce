// Operational endpoints outside /v1: liveness, readiness, Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import { CIRCUIT_STATES, type RestMetrics } from './metrics.js';
import type { Keyhaven } from '../../keyhaven.js';

export function registerOperationsRoutes(
  app: FastifyInstance,
  keyhaven: Keyhaven,
  metrics: RestMetrics,
): void {
  app.get(
    '/health',
    {
      config: { action: 'Health' },
      schema: {
        tags: ['operations'],
        security: [],
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
    },
  };
  const readinessReply = {
    type: 'object',
    properties: { ready: { type: 'boolean' }, backends: { type: 'array', items: backend } },
  };
  app.get(
    '/ready',
    {
      config: { action: 'Ready' },
      schema: {
        tags: ['operations'],
        security: [],
        response: {
          200: readinessReply,
          503: readinessReply,
        },
      },
    },
    async (_request, reply) => {
      const readiness = await keyhaven.readiness();
      return reply.status(readiness.ready ? 200 : 503).send(readiness);
    },
  );

  app.get(
    '/metrics',
    { config: { action: 'Metrics' }, schema: { tags: ['operations'], security: [], hide: false } },
    async (_request, reply) => {
      void reply.header('content-type', metrics.contentType);
      return metrics.render();
    },
  );

  app.get('/openapi.json', { config: { action: 'OpenApi' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
}
