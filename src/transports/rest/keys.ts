// REST routes for keys (API.md "Keys"): parse, call one KeyService method, shape the reply.
import type { FastifyInstance } from 'fastify';
import { KEY_ORIGINS } from '../../domain/key.js';
import type { KeyState } from '../../domain/key-state.js';
import type { Keyhaven } from '../../keyhaven.js';
import {
  IMPORT_WRAPPING_ALGORITHMS,
  IMPORT_WRAPPING_KEY_SPECS,
  type ImportParametersOptions,
  type ImportWrappingAlgorithm,
  type KeyMaterialType,
} from '../../services/key-import-service.js';
import { MAX_DESCRIPTION_LENGTH } from '../../services/key-records.js';
import type { CreateKeyInput, UpdateKeyInput } from '../../services/key-service.js';
import { USAGE_OPERATIONS } from '../../services/usage-recorder.js';
import {
  base64Bounded,
  enumOf,
  keyIdParams,
  keyRef,
  keyReference,
  keySpec,
  keyState,
  keyUsage,
  protectionLevel,
  tags,
} from './schemas.js';
import { b64, fromB64, keyView, versionView } from './views.js';
import { contextOf } from './request-context.js';

type KeyIdParams = { keyId: string };
const keyReply = { type: 'object', required: ['key'], properties: { key: keyRef } } as const;
/** A key with the id of the material imported into it or deleted from it (AWS's KeyMaterialId). */
const keyMaterialReply = {
  type: 'object',
  required: ['key', 'keyMaterialId'],
  properties: { key: keyRef, keyMaterialId: { type: ['string', 'null'] } },
} as const;
const tagSchema = ['keys'];
const digits = { type: 'string', pattern: '^[0-9]{1,6}$' } as const;
/** Every usage counter is present (API.md: {encrypt, decrypt, sign, verify, ...}), zero until used. */
const ZERO_USAGE: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(USAGE_OPERATIONS.map((operation) => [operation, 0])),
);

