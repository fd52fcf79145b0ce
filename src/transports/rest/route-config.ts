// A route's config (its action, whether it is public), read once per request. Fastify's
// `request.routeOptions` builds a new object of thirteen fields at every read, and the hooks of
// one request read the config several times (context, audit, metrics).
import type { FastifyContextConfig, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the first onRequest hook, and again when a route hands the request to the not-found
     * handler (reply.callNotFound()); absent for replies Fastify makes before routing.
     */
    routeConfig?: FastifyContextConfig;
  }
}

export function routeConfigOf(request: FastifyRequest): FastifyContextConfig {
  return (request.routeConfig ??= request.routeOptions.config);
}
