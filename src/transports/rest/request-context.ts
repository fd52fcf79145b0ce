// The REST transport's half of the request context (domain/request-context.ts): built once per
// request from what authentication, the router and Fastify already know, and handed to the one
// service method the route calls.
import type { FastifyRequest } from 'fastify';
import { KmsError } from '../../domain/errors.js';
import type { RequestContext } from '../../domain/request-context.js';
import { routeConfigOf } from './route-config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Built on first use by contextOf(). */
    keyhavenContext?: RequestContext;
  }
}

/** The request's context; only routes that require authentication have one. */
export function contextOf(request: FastifyRequest): RequestContext {
  if (request.keyhavenContext) return request.keyhavenContext;
  const { principal, credentialKind } = request;
  // Unreachable for authenticated routes (the hook has run); a public route calling a service is a bug.
  if (!principal || !credentialKind)
    throw new KmsError('Internal', 'a service was called without an authenticated principal');
  request.keyhavenContext = {
    principal,
    tenant: principal.tenant,
    credential: credentialKind,
    sourceIp: request.ip,
    requestId: request.id,
    action: routeConfigOf(request).action ?? 'Unknown',
    transport: routeConfigOf(request).transport ?? 'rest',
    facts: {},
  };
  return request.keyhavenContext;
}
