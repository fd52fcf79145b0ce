// REST routes for cryptographic operations (API.md): base64 in, one CryptoService call, base64 out.
import type { FastifyInstance } from 'fastify';
import type { EncryptionContext } from '../../domain/encryption-context.js';
import type { DataKeyPairSpec, DataKeySpec, MacAlgorithm, SigningAlgorithm } from '../../domain/key-spec.js';
import type { Keyhaven } from '../../keyhaven.js';
import type { MessageType, RsaEncryptionAlgorithm } from '../../ports/key-backend.js';
import { LIMITS } from '../../services/crypto-service.js';
import {
  base64Bounded,
  batchItemError,
  dataKeyPairSpec,
  dataKeySpec,
  encryptionContext,
  keyReference,
  macAlgorithm,
  messageType,
  rsaEncryptionAlgorithm,
  signingAlgorithm,
} from './schemas.js';
import { b64, fromB64 } from './views.js';

const tags = ['crypto'];
const keyId = keyReference;
const version = { type: 'integer' } as const;
const text = { type: 'string' } as const;
// Schemas allow a little more than the service limit so an oversize value gets the service's
// precise message; the service enforces the real limits for every surface.
const plaintextField = base64Bounded(LIMITS.plaintextBytes + 3);
const ciphertextField = base64Bounded(LIMITS.ciphertextBytes + 3, 1);
const messageField = base64Bounded(LIMITS.messageBytes + 3);

const body = (required: string[], properties: Record<string, unknown>) =>
  ({ type: 'object', required, additionalProperties: false, properties }) as const;
const reply = (properties: Record<string, unknown>) => ({ type: 'object', properties }) as const;

const encryptItem = body(['keyId', 'plaintext'], {
  keyId,
  plaintext: plaintextField,
  context: encryptionContext,
});
const decryptItem = body(['ciphertext'], { ciphertext: ciphertextField, context: encryptionContext, keyId });
const encryptReply = reply({ keyId: text, keyVersion: version, ciphertext: text });
const decryptReply = reply({ keyId: text, keyVersion: version, plaintext: text });

type EncryptBody = { keyId: string; plaintext: string; context?: EncryptionContext };
type DecryptBody = { ciphertext: string; context?: EncryptionContext; keyId?: string };

