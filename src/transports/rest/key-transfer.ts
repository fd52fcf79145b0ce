// REST routes that take key material out of the server and bring it back (docs/api.md "Key
// export", "Key backup and restore"): GET /v1/keys/{keyId}/export, POST /v1/keys/backup and
// POST /v1/keys/restore. Parse, call one service method, shape the reply.
import type { FastifyInstance } from 'fastify';
import type { Keyhaven } from '../../keyhaven.js';
import { IMPORT_WRAPPING_ALGORITHMS, type ImportWrappingAlgorithm } from '../../crypto/import-wrapping.js';
import { MAX_BACKUP_KEYS } from '../../services/key-backup-service.js';
import { base64, base64Bounded, enumOf, keyIdParams, keyRef, keyReference } from './schemas.js';
import { b64, fromB64, keyView } from './views.js';
import { contextOf } from './request-context.js';

const tagSchema = ['keys'];
/** An RSA-8192 SPKI is ~1.1 KB: anything longer is not a wrapping key. */
const MAX_SPKI_BYTES = 2048;
/** What the body limit leaves room for; the service and the bundle format bound the rest. */
const MAX_BUNDLE_BYTES = 768 * 1024;
const passphrase = { type: 'string', minLength: 1, maxLength: 1024 } as const;

/** Material never sits in a cache on its way out. */
const NO_STORE = 'no-store';

export function registerKeyTransferRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { exports, backups } = keyhaven;

  app.get<{
    Params: { keyId: string };
    Querystring: { wrappingPublicKey: string; wrappingAlgorithm?: ImportWrappingAlgorithm; version?: string };
  }>(
    '/v1/keys/:keyId/export',
    {
      config: { action: 'ExportKey' },
      schema: {
        tags: tagSchema,
        summary: 'Export an exportable key, wrapped to your RSA public key',
        params: keyIdParams,
        querystring: {
          type: 'object',
          required: ['wrappingPublicKey'],
          additionalProperties: false,
          properties: {
            wrappingPublicKey: {
              ...base64Bounded(MAX_SPKI_BYTES, 1),
              description: 'the RSA public key (2048 bits or more) as SPKI DER, standard base64',
            },
            wrappingAlgorithm: enumOf(IMPORT_WRAPPING_ALGORITHMS),
            version: { type: 'string', pattern: '^(all|[0-9]{1,9})$', description: 'a version or all' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['keyId', 'keySpec', 'keyUsage', 'wrappingAlgorithm', 'versions'],
            properties: {
              keyId: { type: 'string' },
              keySpec: { type: 'string' },
              keyUsage: { type: 'string' },
              wrappingAlgorithm: { type: 'string' },
              versions: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['version', 'createdAt', 'keyMaterialType', 'encryptedKeyMaterial'],
                  properties: {
                    version: { type: 'integer' },
                    createdAt: { type: 'string', format: 'date-time' },
                    keyMaterialType: enumOf(['SYMMETRIC', 'PRIVATE_KEY']),
                    encryptedKeyMaterial: base64,
                    publicKey: { ...base64, description: 'SPKI DER of an asymmetric key' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { wrappingPublicKey, wrappingAlgorithm, version } = request.query;
      const exported = await exports.exportKey(contextOf(request), request.params.keyId, {
        wrappingPublicKey: fromB64(wrappingPublicKey, 'wrappingPublicKey'),
        ...(wrappingAlgorithm ? { wrappingAlgorithm } : {}),
        ...(version === undefined ? {} : { version: version === 'all' ? 'all' : Number(version) }),
      });
      reply.header('cache-control', NO_STORE);
      return {
        ...exported,
        versions: exported.versions.map((v) => ({
          version: v.version,
          createdAt: v.createdAt.toISOString(),
          keyMaterialType: v.materialType,
          encryptedKeyMaterial: b64(v.encryptedKeyMaterial),
          ...(v.publicKeySpki ? { publicKey: b64(v.publicKeySpki) } : {}),
        })),
      };
    },
  );

  app.post<{ Body: { keyIds: string[]; passphrase?: string; wrappingKeyId?: string } }>(
    '/v1/keys/backup',
    {
      config: { action: 'BackupKey' },
      schema: {
        tags: tagSchema,
        summary: 'Back up keys with all their versions as one sealed bundle',
        body: {
          type: 'object',
          required: ['keyIds'],
          additionalProperties: false,
          properties: {
            keyIds: { type: 'array', minItems: 1, maxItems: MAX_BACKUP_KEYS, items: keyReference },
            passphrase: { ...passphrase, description: 'seals the bundle (scrypt, AES-256-GCM)' },
            wrappingKeyId: { ...keyReference, description: 'or: a SYMMETRIC_DEFAULT key sealing it' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['bundle', 'keyIds'],
            properties: { bundle: base64, keyIds: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      const bundle = await backups.backupKeys(ctx, request.body);
      reply.header('cache-control', NO_STORE);
      return { bundle: b64(bundle), keyIds: backups.keyIdsOf(bundle) };
    },
  );

  app.post<{ Body: { bundle: string; passphrase?: string } }>(
    '/v1/keys/restore',
    {
      config: { action: 'RestoreKey' },
      schema: {
        tags: tagSchema,
        summary: 'Restore keys from a backup bundle, with their ids (all or nothing)',
        body: {
          type: 'object',
          required: ['bundle'],
          additionalProperties: false,
          properties: { bundle: base64Bounded(MAX_BUNDLE_BYTES, 1), passphrase },
        },
        response: {
          201: {
            type: 'object',
            required: ['keys'],
            properties: { keys: { type: 'array', items: keyRef } },
          },
        },
      },
    },
    async (request, reply) => {
      const { bundle, passphrase: given } = request.body;
      const keys = await backups.restoreKeys(contextOf(request), {
        bundle: fromB64(bundle, 'bundle'),
        ...(given === undefined ? {} : { passphrase: given }),
      });
      return reply.status(201).send({ keys: keys.map(keyView) });
    },
  );
}
