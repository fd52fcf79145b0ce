// The benchmark's baseline: a bare Fastify app (the version Keyhaven uses) with one JSON POST route
// that validates a body shaped like an encrypt request and serializes a small reply through a
// response schema. It pays what any Fastify JSON service pays (process, HTTP, JSON parse, schema
// validation and serialization) and nothing else: no authentication, request ids, metrics, key
// lookup or cryptography. Keyhaven's ratio to it is the cost of being a KMS on top of the framework.
import Fastify from 'fastify';

const port = Number(process.env.BENCH_BASELINE_PORT ?? '0');

const app = Fastify({ logger: false });

type EchoBody = { keyId: string; plaintext: string; context?: Record<string, string> };

app.get('/health', async () => ({ status: 'ok' }));

app.post<{ Body: EchoBody }>(
  '/echo',
  {
    schema: {
      body: {
        type: 'object',
        required: ['keyId', 'plaintext'],
        additionalProperties: false,
        properties: {
          keyId: { type: 'string' },
          plaintext: { type: 'string' },
          context: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            keyId: { type: 'string' },
            keyVersion: { type: 'integer' },
            length: { type: 'integer' },
          },
        },
      },
    },
  },
  async (request) => ({ keyId: request.body.keyId, keyVersion: 1, length: request.body.plaintext.length }),
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