export function registerCryptoRoutes(app: FastifyInstance, keyhaven: Keyhaven): void {
  const { crypto } = keyhaven;

  app.post<{ Body: EncryptBody }>(
    '/v1/encrypt',
    {
      config: { action: 'Encrypt' },
      schema: {
        tags,
        summary: 'Encrypt up to 4096 bytes',
        body: encryptItem,
        response: { 200: encryptReply },
      },
    },
    async (request) => {
      const { keyId, plaintext, context } = request.body;
      const result = await crypto.encrypt(keyId, fromB64(plaintext, 'plaintext'), context);
      return { keyId: result.keyId, keyVersion: result.keyVersion, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: DecryptBody }>(
    '/v1/decrypt',
    {
      config: { action: 'Decrypt' },
      schema: { tags, summary: 'Decrypt a ciphertext', body: decryptItem, response: { 200: decryptReply } },
    },
    async (request) => {
      const { ciphertext, context, keyId } = request.body;
      const result = await crypto.decrypt(fromB64(ciphertext, 'ciphertext'), context, keyId);
      return { keyId: result.keyId, keyVersion: result.keyVersion, plaintext: b64(result.plaintext) };
    },
  );

  app.post<{
    Body: {
      ciphertext: string;
      context?: EncryptionContext;
      destinationKeyId: string;
      destinationContext?: EncryptionContext;
    };
  }>(
    '/v1/reencrypt',
    {
      config: { action: 'ReEncrypt' },
      schema: {
        tags,
        summary: 'Decrypt and encrypt again under another key, without exposing the plaintext',
        body: body(['ciphertext', 'destinationKeyId'], {
          ciphertext: ciphertextField,
          context: encryptionContext,
          destinationKeyId: keyId,
          destinationContext: encryptionContext,
        }),
        response: {
          200: reply({
            keyId: text,
            keyVersion: version,
            ciphertext: text,
            sourceKeyId: text,
            sourceKeyVersion: version,
          }),
        },
      },
    },
    async (request) => {
      const { ciphertext, context, destinationKeyId, destinationContext } = request.body;
      const result = await crypto.reencrypt(
        fromB64(ciphertext, 'ciphertext'),
        context,
        destinationKeyId,
        destinationContext,
      );
      return { ...result, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: { items: EncryptBody[] } }>(
    '/v1/encrypt/batch',
    {
      config: { action: 'EncryptBatch' },
      schema: {
        tags,
        summary: 'Encrypt up to 100 items; each result is a ciphertext or an error',
        body: body(['items'], {
          items: { type: 'array', minItems: 1, maxItems: LIMITS.batchItems, items: encryptItem },
        }),
        response: {
          200: reply({ results: { type: 'array', items: { anyOf: [batchItemError, encryptReply] } } }),
        },
      },
    },
    async (request) => {
      const results = await crypto.encryptBatch(
        request.body.items.map((i) => ({
          keyId: i.keyId,
          plaintext: fromB64(i.plaintext, 'plaintext'),
          context: i.context,
        })),
      );
      return {
        results: results.map((r) =>
          'error' in r ? r : { keyId: r.keyId, keyVersion: r.keyVersion, ciphertext: b64(r.ciphertext) },
        ),
      };
    },
  );

  app.post<{ Body: { items: DecryptBody[] } }>(
    '/v1/decrypt/batch',
    {
      config: { action: 'DecryptBatch' },
      schema: {
        tags,
        summary: 'Decrypt up to 100 items; each result is a plaintext or an error',
        body: body(['items'], {
          items: { type: 'array', minItems: 1, maxItems: LIMITS.batchItems, items: decryptItem },
        }),
        response: {
          200: reply({ results: { type: 'array', items: { anyOf: [batchItemError, decryptReply] } } }),
        },
      },
    },
    async (request) => {
      const results = await crypto.decryptBatch(
        request.body.items.map((i) => ({
          ciphertext: fromB64(i.ciphertext, 'ciphertext'),
          context: i.context,
          keyId: i.keyId,
        })),
      );
      return {
        results: results.map((r) =>
          'error' in r ? r : { keyId: r.keyId, keyVersion: r.keyVersion, plaintext: b64(r.plaintext) },
        ),
      };
    },
  );

  app.post<{
    Body: { keyId: string; keySpec?: DataKeySpec; context?: EncryptionContext; withoutPlaintext?: boolean };
  }>(
    '/v1/datakey',
    {
      config: { action: 'GenerateDataKey' },
      schema: {
        tags,
        summary: 'Generate a data key for envelope encryption',
        body: body(['keyId'], {
          keyId,
          keySpec: dataKeySpec,
          context: encryptionContext,
          withoutPlaintext: { type: 'boolean' },
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, ciphertext: text, plaintext: text }) },
      },
    },
    async (request) => {
      const { keyId: id, keySpec, context, withoutPlaintext } = request.body;
      const result = await crypto.generateDataKey(id, keySpec, context, withoutPlaintext);
      return {
        keyId: result.keyId,
        keyVersion: result.keyVersion,
        ciphertext: b64(result.ciphertext),
        ...(result.plaintext ? { plaintext: b64(result.plaintext) } : {}),
      };
    },
  );

  app.post<{
    Body: {
      keyId: string;
      keyPairSpec: DataKeyPairSpec;
      context?: EncryptionContext;
      withoutPlaintext?: boolean;
    };
  }>(
    '/v1/datakey-pair',
    {
      config: { action: 'GenerateDataKeyPair' },
      schema: {
        tags,
        summary: 'Generate an asymmetric data key pair; the private key comes back encrypted',
        body: body(['keyId', 'keyPairSpec'], {
          keyId,
          keyPairSpec: dataKeyPairSpec,
          context: encryptionContext,
          withoutPlaintext: { type: 'boolean' },
        }),
        response: {
          200: reply({
            keyId: text,
            keyVersion: version,
            keyPairSpec: text,
            publicKey: text,
            privateKeyCiphertext: text,
            privateKeyPlaintext: text,
          }),
        },
      },
    },
    async (request) => {
      const { keyId: id, keyPairSpec, context, withoutPlaintext } = request.body;
      const result = await crypto.generateDataKeyPair(id, keyPairSpec, context, withoutPlaintext);
      return {
        keyId: result.keyId,
        keyVersion: result.keyVersion,
        keyPairSpec: result.keyPairSpec,
        publicKey: b64(result.publicKey),
        privateKeyCiphertext: b64(result.ciphertext),
        ...(result.privateKeyPlaintext ? { privateKeyPlaintext: b64(result.privateKeyPlaintext) } : {}),
      };
    },
  );

  const signBody = { keyId, message: messageField, messageType, algorithm: signingAlgorithm };
  app.post<{
    Body: { keyId: string; message: string; messageType?: MessageType; algorithm: SigningAlgorithm };
  }>(
    '/v1/sign',
    {
      config: { action: 'Sign' },
      schema: {
        tags,
        summary: 'Sign a message (RAW) or a digest (DIGEST)',
        body: body(['keyId', 'message', 'algorithm'], signBody),
        response: { 200: reply({ keyId: text, keyVersion: version, signature: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, messageType: type, algorithm } = request.body;
      const result = await crypto.sign(id, fromB64(message, 'message'), algorithm, type);
      return { ...result, signature: b64(result.signature) };
    },
  );

  app.post<{
    Body: {
      keyId: string;
      message: string;
      messageType?: MessageType;
      algorithm: SigningAlgorithm;
      signature: string;
    };
  }>(
    '/v1/verify',
    {
      config: { action: 'Verify' },
      schema: {
        tags,
        summary: 'Verify a signature',
        body: body(['keyId', 'message', 'algorithm', 'signature'], {
          ...signBody,
          signature: base64Bounded(1024),
        }),
        response: { 200: reply({ keyId: text, valid: { type: 'boolean' }, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, messageType: type, algorithm, signature } = request.body;
      return crypto.verify(id, fromB64(message, 'message'), fromB64(signature, 'signature'), algorithm, type);
    },
  );

  const macBody = { keyId, message: base64Bounded(LIMITS.macMessageBytes + 3), algorithm: macAlgorithm };
  app.post<{ Body: { keyId: string; message: string; algorithm: MacAlgorithm } }>(
    '/v1/mac',
    {
      config: { action: 'GenerateMac' },
      schema: {
        tags,
        summary: 'Compute an HMAC',
        body: body(['keyId', 'message', 'algorithm'], macBody),
        response: { 200: reply({ keyId: text, keyVersion: version, mac: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, algorithm } = request.body;
      const result = await crypto.generateMac(id, fromB64(message, 'message'), algorithm);
      return { ...result, mac: b64(result.mac) };
    },
  );

  app.post<{ Body: { keyId: string; message: string; algorithm: MacAlgorithm; mac: string } }>(
    '/v1/mac/verify',
    {
      config: { action: 'VerifyMac' },
      schema: {
        tags,
        summary: 'Verify an HMAC in constant time',
        body: body(['keyId', 'message', 'algorithm', 'mac'], { ...macBody, mac: base64Bounded(64) }),
        response: { 200: reply({ keyId: text, valid: { type: 'boolean' }, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, message, algorithm, mac } = request.body;
      return crypto.verifyMac(id, fromB64(message, 'message'), fromB64(mac, 'mac'), algorithm);
    },
  );

  app.post<{ Body: { keyId: string; plaintext: string; algorithm: RsaEncryptionAlgorithm } }>(
    '/v1/asymmetric/encrypt',
    {
      config: { action: 'AsymmetricEncrypt' },
      schema: {
        tags,
        summary: 'RSA-OAEP encryption with an RSA ENCRYPT_DECRYPT key',
        body: body(['keyId', 'plaintext', 'algorithm'], {
          keyId,
          plaintext: base64Bounded(512),
          algorithm: rsaEncryptionAlgorithm,
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, ciphertext: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, plaintext, algorithm } = request.body;
      const result = await crypto.asymmetricEncrypt(id, fromB64(plaintext, 'plaintext'), algorithm);
      return { ...result, ciphertext: b64(result.ciphertext) };
    },
  );

  app.post<{ Body: { keyId: string; ciphertext: string; algorithm: RsaEncryptionAlgorithm } }>(
    '/v1/asymmetric/decrypt',
    {
      config: { action: 'AsymmetricDecrypt' },
      schema: {
        tags,
        summary: 'RSA-OAEP decryption',
        body: body(['keyId', 'ciphertext', 'algorithm'], {
          keyId,
          ciphertext: base64Bounded(512, 1),
          algorithm: rsaEncryptionAlgorithm,
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, plaintext: text, algorithm: text }) },
      },
    },
    async (request) => {
      const { keyId: id, ciphertext, algorithm } = request.body;
      const result = await crypto.asymmetricDecrypt(id, fromB64(ciphertext, 'ciphertext'), algorithm);
      return { ...result, plaintext: b64(result.plaintext) };
    },
  );

  app.post<{ Body: { keyId: string; keyMaterial: string } }>(
    '/v1/wrap',
    {
      config: { action: 'WrapKey' },
      schema: {
        tags,
        summary: 'Wrap key material with AES-KWP (RFC 5649)',
        body: body(['keyId', 'keyMaterial'], {
          keyId,
          keyMaterial: base64Bounded(LIMITS.wrapKeyBytes + 3, 1),
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, wrappedKey: text }) },
      },
    },
    async (request) => {
      const result = await crypto.wrapKey(
        request.body.keyId,
        fromB64(request.body.keyMaterial, 'keyMaterial'),
      );
      return { ...result, wrappedKey: b64(result.wrappedKey) };
    },
  );

  app.post<{ Body: { keyId: string; wrappedKey: string } }>(
    '/v1/unwrap',
    {
      config: { action: 'UnwrapKey' },
      schema: {
        tags,
        summary: 'Unwrap AES-KWP wrapped key material',
        body: body(['keyId', 'wrappedKey'], {
          keyId,
          wrappedKey: base64Bounded(LIMITS.wrapKeyBytes + 32, 16),
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, keyMaterial: text }) },
      },
    },
    async (request) => {
      const result = await crypto.unwrapKey(
        request.body.keyId,
        fromB64(request.body.wrappedKey, 'wrappedKey'),
      );
      return { ...result, keyMaterial: b64(result.keyMaterial) };
    },
  );

  app.post<{ Body: { keyId: string; context: string; salt?: string; length: number } }>(
    '/v1/derive',
    {
      config: { action: 'DeriveKey' },
      schema: {
        tags,
        summary: 'Derive key material with HKDF-SHA-256 (context is the HKDF info)',
        body: body(['keyId', 'context', 'length'], {
          keyId,
          context: { type: 'string', maxLength: 1024 },
          salt: base64Bounded(1024),
          length: { type: 'integer' },
        }),
        response: { 200: reply({ keyId: text, keyVersion: version, derivedKey: text }) },
      },
    },
    async (request) => {
      const { keyId: id, context, salt, length } = request.body;
      const result = await crypto.deriveKey(
        id,
        context,
        length,
        salt === undefined ? undefined : fromB64(salt, 'salt'),
      );
      return { ...result, derivedKey: b64(result.derivedKey) };
    },
  );

  app.get<{ Querystring: { bytes: string } }>(
    '/v1/random',
    {
      config: { action: 'GenerateRandom' },
      schema: {
        tags,
        summary: 'Random bytes from the server CSPRNG',
        querystring: {
          type: 'object',
          required: ['bytes'],
          additionalProperties: false,
          properties: { bytes: { type: 'string', pattern: '^[0-9]{1,5}$' } },
        },
        response: { 200: reply({ random: text }) },
      },
    },
    async (request) => ({ random: b64(crypto.random(Number(request.query.bytes))) }),
  );
}
