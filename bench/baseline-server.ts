// The benchmark's baseline: a bare Fastify app (the version Keyhaven uses) with one JSON POST route
// that validates a body shaped like an encrypt request and serializes a small reply through a
// response schema. It pays what any Fastify JSON service pays (process, HTTP, JSON parse, schema
// validation and serialization) and nothing else: no authentication, request ids, metrics, key
// lookup or cryptography. Keyhaven's ratio to it is the cost of being a KMS on top of the framework.
//
// A second route, POST /aead, is the cryptographic floor of an encrypt: the same request, plus the
// work no AES-GCM encrypt endpoint on node:crypto can avoid (base64 decode, one AES-256-GCM seal
// with a fresh IV, base64 encode of IV + ciphertext + tag), and still nothing else. Keyhaven's encrypt
// can approach it but not pass it; its ratio to the bare route is what the machine allows at most.
import { createCipheriv, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { pooledRandomBytes } from '../src/crypto/random-pool.js';

const port = Number(process.env.BENCH_BASELINE_PORT ?? '0');

const app = Fastify({ logger: false });

type EchoBody = { keyId: string; plaintext: string; context?: Record<string, string> };

const encryptShapedBody = {
  type: 'object',
  required: ['keyId', 'plaintext'],
  additionalProperties: false,
  properties: {
    keyId: { type: 'string' },
    plaintext: { type: 'string' },
    context: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** A reply schema shaped like encrypt's: keyId, keyVersion and one more field. */
const replyWith = (field: string, type: 'string' | 'integer') => ({
  200: {
    type: 'object',
    properties: { keyId: { type: 'string' }, keyVersion: { type: 'integer' }, [field]: { type } },
  },
});

app.get('/health', async () => ({ status: 'ok' }));

app.post<{ Body: EchoBody }>(
  '/echo',
  {
    schema: { body: encryptShapedBody, response: replyWith('length', 'integer') },
  },
  async (request) => ({ keyId: request.body.keyId, keyVersion: 1, length: request.body.plaintext.length }),
);

// One random key per process; IVs from Keyhaven's own CSPRNG pool (refilled 4 KiB at a time).
const aeadKey = randomBytes(32);

app.post<{ Body: EchoBody }>(
  '/aead',
  {
    schema: { body: encryptShapedBody, response: replyWith('ciphertext', 'string') },
  },
  async (request) => {
    const iv = pooledRandomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', aeadKey, iv, { authTagLength: 16 });
    const sealed = cipher.update(Buffer.from(request.body.plaintext, 'base64'));
    cipher.final();
    const ciphertext = Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64');
    return { keyId: request.body.keyId, keyVersion: 1, ciphertext };
  },
);

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ host: '127.0.0.1', port });
