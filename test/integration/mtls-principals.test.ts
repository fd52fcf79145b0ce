// Mutual TLS as a credential (auth.clientCertificates): certificates made by the openssl CLI, the
// server in process over real TLS with a client CA, requests over node:https. A certificate from the
// CA whose CN names a principal of the configured tenant is that principal, roles and all; one that
// names nobody is 401; no certificate is refused at the handshake; a bearer header, when sent, wins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsFetch, type ClientTlsOptions } from '../../src/client/agent-fetch.js';
import { recordEncryptCredentials, startInProcessApp, type InProcessApp } from '../helpers/in-process-app.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';
import { b64 } from './http.js';
import type { ErrorBody } from './wire-types.js';

interface Reply {
  status: number;
  body: unknown;
}

describe('client certificates that name principals (mutual TLS)', () => {
  let certs: TestCertificates;
  let server: InProcessApp;
  let credentials: string[];
  let keyId: string;
  let principalId: string;
  const serviceName = `billing-${process.pid}`;
  let service: ClientTlsOptions;
  let nobody: ClientTlsOptions;

  /** Sends one request over TLS with the given client certificate (or none) and headers. */
  async function send(
    tls: ClientTlsOptions,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const response = await httpsFetch({ ca: certs.read(certs.caCert), ...tls })(new URL(path, server.url), {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }
  const admin = { authorization: () => `Bearer ${server.token}` };
  const errorCode = (reply: Reply) => (reply.body as ErrorBody).error.code;
  const encrypt = (tls: ClientTlsOptions, headers?: Record<string, string>) =>
    send(tls, 'POST', '/v1/encrypt', { keyId, plaintext: b64('over mTLS') }, headers);
  const files = ({ cert, key }: { cert: string; key: string }): ClientTlsOptions => ({
    cert: certs.read(cert),
    key: certs.read(key),
  });

  beforeAll(async () => {
    certs = createTestCertificates();
    service = files(certs.issueClientCertificate('billing', `/CN=${serviceName}`));
    nobody = files(certs.issueClientCertificate('nobody', `/CN=nobody-${process.pid}`));
    server = await startInProcessApp({
      configure: (config) => {
        config.server.tls = { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert };
        config.auth.clientCertificates = { identity: 'subject.CN', tenant: 'default' };
      },
      prepare: (keyhaven) => void (credentials = recordEncryptCredentials(keyhaven)),
    });
    expect(server.url).toMatch(/^https:/);
    // The admin's own connection needs a certificate too; its header decides who it is.
    const adminTls = files({ cert: certs.clientCert, key: certs.clientKey });
    const created = await send(
      adminTls,
      'POST',
      '/v1/principals',
      { name: serviceName, type: 'service', roles: ['crypto-user'] },
      { authorization: admin.authorization() },
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    principalId = (created.body as { principal: { principalId: string } }).principal.principalId;
    const key = await send(adminTls, 'POST', '/v1/keys', {}, { authorization: admin.authorization() });
    expect(key.status).toBe(201);
    keyId = (key.body as { key: { keyId: string } }).key.keyId;
  });
  afterAll(async () => {
    await server?.close();
    certs?.dispose();
  });

  it('makes a certificate whose CN names a principal that principal: its role applies', async () => {
    credentials.length = 0;
    expect((await encrypt(service)).status).toBe(200);
    expect(credentials).toEqual(['client-certificate']);
    const verified = await send(service, 'POST', '/v1/auth/verify', { action: 'Encrypt' });
    expect(verified.body).toMatchObject({ principalId, allowed: true });
    // crypto-user: no lifecycle.
    const refused = await send(service, 'POST', '/v1/keys', {});
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('AccessDenied');
  });

  it('answers 401 for a certificate from the CA whose CN names nobody', async () => {
    const refused = await encrypt(nobody);
    expect(refused.status).toBe(401);
    expect(errorCode(refused)).toBe('Unauthenticated');
  });

  it('refuses a connection without a certificate before any HTTP, credential or not', async () => {
    await expect(encrypt({})).rejects.toThrow();
    await expect(encrypt({}, { authorization: admin.authorization() })).rejects.toThrow();
  });

  it('lets a bearer header win over the certificate, and a bad header is not rescued by it', async () => {
    // The crypto-user's certificate with the admin's API key acts as the admin.
    expect(
      (await send(service, 'POST', '/v1/keys', {}, { authorization: admin.authorization() })).status,
    ).toBe(201);
    const bad = await encrypt(service, { authorization: 'Bearer khk_not-a-key-of-this-server' });
    expect(bad.status).toBe(401);
  });

  it("refuses a deleted principal's certificate at once", async () => {
    const name = `short-lived-${process.pid}`;
    const tls = files(certs.issueClientCertificate('short-lived', `/CN=${name}`));
    const adminTls = files({ cert: certs.clientCert, key: certs.clientKey });
    const created = await send(
      adminTls,
      'POST',
      '/v1/principals',
      { name, type: 'service', roles: ['crypto-user'] },
      { authorization: admin.authorization() },
    );
    const id = (created.body as { principal: { principalId: string } }).principal.principalId;
    expect((await encrypt(tls)).status).toBe(200);
    expect(
      (
        await send(adminTls, 'DELETE', `/v1/principals/${id}`, undefined, {
          authorization: admin.authorization(),
        })
      ).status,
    ).toBe(204);
    expect((await encrypt(tls)).status).toBe(401);
  });
});

describe('client certificates without auth.clientCertificates', () => {
  it('only admit the connection: a certificate without a header is 401, whatever its CN', async () => {
    const certs = createTestCertificates();
    const server = await startInProcessApp({
      configure: (config) => {
        config.server.tls = { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert };
      },
    });
    try {
      // CN=admin would name the bootstrap admin, were certificates a credential here.
      const named = certs.issueClientCertificate('admin', '/CN=admin');
      const fetchOverTls = httpsFetch({
        ca: certs.read(certs.caCert),
        cert: certs.read(named.cert),
        key: certs.read(named.key),
      });
      const send = (headers: Record<string, string>) =>
        fetchOverTls(new URL('/v1/keys', server.url), {
          method: 'GET',
          headers,
          body: undefined,
          signal: AbortSignal.timeout(10_000),
        });
      expect((await send({})).status).toBe(401);
      expect((await send({ authorization: `Bearer ${server.token}` })).status).toBe(200);
    } finally {
      await server.close();
      certs.dispose();
    }
  });
});
