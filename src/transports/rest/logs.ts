// REST routes for the audit log (API.md "Identity, policy, tenants, audit": GET /v1/logs, /verify,
// /export), plus the audit key's public key for offline verification.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { AuditRecord } from '../../domain/audit-record.js';
import type { Keyhaven } from '../../keyhaven.js';
import type { ListLogsInput } from '../../services/audit-log.js';
import { identifier, pageQuery } from './identity-views.js';
import { contextOf } from './request-context.js';
import { enumOf } from './schemas.js';

const tags = ['audit'];
const dateTime = { type: 'string', format: 'date-time' } as const;
const range = { from: dateTime, to: dateTime } as const;

const recordSchema = {
  type: 'object',
  required: [
    'seq',
    'time',
    'requestId',
    'tenantId',
    'principalId',
    'action',
    'result',
    'sourceIp',
    'latencyMs',
    'prevHash',
    'hash',
  ],
  properties: {
    seq: { type: 'integer' },
    time: dateTime,
    requestId: { type: 'string' },
    tenantId: { type: 'string' },
    principalId: { type: 'string' },
    action: { type: 'string' },
    keyId: { type: 'string' },
    keyVersion: { type: 'integer' },
    result: enumOf(['allow', 'deny', 'error']),
    errorCode: { type: 'string' },
    sourceIp: { type: 'string' },
    latencyMs: { type: 'integer' },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const;

export function registerLogRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { audit } = keyhaven;

  app.get<{ Querystring: Omit<ListLogsInput, 'limit'> & { limit?: string } }>(
    '/v1/logs',
    {
      config: { action: 'ListLogs' },
      schema: {
        tags,
        summary: "Audit records, oldest first (a tenant's own; every tenant's for system auditors)",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...range,
            keyId: { type: 'string', maxLength: 64 },
            principalId: { type: 'string', maxLength: 256 },
            action: { type: 'string', maxLength: 64 },
            result: enumOf(['allow', 'deny', 'error']),
            tenantId: identifier,
            ...pageQuery,
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['records', 'nextCursor'],
            properties: {
              records: { type: 'array', items: recordSchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request) => {
      const { limit, ...rest } = request.query;
      const page = await audit.listLogs(contextOf(request), {
        ...rest,
        ...(limit === undefined ? {} : { limit: Number(limit) }),
      });
      return { records: page.records satisfies AuditRecord[], nextCursor: page.nextCursor };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/v1/logs/verify',
    {
      config: { action: 'VerifyLogs' },
      schema: {
        tags,
        summary:
          'Verify the chain: the first record changed, removed, inserted or reordered, or a truncated tail',
        querystring: { type: 'object', additionalProperties: false, properties: range },
        response: {
          200: {
            type: 'object',
            required: ['valid', 'records', 'checkpoints', 'unsignedTail'],
            properties: {
              valid: { type: 'boolean' },
              records: { type: 'integer' },
              checkpoints: { type: 'integer' },
              firstInvalid: {
                type: 'object',
                properties: { seq: { type: 'integer' }, reason: { type: 'string' } },
              },
              unsignedTail: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request) => audit.verifyLogs(contextOf(request), request.query),
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/v1/logs/export',
    {
      config: { action: 'ExportLogs' },
      schema: {
        tags,
        summary: 'JSON Lines: every record with its hashes, each signed checkpoint after its record',
        querystring: { type: 'object', additionalProperties: false, properties: range },
      },
    },
    async (request, reply) => {
      const lines = audit.exportLogs(contextOf(request), request.query);
      // The first line is produced before the reply starts, so a refusal is still a proper error.
      const first = await lines.next();
      const stream = Readable.from(
        (async function* () {
          if (!first.done) yield first.value;
          yield* lines;
        })(),
      );
      return reply.type('application/x-ndjson; charset=utf-8').send(stream);
    },
  );

  app.get(
    '/v1/logs/public-key',
    {
      config: { action: 'VerifyLogs' },
      schema: {
        tags,
        summary: "The audit key's public key (PEM), to pin for `keyhaven audit verify`",
        response: {
          200: {
            type: 'object',
            required: ['keyId', 'keyVersion', 'algorithm', 'publicKey'],
            properties: {
              keyId: { type: 'string' },
              keyVersion: { type: 'integer' },
              algorithm: { type: 'string' },
              publicKey: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => audit.publicKey(contextOf(request)),
  );
}
