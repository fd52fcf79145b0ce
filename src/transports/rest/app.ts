// The REST transport: a Fastify app with request ids, bearer authentication on every route not
// declared public, one error model, metrics and an OpenAPI document generated from the route
// schemas. Handlers live per resource.
import { randomUUID } from 'node:crypto';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { KmsError, type ErrorCode } from '../../domain/errors.js';
import type { Keyhaven } from '../../keyhaven.js';
import {
  declarePublicScope,
  authenticateUnknownRoutes,
  gatekeeperFor,
  notFoundHooks,
  requireAuthentication,
  type RouteEntry,
} from './authentication.js';
import { HTTP_STATUS } from './error-status.js';
import { createRestMetrics } from './metrics.js';
import { networkMatcher } from './known-networks.js';
import { errorObject, keyObject } from './schemas.js';
import { registerKeyRoutes } from './keys.js';
import { registerKeyTransferRoutes } from './key-transfer.js';
import { registerAliasRoutes } from './aliases.js';
import { registerCryptoRoutes } from './crypto/index.js';
import { registerPolicyRoutes } from './policies.js';
import { registerPrincipalRoutes } from './principals.js';
import { registerTenantRoutes } from './tenants.js';
import { registerOperationsRoutes } from './operations.js';
import { recordBeforeReplying, recordEveryRequest } from './audit-trail.js';
import { registerLogRoutes } from './logs.js';
import { registerAccessTokenRoutes } from './access-tokens.js';
import { registerConsoleRoutes } from './console.js';
import { routeConfigOf } from './route-config.js';
import { registerAwsDialect } from '../aws/aws-json.js';

/** The Content-Security-Policy of every /docs answer (Swagger UI). */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self' data:",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  "form-action 'self'",
].join('; ');

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route and method, as the authentication mechanism classified it. */
    routeTable: readonly RouteEntry[];
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * minLength/maxLength count UTF-16 code units (string.length), as the services' own checks do,
 * not code points: Ajv's code-point count walks every character of every bounded field, 3.9 µs of
 * an encrypt request's validation against 0.08 µs (its 344-character base64 plaintext is bounded
 * twice). Ajv 8 still honours `unicode: false` but calls it deprecated and says so at each new Ajv
 * instance; that one warning is dropped, every other goes to the console as by default. Should a
 * later Ajv drop the option, lengths return to code points: correct, only slower.
 */
const STRING_LENGTH_IN_CODE_UNITS = {
  unicode: false,
  logger: {
    log: (...args: unknown[]) => console.log(...args),
    warn: (...args: unknown[]) => {
      if (!String(args[0]).startsWith('DEPRECATED: option unicode')) console.warn(...args);
    },
    error: (...args: unknown[]) => console.error(...args),
  },
};

export interface RestAppOptions {
  logger?: FastifyServerOptions['logger'];
  /** Serve HTTPS with these options (src/server-tls.ts builds them from server.tls); else HTTP. */
  https?: HttpsServerOptions;
}

