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
  preValidationAsyncHookHandler,
  RouteOptions,
} from 'fastify';
import type { CredentialKind, Principal, Transport } from '../../domain/request-context.js';
import { sha256Hex } from '../../domain/sigv4.js';
import type { SignatureInput } from '../../services/signature-authenticator.js';
import type { Keyhaven } from '../../keyhaven.js';
import type { Authenticated, PresentedCredentials } from '../../services/auth-service.js';
import { clientCertificateOf } from './client-certificate.js';

/**
 * What the hooks need: authentication (AuthService) and admission (the tenant's request quota,
 * TenantService.admit), which throws LimitExceeded when the principal's tenant is over its rate.
 */
export interface Gatekeeper {
  /** Synchronous: a header verified moments ago (the hot path of every request). */
  authenticateCached(authorization: string | undefined): Authenticated | undefined;
  authenticate(presented: PresentedCredentials): Promise<Authenticated>;
  /** SigV4 (SignatureAuthenticator); throws SignatureError. */
  authenticateSignature(input: SignatureInput): Promise<Authenticated>;
  admit(principal: Principal): void | Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** How the principal authenticated (the request context's `credential`). */
    credentialKind?: CredentialKind;
  }
  interface FastifyContextConfig {
    /** API action name, used for metrics (and later authorization and audit). */
    action?: string;
    /** Answers without a credential. Everything else requires one (deny by default). */
    public?: boolean;
    /**
     * Authenticated by an AWS SigV4 signature over the body (the AWS dialect) instead of a bearer
     * token: checked once the body is read, by the hook this module installs.
     */
    signature?: 'sigv4';
    /** The surface the route belongs to, for the request context (default `rest`). */
    transport?: Transport;
  }
}

/** One registered route and whether the mechanism left it public (for the route-table tests). */
export interface RouteEntry {
  method: string;
  url: string;
  public: boolean;
  /** The route's API action (config.action), if it declares one. */
  action?: string;
  /** Authenticated by a SigV4 signature (the AWS dialect), not a bearer token. */
  signature?: 'sigv4';
}

const PUBLIC_SCOPE = 'keyhavenPublicScope';

/** The gatekeeper of a Keyhaven instance: its AuthService, the audit log's health, its tenants' quotas. */
export function gatekeeperFor(
  keyhaven: Pick<Keyhaven, 'auth' | 'signatures' | 'tenants' | 'audit'>,
): Gatekeeper {
  return {
    authenticateCached: (authorization) => keyhaven.auth.authenticateCached(authorization),
    authenticate: (presented) => keyhaven.auth.authenticate(presented),
    authenticateSignature: (input) => keyhaven.signatures.authenticate(input),
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
  const checkSignature = signatureHook(auth);
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    const isPublic = route.config?.public === true || this.hasDecorator(PUBLIC_SCOPE);
    // Said on the route itself too, for the hooks that treat public routes apart (the audit trail).
    route.config = { ...route.config, public: isPublic };
    const action = route.config?.action;
    for (const method of [route.method].flat()) {
      routes.push({
        method,
        url: route.url,
        public: isPublic,
        ...(action ? { action } : {}),
        ...(route.config.signature ? { signature: route.config.signature } : {}),
      });
    }
    if (isPublic) {
      // The OpenAPI document says so too: no security requirement on this operation.
      if (route.schema) route.schema = { ...route.schema, security: [] };
      return;
    }
    if (route.config.signature === 'sigv4') {
      route.preValidation = [checkSignature, ...[route.preValidation ?? []].flat()];
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
      // The request now runs in the not-found handler's context: its route config is that one.
      request.routeConfig = request.routeOptions.config;
      if (request.principal) return done();
      authenticate.call(this, request, reply, done);
    },
  };
}

/**
 * What the request presents: its Authorization header when it has one (a bearer token wins over a
 * client certificate: the header is the identity the caller chose), else the client certificate
 * the TLS layer verified, if any. The certificate is read only for requests without a header.
 */
function presentedBy(request: FastifyRequest): PresentedCredentials {
  const { authorization } = request.headers;
  if (authorization !== undefined) return { authorization };
  const clientCertificate = clientCertificateOf(request);
  return clientCertificate ? { clientCertificate } : {};
}

/**
 * Sets `request.principal` and `request.credentialKind` from the request's credential, or fails
 * the request with 401 Unauthenticated.
 */
export async function authenticateRequest(auth: Gatekeeper, request: FastifyRequest): Promise<Principal> {
  const authenticated =
    auth.authenticateCached(request.headers.authorization) ?? (await auth.authenticate(presentedBy(request)));
  await auth.admit(authenticated.principal);
  setAuthenticated(request, authenticated);
  return authenticated.principal;
}

function authenticationHook(auth: Gatekeeper): onRequestHookHandler {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // Callback style with a synchronous fast path: a recently verified token costs no promise.
    const cached = auth.authenticateCached(request.headers.authorization);
    if (cached) {
      try {
        const admitting = auth.admit(cached.principal);
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
    const admitting = auth.authenticate(presentedBy(request)).then(async (authenticated) => {
      await auth.admit(authenticated.principal);
      return authenticated;
    });
    admitting.then(
      (authenticated) => admitted(request, authenticated, done),
      (error: Error) => done(error),
    );
  };
}

function setAuthenticated(request: FastifyRequest, authenticated: Authenticated): void {
  request.principal = authenticated.principal;
  request.credentialKind = authenticated.credential;
}

function admitted(
  request: FastifyRequest,
  authenticated: Authenticated,
  done: HookHandlerDoneFunction,
): void {
  setAuthenticated(request, authenticated);
  done();
}

/**
 * SigV4 over the request as received: the target as sent, the raw headers, the body's bytes (the
 * route keeps them as a Buffer). Then admission, as for every authenticated request.
 */
function signatureHook(auth: Gatekeeper): preValidationAsyncHookHandler {
  return async function (request: FastifyRequest): Promise<void> {
    const target = request.raw.url ?? '/';
    const query = target.indexOf('?');
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const { principal, credential } = await auth.authenticateSignature({
      request: {
        method: request.method,
        path: query < 0 ? target : target.slice(0, query),
        query: query < 0 ? '' : target.slice(query + 1),
        rawHeaders: request.raw.rawHeaders,
        payloadHash: sha256Hex(body),
      },
      authorization: header('authorization'),
      amzDate: header('x-amz-date'),
      securityToken: header('x-amz-security-token'),
    });
    request.principal = principal;
    request.credentialKind = credential;
    await auth.admit(principal);
  };
}
