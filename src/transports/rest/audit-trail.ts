// The REST transport's half of the audit log: after the route (or the error handler) has made its
// reply and before a byte of it leaves, the request's record joins the chain (services/audit-log.ts).
// If it cannot be written, the reply is replaced by 503 Unavailable: no answer leaves unrecorded.
// Public operational routes (/health, /ready, /openapi.json, /docs) are not audited unless a
// credential comes with the request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry, AuditResult } from '../../domain/audit-record.js';
import { KmsError, type ErrorCode } from '../../domain/errors.js';
import type { AuditLog } from '../../services/audit-log.js';
import { awsErrorOf, awsErrorReply } from '../aws/aws-errors.js';
import { routeConfigOf } from './route-config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code the reply carries, set by the error handler (for the audit record). */
    errorCode?: ErrorCode;
    /** The request's record is written (by the hook, or before a reply sent outside the hooks). */
    audited?: boolean;
  }
}

export function recordEveryRequest(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    // A public route is recorded only when a credential was offered (/ready checks it): a stolen
    // token tried there leaves a trace like anywhere else.
    const unrecorded = routeConfigOf(request).public && request.headers.authorization === undefined;
    if (unrecorded || request.audited) return done(null, payload);
    request.audited = true;
    recordRequest(audit, request, reply).then(
      () => done(null, payload),
      () => {
        request.errorCode = 'Unavailable';
        const message = 'the audit record of this request could not be written';
        if (routeConfigOf(request).transport === 'aws') {
          // The AWS dialect's own shape, so that the SDKs see the exception they retry.
          const failure = awsErrorReply(
            awsErrorOf(new KmsError('Unavailable', message)),
            message,
            request.id,
          );
          void reply.code(failure.status).headers(failure.headers);
          return done(null, failure.body);
        }
        // As any other 503: the database (or disk) may be back in a moment.
        void reply.code(503).header('retry-after', '1').type('application/json; charset=utf-8');
        done(null, JSON.stringify({ error: { code: 'Unavailable', message, requestId: request.id } }));
      },
    );
  });
}

/**
 * For replies Fastify sends outside the hooks (its framework errors: a malformed URL, a path
 * parameter too long): the record is written first, with the reply's status and code.
 */
export function recordBeforeReplying(
  audit: AuditLog,
  request: FastifyRequest,
  reply: FastifyReply,
  errorCode: ErrorCode,
): Promise<void> {
  request.errorCode = errorCode;
  request.audited = true;
  return recordRequest(audit, request, reply);
}

/** Writes the request's records (auditEntriesOf): one, or one per key it acted on. */
async function recordRequest(audit: AuditLog, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await Promise.all(auditEntriesOf(request, reply).map((entry) => audit.record(entry)));
}

/**
 * The records of a request: one, or one per key when it acted on several (RequestFacts.keyIds),
 * all alike but for the keyId (and the version, which only a single-key record carries).
 */
function auditEntriesOf(request: FastifyRequest, reply: FastifyReply): AuditEntry[] {
  const entry = auditEntryOf(request, reply);
  const keyIds = request.keyhavenContext?.facts.keyIds;
  if (keyIds === undefined || keyIds.length < 2) return [entry];
  return keyIds.map((keyId) => {
    const each: AuditEntry = { ...entry, keyId: text(keyId) };
    delete each.keyVersion;
    return each;
  });
}

/** The record of a request: who, what, on which key, how it ended. Never a body, never a secret. */
export function auditEntryOf(request: FastifyRequest, reply: FastifyReply): AuditEntry {
  const status = reply.statusCode;
  const principal = request.principal;
  const facts = request.keyhavenContext?.facts ?? {};
  const action = routeConfigOf(request).action ?? (request.is404 ? 'UnknownRoute' : 'Unknown');
  const entry: AuditEntry = {
    time: new Date().toISOString(),
    requestId: text(request.id),
    tenantId: text(facts.keyTenant ?? principal?.tenant ?? ''),
    principalId: text(principal?.id ?? ''),
    // A recipient-bound request (domain/recipient.ts) is told apart by its action's name, which the
    // kh-audit-v1 record format has room for: Decrypt becomes DecryptForRecipient.
    action: facts.recipient ? `${action}ForRecipient` : action,
    result: resultOf(status, request.errorCode),
    sourceIp: text(request.ip ?? ''),
    latencyMs: Math.max(0, Math.round(reply.elapsedTime)),
  };
  if (facts.keyId !== undefined) entry.keyId = facts.keyId;
  if (facts.keyVersion !== undefined) entry.keyVersion = facts.keyVersion;
  if (status >= 400) entry.errorCode = request.errorCode ?? 'ValidationError';
  return entry;
}

/** By the reply's code where it has one: the AWS dialect answers a denial with 400, not 403. */
function resultOf(status: number, errorCode: ErrorCode | undefined): AuditResult {
  if (status < 400) return 'allow';
  if (errorCode !== undefined)
    return errorCode === 'AccessDenied' || errorCode === 'Unauthenticated' ? 'deny' : 'error';
  return status === 401 || status === 403 ? 'deny' : 'error';
}

/** Hashing needs well-formed text: a lone surrogate (from a token's claims, say) becomes U+FFFD. */
const text = (value: string) => (value.isWellFormed() ? value : value.toWellFormed());
