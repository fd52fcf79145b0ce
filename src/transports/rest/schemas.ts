// JSON schemas shared by the REST routes: validation, serialization and OpenAPI come from these.
import { ERROR_CODES } from '../../domain/errors.js';
import {
  DATA_KEY_PAIR_SPECS,
  DATA_KEY_SPECS,
  KEY_SPECS,
  KEY_USAGES,
  MAC_ALGORITHMS,
  PROTECTION_LEVELS,
  SIGNING_ALGORITHMS,
} from '../../domain/key-spec.js';
import { KEY_ORIGINS } from '../../domain/key.js';
import { KEY_STATES } from '../../domain/key-state.js';

/** Standard base64 with padding (API.md conventions); views.ts fromB64 checks the alphabet. */
export const base64 = {
  type: 'string',
  contentEncoding: 'base64',
} as const;

export const base64Bounded = (maxBytes: number, minBytes = 0) => ({
  ...base64,
  maxLength: Math.ceil(maxBytes / 3) * 4,
  minLength: Math.ceil(minBytes / 3) * 4,
});

export const keyReference = {
  type: 'string',
  minLength: 1,
  maxLength: 2048,
  description: 'key id (UUID), alias/<name>, or kh:<tenant>:key/<uuid>',
} as const;

export const encryptionContext = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096 },
  maxProperties: 64,
  description: 'string pairs bound to the ciphertext as associated data',
} as const;

export const enumOf = (values: readonly string[]) => ({ type: 'string', enum: [...values] }) as const;

export const keySpec = enumOf(KEY_SPECS);
export const keyUsage = enumOf(KEY_USAGES);
export const keyState = enumOf(KEY_STATES);
export const protectionLevel = enumOf(PROTECTION_LEVELS);
export const signingAlgorithm = enumOf(SIGNING_ALGORITHMS);
export const macAlgorithm = enumOf(MAC_ALGORITHMS);
export const dataKeySpec = enumOf(DATA_KEY_SPECS);
export const dataKeyPairSpec = enumOf(DATA_KEY_PAIR_SPECS);
export const rsaEncryptionAlgorithm = enumOf(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
export const messageType = enumOf(['RAW', 'DIGEST']);

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const tags = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 256 },
  maxProperties: 50,
} as const;

export const keyObject = {
  $id: 'Key',
  type: 'object',
  required: [
    'keyId',
    'aliases',
    'keySpec',
    'keyUsage',
    'state',
    'protectionLevel',
    'origin',
    'currentVersion',
    'createdAt',
    'description',
    'tags',
  ],
  properties: {
    keyId: { type: 'string', format: 'uuid' },
    arn: { type: 'string' },
    alias: { type: 'string' },
    aliases: { type: 'array', items: { type: 'string' } },
    keySpec,
    keyUsage,
    state: keyState,
    protectionLevel,
    origin: enumOf(KEY_ORIGINS),
    currentVersion: { type: 'integer' },
    createdAt: dateTime,
    description: { type: 'string' },
    tags,
    rotationPeriodDays: { type: ['integer', 'null'] },
    nextRotationAt: nullableDateTime,
    expiresAt: nullableDateTime,
    deletionDate: nullableDateTime,
    exportable: { type: 'boolean' },
    publicKeyOnly: { type: 'boolean' },
    tenant: { type: 'string' },
  },
} as const;

export const keyRef = { $ref: 'Key#' } as const;

export const errorObject = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: enumOf(ERROR_CODES),
        message: { type: 'string' },
        requestId: { type: 'string' },
      },
    },
  },
} as const;

export const keyIdParams = {
  type: 'object',
  required: ['keyId'],
  properties: { keyId: keyReference },
} as const;

export const batchItemError = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;