export function registerKeyRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { keys, imports } = keyhaven;

  app.post<{ Body: CreateKeyInput }>(
    '/v1/keys',
    {
      config: { action: 'CreateKey' },
      // Every field is optional, so no body at all creates a SYMMETRIC_DEFAULT key (as AWS CreateKey).
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: tagSchema,
        summary: 'Create a key',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            keySpec,
            keyUsage,
            alias: { type: 'string', maxLength: 256 },
            description: { type: 'string', maxLength: MAX_DESCRIPTION_LENGTH },
            tags,
            protectionLevel,
            origin: enumOf(KEY_ORIGINS),
            rotationPeriodDays: { type: 'integer' },
            expiresAt: { type: 'string', format: 'date-time' },
            exportable: { type: 'boolean' },
            policy: { type: 'object', description: 'a key policy document, as PUT /v1/keys/{keyId}/policy' },
            clientToken: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              pattern: '^[\\x20-\\x7e]+$',
              description:
                'makes retries safe: the same token and parameters within 24 h answer the key created first (201); other parameters are 409 ClientTokenMismatch',
            },
          },
        },
        response: { 201: keyReply },
      },
    },
    async (request, reply) => {
      const key = await keys.createKey(contextOf(request), request.body);
      return reply.status(201).send({ key: keyView(key) });
    },
  );

  app.get<{
    Querystring: { alias?: string; tag?: string; state?: KeyState; limit?: string; cursor?: string };
  }>(
    '/v1/keys',
    {
      config: { action: 'ListKeys' },
      schema: {
        tags: tagSchema,
        summary: 'List keys',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            alias: { type: 'string', maxLength: 256 },
            tag: { type: 'string', maxLength: 400, description: 'key:value' },
            state: keyState,
            limit: digits,
            cursor: { type: 'string', maxLength: 512 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['keys', 'nextCursor'],
            properties: { keys: { type: 'array', items: keyRef }, nextCursor: { type: ['string', 'null'] } },
          },
        },
      },
    },
    async (request) => {
      const { limit, ...filter } = request.query;
      const page = await keys.listKeys(contextOf(request), {
        ...filter,
        limit: limit === undefined ? undefined : Number(limit),
      });
      return { keys: page.keys.map(keyView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Querystring: { keyId: string } & ImportParametersOptions }>(
    '/v1/keys/import-parameters',
    {
      config: { action: 'GetImportParameters' },
      schema: {
        tags: tagSchema,
        summary: 'Get a wrapping key and import token for BYOK',
        querystring: {
          type: 'object',
          required: ['keyId'],
          additionalProperties: false,
          properties: {
            keyId: keyReference,
            wrappingAlgorithm: enumOf(IMPORT_WRAPPING_ALGORITHMS),
            wrappingKeySpec: enumOf(IMPORT_WRAPPING_KEY_SPECS),
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              keyId: { type: 'string' },
              importToken: { type: 'string' },
              wrappingPublicKey: { type: 'string' },
              wrappingAlgorithm: { type: 'string' },
              wrappingKeySpec: { type: 'string' },
              expiresAt: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
    async (request) => {
      const { keyId, ...options } = request.query;
      const parameters = await imports.getImportParameters(contextOf(request), keyId, options);
      return { ...parameters, expiresAt: parameters.expiresAt.toISOString() };
    },
  );

  app.get<{ Params: KeyIdParams }>(
    '/v1/keys/:keyId',
    {
      config: { action: 'DescribeKey' },
      schema: {
        tags: tagSchema,
        summary: 'Describe a key',
        params: keyIdParams,
        response: { 200: keyReply },
      },
    },
    async (request) => ({ key: keyView(await keys.describeKey(contextOf(request), request.params.keyId)) }),
  );

  app.patch<{ Params: KeyIdParams; Body: UpdateKeyInput }>(
    '/v1/keys/:keyId',
    {
      config: { action: 'UpdateKey' },
      schema: {
        tags: tagSchema,
        summary: 'Update description, tags, rotation period or expiry',
        params: keyIdParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            description: { type: 'string', maxLength: MAX_DESCRIPTION_LENGTH },
            tags,
            rotationPeriodDays: { type: ['integer', 'null'] },
            expiresAt: { type: ['string', 'null'], format: 'date-time' },
          },
        },
        response: { 200: keyReply },
      },
    },
    async (request) => ({
      key: keyView(await keys.updateKey(contextOf(request), request.params.keyId, request.body)),
    }),
  );

  const transitions = [
    ['enable', 'EnableKey', 'Enable a key', keys.enableKey.bind(keys)],
    ['disable', 'DisableKey', 'Disable a key', keys.disableKey.bind(keys)],
    ['rotate', 'RotateKey', 'Rotate a key (adds a version)', keys.rotateKey.bind(keys)],
    [
      'cancel-deletion',
      'CancelKeyDeletion',
      'Cancel a scheduled deletion',
      keys.cancelKeyDeletion.bind(keys),
    ],
  ] as const;
  for (const [path, action, summary, run] of transitions) {
    app.post<{ Params: KeyIdParams }>(
      `/v1/keys/:keyId/${path}`,
      {
        config: { action },
        schema: { tags: tagSchema, summary, params: keyIdParams, response: { 200: keyReply } },
      },
      async (request) => ({ key: keyView(await run(contextOf(request), request.params.keyId)) }),
    );
  }

  app.delete<{ Params: KeyIdParams; Querystring: { pendingWindowDays?: string } }>(
    '/v1/keys/:keyId',
    {
      config: { action: 'ScheduleKeyDeletion' },
      schema: {
        tags: tagSchema,
        summary: 'Schedule deletion after a waiting period of 7-30 days',
        params: keyIdParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { pendingWindowDays: digits },
        },
        response: { 200: keyReply },
      },
    },
    async (request) => {
      const days = request.query.pendingWindowDays;
      const key = await keys.scheduleKeyDeletion(
        contextOf(request),
        request.params.keyId,
        days === undefined ? undefined : Number(days),
      );
      return { key: keyView(key) };
    },
  );

  app.get<{ Params: KeyIdParams }>(
    '/v1/keys/:keyId/versions',
    {
      config: { action: 'ListKeyVersions' },
      schema: {
        tags: tagSchema,
        summary: 'List key versions',
        params: keyIdParams,
        response: {
          200: {
            type: 'object',
            required: ['keyId', 'versions'],
            properties: {
              keyId: { type: 'string' },
              versions: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    version: { type: 'integer' },
                    state: { type: 'string' },
                    createdAt: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const { keyId, versions } = await keys.listKeyVersions(contextOf(request), request.params.keyId);
      return { keyId, versions: versions.map(versionView) };
    },
  );

  app.get<{ Params: KeyIdParams }>(
    '/v1/keys/:keyId/public-key',
    {
      config: { action: 'GetPublicKey' },
      schema: {
        tags: tagSchema,
        summary: 'Get the public key (PEM and DER SPKI)',
        params: keyIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              keyId: { type: 'string' },
              keySpec: { type: 'string' },
              keyUsage: { type: 'string' },
              publicKey: { type: 'string' },
              spki: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const view = await keys.getPublicKey(contextOf(request), request.params.keyId);
      return { ...view, spki: b64(view.spki) };
    },
  );

  app.get<{ Params: KeyIdParams }>(
    '/v1/keys/:keyId/usage',
    {
      config: { action: 'GetKeyUsage' },
      schema: {
        tags: tagSchema,
        summary: 'Usage counters of a key',
        params: keyIdParams,
        response: {
          200: {
            type: 'object',
            additionalProperties: { type: 'integer' },
            properties: { keyId: { type: 'string' }, lastUsedAt: { type: ['string', 'null'] } },
          },
        },
      },
    },
    async (request) => {
      const usage = await keyhaven.keys.getKeyUsage(contextOf(request), request.params.keyId);
      return {
        keyId: usage.keyId,
        ...ZERO_USAGE,
        ...usage.counts,
        lastUsedAt: usage.lastUsedAt?.toISOString() ?? null,
      };
    },
  );

  app.post<{
    Params: KeyIdParams;
    Body: {
      importToken: string;
      encryptedKeyMaterial: string;
      keyMaterialType?: KeyMaterialType;
      wrappingAlgorithm?: ImportWrappingAlgorithm;
      expiresAt?: string;
    };
  }>(
    '/v1/keys/:keyId/import',
    {
      config: { action: 'ImportKeyMaterial' },
      schema: {
        tags: tagSchema,
        summary: 'Import key material wrapped under the import wrapping key (RSA-OAEP or RSA-AES key wrap)',
        params: keyIdParams,
        body: {
          type: 'object',
          required: ['importToken', 'encryptedKeyMaterial'],
          additionalProperties: false,
          properties: {
            importToken: { type: 'string', minLength: 1, maxLength: 256 },
            // RSA_AES_KEY_WRAP carries a PKCS#8 RSA-4096 key (about 2.4 KB) after the 384-byte RSA block.
            encryptedKeyMaterial: base64Bounded(8192, 1),
            wrappingAlgorithm: enumOf(IMPORT_WRAPPING_ALGORITHMS),
            keyMaterialType: enumOf(['SYMMETRIC', 'PRIVATE_KEY', 'PUBLIC_KEY']),
            expiresAt: { type: 'string', format: 'date-time' },
          },
        },
        response: { 200: keyMaterialReply },
      },
    },
    async (request) => {
      const { importToken, encryptedKeyMaterial, keyMaterialType, wrappingAlgorithm, expiresAt } =
        request.body;
      const key = await imports.importKeyMaterial(contextOf(request), request.params.keyId, {
        importToken,
        encryptedKeyMaterial: fromB64(encryptedKeyMaterial, 'encryptedKeyMaterial'),
        keyMaterialType,
        wrappingAlgorithm,
        expiresAt,
      });
      return { key: keyView(key), keyMaterialId: key.keyMaterialId };
    },
  );

  app.delete<{ Params: KeyIdParams }>(
    '/v1/keys/:keyId/material',
    {
      config: { action: 'DeleteImportedKeyMaterial' },
      schema: {
        tags: tagSchema,
        summary: 'Delete imported key material: the key awaits the same material again (PendingImport)',
        params: keyIdParams,
        response: { 200: keyMaterialReply },
      },
    },
    async (request) => {
      const key = await imports.deleteImportedKeyMaterial(contextOf(request), request.params.keyId);
      return { key: keyView(key), keyMaterialId: key.keyMaterialId };
    },
  );
}
