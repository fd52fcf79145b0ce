// Authentication of REST requests, denied by default at the mechanism: every route gets the
// authentication hook when it is registered, unless its own options declare `config.public: true`
// or it is registered inside a scope declared public (the swagger UI plugin, whose routes we do not
// write). The decision never looks at the request target, so no spelling of a path can skip it: the
// router decodes and normalises targets before a route, and with it the hook, is chosen.
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import type { Principal } from '../../domain/request-context.js';
import type { Keyhaven } from '../../keyhaven.js';

/**
 * What the hooks need: authentication (AuthService) and admission (the tenant's request quota,
 * TenantService.admit), which throws LimitExceeded when the principal's tenant is over its rate.
 */
export interface Gatekeeper {
  authenticateCached(authorization: string | undefined): Principal | undefined;
  authenticate(authorization: string | undefined): Promise<Principal>;
  admit(principal: Principal): void | Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** API action name, used for metrics (and later authorization and audit). */
    action?: string;
    /** Answers without a credential. Everything else requires one (deny by default). */
    public?: boolean;
  }
}

/** One registered route and whether the mechanism left it public (for the route-table tests). */
export interface RouteEntry {
  method: string;
  url: string;
  public: boolean;
  /** The route's API action (config.action), if it declares one. */
  action?: string;
}

const PUBLIC_SCOPE = 'keyhavenPublicScope';

/** The gatekeeper of a Keyhaven instance: its AuthService, the audit log's health, its tenants' quotas. */
export function gatekeeperFor(keyhaven: Pick<Keyhaven, 'auth' | 'tenants' | 'audit'>): Gatekeeper {
  return {
    authenticateCached: (authorization) => keyhaven.auth.authenticateCached(authorization),
    authenticate: (authorization) => keyhaven.auth.authenticate(authorization),
    admit: (principal) => {
      // Nothing is done that could not be recorded (fail closed), then the tenant's request rate.
      keyhaven.audit.assertWritable();
      return keyhaven.tenants.admit(principal);
    },
  };
}

/** Declares every route registered in `scope` (and its children) public. */
export function declarePublicScope(scope: FastifyInstance): void {
  scope.decorate(PUBLIC_SCOPE, true);
}

/**
 * Installs authentication on `app` before any route exists; returns the route table it sees. Unknown
 * routes (the not-found handler) are authenticated too, so an anonymous caller learns nothing.
 */
export function requireAuthentication(app: FastifyInstance, auth: Gatekeeper): RouteEntry[] {
  const authenticate = authenticationHook(auth);
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    const isPublic = route.config?.public === true || this.hasDecorator(PUBLIC_SCOPE);
    // Said on the route itself too, for the hooks that treat public routes apart (the audit trail).
    route.config = { ...route.config, public: isPublic };
    const action = route.config?.action;
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, public: isPublic, ...(action ? { action } : {}) });
    }
    if (isPublic) {
      // The OpenAPI document says so too: no security requirement on this operation.
      if (route.schema) route.schema = { ...route.schema, security: [] };
      return;
    }
    route.onRequest = [authenticate, ...[route.onRequest ?? []].flat()];
  });
  return routes;
}

/**
 * Authenticates requests no route matched, in an app-wide onRequest hook: before the body is read,
 * so an anonymous caller can make the server parse nothing (the not-found handler's own hooks run
 * only after body parsing). Register it after the hook that sets the request id.
 */
export function authenticateUnknownRoutes(app: FastifyInstance, auth: Gatekeeper): void {
  const authenticate = authenticationHook(auth);
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) return authenticate.call(app, request, reply, done);
    done();
  });
}

/**
 * The not-found handler's hook for a route that hands over to it (the static files of the docs UI
 * call reply.callNotFound()): authenticate before saying something does not exist.
 */
export function notFoundHooks(auth: Gatekeeper): { preHandler: onRequestHookHandler } {
  const authenticate = authenticationHook(auth);
  return {
    preHandler(request, reply, done) {
      if (request.principal) return done();
      authenticate.call(this, request, reply, done);
    },
  };
}

/**
 * Sets `request.principal` from the bearer token, or fails the request with 401 Unauthenticated.
 * With mutual TLS on, verifiedClientCertificate(request) (client-certificate.ts) is where a
 * certificate-based principal will come from; today the certificate only admits the connection.
 */
export async function authenticateRequest(auth: Gatekeeper, request: FastifyRequest): Promise<Principal> {
  const principal =
    auth.authenticateCached(request.headers.authorization) ??
    (await auth.authenticate(request.headers.authorization));
  await auth.admit(principal);
  request.principal = principal;
  return principal;
}

function authenticationHook(auth: Gatekeeper): onRequestHookHandler {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // Callback style with a synchronous fast path: a recently verified token costs no promise.
    const cached = auth.authenticateCached(request.headers.authorization);
    if (cached) {
      try {
        const admitting = auth.admit(cached);
        // Never return the promise: Fastify would take the hook for an async one and continue twice.
        if (admitting) {
          admitting.then(() => admitted(request, cached, done), done);
          return;
        }
      } catch (error) {
        return done(error as Error);
      }
      return admitted(request, cached, done);
    }
    // done() is called exactly once, outside any promise chain that could catch what it throws.
    const admitting = auth.authenticate(request.headers.authorization).then(async (principal) => {
      await auth.admit(principal);
      return principal;
    });
    admitting.then(
      (principal) => admitted(request, principal, done),
      (error: Error) => done(error),
    );
  };
}

function admitted(request: FastifyRequest, principal: Principal, done: HookHandlerDoneFunction): void {
  request.principal = principal;
  done();
}
