// The verified client certificate is reachable from a request (the hook for mTLS identities), in
// process over real TLS on loopback; without TLS there is none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsFetch } from '../../src/client/agent-fetch.js';
import { loadConfig } from '../../src/config.js';
import { createKeyhaven, type Keyhaven } from '../../src/keyhaven.js';
import { loadServerTls } from '../../src/server-tls.js';
import { buildRestApp } from '../../src/transports/rest/app.js';
import { verifiedClientCertificate } from '../../src/transports/rest/client-certificate.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';

let certs: TestCertificates;
let dataDir: string;
let keyhaven: Keyhaven;

beforeAll(async () => {
  certs = createTestCertificates();
  dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-peer-'));
  keyhaven = await createKeyhaven(loadConfig({ KEYHAVEN_DATA_DIR: dataDir }));
});
afterAll(async () => {
  await keyhaven?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  certs?.dispose();
});

/** The REST app with one extra public route answering the verified certificate's subject. */
async function appWithPeerRoute(https?: ReturnType<typeof loadServerTls>): Promise<FastifyInstance> {
  const app = await buildRestApp(keyhaven, { https });
  app.get('/test/peer', { config: { public: true } }, async (request) => ({
    subject: verifiedClientCertificate(request)?.subject.CN ?? null,
  }));
  return app;
}

describe('verifiedClientCertificate', () => {
  it('is the certificate a mutual-TLS client presented', async () => {
    const app = await appWithPeerRoute(
      loadServerTls({ cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert }),
    );
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const fetchOverTls = httpsFetch({
        ca: certs.read(certs.caCert),
        cert: certs.read(certs.clientCert),
        key: certs.read(certs.clientKey),
      });
      const response = await fetchOverTls(new URL('/test/peer', url), {
        method: 'GET',
        headers: {},
        body: undefined,
        signal: AbortSignal.timeout(10_000),
      });
      expect(response.status).toBe(200);
      expect(JSON.parse(await response.text())).toEqual({ subject: 'keyhaven-test-client' });
    } finally {
      await app.close();
    }
  });

  it('is undefined without TLS', async () => {
    const app = await appWithPeerRoute();
    try {
      const response = await app.inject({ method: 'GET', url: '/test/peer' });
      expect(response.json()).toEqual({ subject: null });
    } finally {
      await app.close();
    }
  });
});
