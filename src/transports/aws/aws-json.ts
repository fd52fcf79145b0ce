// The AWS KMS dialect on the REST server's port: the AWS JSON 1.1 protocol, `POST /` with
// `X-Amz-Target: TrentService.<Action>`, signed with SigV4 (transports/rest/authentication.ts
// installs the check, as it does every route's). The action is named from the target header
// before anything else happens, so that the audit record and the metrics name it whatever the
// outcome; errors leave as AWS's `{__type, message}` (aws-errors.ts).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KmsError, type ErrorCode } from '../../domain/errors.js';
import { SignatureError } from '../../domain/sigv4.js';
import type { Keyhaven } from '../../keyhaven.js';
import { contextOf } from '../rest/request-context.js';
import { routeConfigOf } from '../rest/route-config.js';
import { AWS_ACTIONS, AWS_KMS_ACTION_NAMES } from './actions/index.js';
import {
  AWS_JSON_CONTENT_TYPE,
  AwsActionError,
  PROTOCOL_ERRORS,
  awsErrorOf,
  awsErrorReply,
  awsSignatureErrorOf,
  type AwsError,
} from './aws-errors.js';
import type { ArnScope } from './key-references.js';
import type { Members } from './wire.js';

const TARGET_PREFIX = 'TrentService.';
/** The largest body an action takes (ImportKeyMaterial, Verify with a 6 KiB signature) with room. */
const BODY_LIMIT = 64 * 1024;

/** A failure of the protocol itself (unknown target, a body that is not a JSON object). */
class ProtocolError extends Error {
  constructor(
    readonly wire: AwsError,
    message: string,
  ) {
    super(message);
  }
}

export function registerAwsDialect(app: FastifyInstance, keyhaven: Keyhaven): void {
  const arns: ArnScope = { region: keyhaven.config.aws.region, accountId: keyhaven.config.aws.accountId };
  void app.register(async (scope) => {
    // The signature covers the body's bytes: keep them as received, whatever the content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(
      '/',
      {
        config: { action: 'UnknownOperation', signature: 'sigv4', transport: 'aws' },
        // Not a REST operation: docs/aws.md documents it, not the OpenAPI document.
        schema: { hide: true },
        bodyLimit: BODY_LIMIT,
        errorHandler: sendAwsError,
        onRequest(request, _reply, done) {
          request.routeConfig = {
            ...routeConfigOf(request),
            action: targetAction(request) ?? 'UnknownOperation',
          };
          done();
        },
      },
      async (request, reply) => {
        const name = targetAction(request);
        if (name === undefined) {
          throw new ProtocolError(
            PROTOCOL_ERRORS.unknownOperation,
            'the X-Amz-Target header names no operation',
          );
        }
        // Own properties only: `constructor` or `toString` must never reach Object.prototype.
        const action = Object.hasOwn(AWS_ACTIONS, name) ? AWS_ACTIONS[name] : undefined;
        if (!action) {
          throw new ProtocolError(
            PROTOCOL_ERRORS.unsupported,
            `${name} is not served by Keyhaven's AWS dialect yet`,
          );
        }
        const result = await action({
          ctx: contextOf(request),
          input: membersOf(request.body),
          keyhaven,
          arns,
        });
        void reply.header('content-type', AWS_JSON_CONTENT_TYPE).header('x-amzn-requestid', request.id);
        return JSON.stringify(result);
      },
    );
  });
}

/**
 * The AWS KMS action the X-Amz-Target header names (`TrentService.Encrypt`: `Encrypt`), if it
 * names one: anything else is no name at all, so that no caller can mint new metric labels or
 * audit actions.
 */
function targetAction(request: FastifyRequest): string | undefined {
  const target = request.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return undefined;
  const name = target.slice(TARGET_PREFIX.length);
  return AWS_KMS_ACTION_NAMES.has(name) ? name : undefined;
}

function membersOf(body: unknown): Members {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  if (bytes.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ProtocolError(PROTOCOL_ERRORS.serialization, 'the request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError(PROTOCOL_ERRORS.serialization, 'the request body must be a JSON object');
  }
  return parsed as Members;
}

function sendAwsError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const { wire, code, message } = describe(error);
  if (wire.status >= 500) request.log.error({ err: error, requestId: request.id }, 'request failed');
  if (error instanceof KmsError && error.retryAfterSeconds !== undefined) {
    void reply.header('retry-after', String(error.retryAfterSeconds));
  }
  request.errorCode = code;
  const failure = awsErrorReply(wire, message, request.id);
  void reply.status(failure.status).headers(failure.headers).send(failure.body);
}

function describe(error: FastifyError | Error): { wire: AwsError; code: ErrorCode; message: string } {
  if (error instanceof SignatureError) {
    return { wire: awsSignatureErrorOf(error.problem), code: 'Unauthenticated', message: error.message };
  }
  if (error instanceof ProtocolError)
    return { wire: error.wire, code: 'ValidationError', message: error.message };
  if (error instanceof AwsActionError) return { wire: error.wire, code: error.code, message: error.message };
  if (error instanceof KmsError) {
    return {
      wire: awsErrorOf(error),
      code: error.code,
      message: error.code === 'Internal' ? 'internal error' : error.message,
    };
  }
  const status = (error as FastifyError).statusCode;
  if ((error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      wire: awsErrorOf(new KmsError('PayloadTooLarge', '')),
      code: 'PayloadTooLarge',
      message: 'request body is too large',
    };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      wire: PROTOCOL_ERRORS.serialization,
      code: 'ValidationError',
      message: 'the request is malformed',
    };
  }
  return { wire: awsErrorOf(new KmsError('Internal', '')), code: 'Internal', message: 'internal error' };
}