export async function buildRestApp(
  keyhaven: Keyhaven,
  options: RestAppOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    // null: plain HTTP (Fastify creates an https server only for an options object).
    https: options.https ?? null,
    logger: options.logger ?? false,
    // No child logger per request: the error handler logs the request id itself, and a child per
    // request cost measurable time at KMS request rates.
    childLoggerFactory: (logger) => logger,
    // Per-request lines would dominate the log at KMS request rates; /metrics counts requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: keyhaven.config.server.bodyLimitBytes,
    trustProxy: keyhaven.config.server.trustProxy,
    // Not 'x-request-id': with a header name set, Fastify takes any offered value as the id and never
    // calls genReqId, which is where the offered id is checked.
    requestIdHeader: false,
    // Path parameters carry key references (aliases up to 256 characters, keyReference up to 2048);
    // Fastify's default of 100 answered 414 for valid long aliases.
    routerOptions: { maxParamLength: 2048 },
    // Router-level failures (undecodable URL, over-long parameter) bypass the error handler.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const message = tooLong ? 'a path parameter is too long' : 'the URL is not valid';
      const status = tooLong ? 414 : 400;
      // The onRequest hook that sets the request id header has not run, nor will the audit hook.
      void reply.header('x-request-id', request.id);
      if (!keyhaven.config.audit.enabled)
        return sendError(reply, request, status, 'ValidationError', message);
      recordBeforeReplying(keyhaven.audit, request, reply.status(status), 'ValidationError').then(
        () => sendError(reply, request, status, 'ValidationError', message),
        () =>
          sendError(
            reply,
            request,
            503,
            'Unavailable',
            'the audit record of this request could not be written',
          ),
      );
    },
    genReqId: (request) => {
      const offered = request.headers['x-request-id'];
      return typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
    },
    // No coercion: a number where a string belongs is a 400, not silently accepted. Query string
    // numbers are declared as digit strings and parsed by the route.
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        ...STRING_LENGTH_IN_CODE_UNITS,
      },
    },
  });

  // First, before any plugin or route: every route registered from here on is authenticated unless
  // it declares itself public.
  const gatekeeper = gatekeeperFor(keyhaven);
  app.decorate('routeTable', requireAuthentication(app, gatekeeper));

  const knownNetworks = networkMatcher(keyhaven.config.monitoring.knownNetworks);
  const metrics = createRestMetrics(
    keyhaven.materialCache,
    () => keyhaven.keyStoreStatistics(),
    keyhaven.audit,
    keyhaven.keyStoreMetrics,
  );

  app.addSchema(keyObject);
  app.addSchema(errorObject);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keyhaven',
        version: '1',
        description:
          'Keyhaven Key Management Service REST API (see docs/api.md for differences from API.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // The documentation UI's routes (pages, static assets, the spec) are public, as /openapi.json is.
  await app.register(async (docs) => {
    declarePublicScope(docs);
    // Swagger UI's own policy for its pages (no inline script), never framed: it shares the
    // console's origin, so a script it let in could reach the console's signed-in tab. Written out
    // whole rather than edited from @fastify/swagger-ui's default (which allows https: fonts and
    // styles, the swagger.io validator, framing by 'self' and upgrade-insecure-requests, which would
    // send a plain-http server's own assets to https): an upstream change cannot loosen it unseen.
    // Inline styles stay allowed: Swagger UI sets them as it renders.
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
  });

  app.addHook('onRequest', (request, reply, done) => {
    routeConfigOf(request);
    reply.header('x-request-id', request.id);
    // An empty body is no body, whatever its declared type: `POST .../enable` with a JSON content
    // type and nothing in it is a valid request, not malformed JSON.
    if (request.headers['content-length'] === '0') delete request.headers['content-type'];
    done();
  });
  authenticateUnknownRoutes(app, gatekeeper);
  if (keyhaven.config.audit.enabled) recordEveryRequest(app, keyhaven.audit);

  app.addHook('onResponse', (request, reply, done) => {
    const action = routeConfigOf(request).action ?? 'other';
    metrics.observe(action, reply.statusCode, reply.elapsedTime / 1000);
    metrics.observeOutcome({
      tenant: request.principal?.tenant ?? '',
      action,
      statusCode: reply.statusCode,
      ...(request.errorCode ? { errorCode: request.errorCode } : {}),
      usedKey: request.keyhavenContext?.facts.keyId !== undefined,
      fromKnownNetwork: knownNetworks(request.ip),
    });
    done();
  });

  app.setErrorHandler((error: FastifyError | KmsError, request, reply) => {
    const { status, code, message } = describeError(error);
    if (status >= 500) request.log.error({ err: error, requestId: request.id }, 'request failed');
    if (error instanceof KmsError && error.retryAfterSeconds !== undefined) {
      void reply.header('retry-after', String(error.retryAfterSeconds));
    }
    sendError(reply, request, status, code, message);
  });

  app.setNotFoundHandler(notFoundHooks(gatekeeper), (request, reply) => {
    sendError(reply, request, 404, 'NotFound', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  registerOperationsRoutes(app, keyhaven, metrics);
  registerKeyRoutes(app, keyhaven);
  registerKeyTransferRoutes(app, keyhaven);
  registerAliasRoutes(app, keyhaven);
  registerCryptoRoutes(app, keyhaven);
  registerTenantRoutes(app, keyhaven);
  registerPrincipalRoutes(app, keyhaven);
  registerPolicyRoutes(app, keyhaven);
  registerLogRoutes(app, keyhaven);
  registerAccessTokenRoutes(app, keyhaven);
  registerAwsDialect(app, keyhaven);
  if (keyhaven.config.console.enabled) registerConsoleRoutes(app, { oidc: keyhaven.config.console.oidc });
  return app;
}

/** The one error envelope (API.md "Errors"). */
function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: ErrorCode,
  message: string,
): void {
  request.errorCode = code;
  void reply.status(status).send({ error: { code, message, requestId: request.id } });
}

function describeError(error: FastifyError | KmsError): { status: number; code: ErrorCode; message: string } {
  if (error instanceof KmsError) {
    const status = HTTP_STATUS[error.code];
    return {
      status,
      code: error.code,
      message: error.code === 'Internal' ? 'internal error' : error.message,
    };
  }
  if (error.validation) return { status: 400, code: 'ValidationError', message: error.message };
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PayloadTooLarge', message: 'request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'ValidationError', message: 'content-type must be application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'ValidationError', message: 'request body is empty' };
  }
  // Fastify's own 4xx (malformed JSON, bad content length...) keep their status; their messages
  // describe syntax only and never echo the body.
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return {
      status: error.statusCode,
      code: error.statusCode === 413 ? 'PayloadTooLarge' : 'ValidationError',
      message: error instanceof SyntaxError ? 'request body is not valid JSON' : error.message,
    };
  }
  return { status: 500, code: 'Internal', message: 'internal error' };
}
