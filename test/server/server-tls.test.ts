// The TLS options the server builds from server.tls (src/server-tls.ts), on files made by openssl.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { loadServerTls } from '../../src/server-tls.js';
import { createTestCertificates, type TestCertificates } from '../helpers/tls-certificates.js';

let certs: TestCertificates;

beforeAll(() => {
  certs = createTestCertificates();
});
afterAll(() => {
  certs?.dispose();
});

describe('loadServerTls', () => {
  it('serves TLS 1.2 or later with the certificate and key, asking clients for nothing', () => {
    const options = loadServerTls({ cert: certs.serverCert, key: certs.serverKey, clientCa: undefined });
    expect(options.minVersion).toBe('TLSv1.2');
    expect(new X509Certificate(options.cert as Buffer).subject).toBe('CN=127.0.0.1');
    expect(options.key).toEqual(certs.read(certs.serverKey));
    expect(options.requestCert).toBeUndefined();
    expect(options.ca).toBeUndefined();
  });

  it('with a client CA, requires a client certificate from it', () => {
    const options = loadServerTls({ cert: certs.serverCert, key: certs.serverKey, clientCa: certs.caCert });
    expect(options).toMatchObject({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(options.ca).toEqual(certs.read(certs.caCert));
  });

  it('accepts a certificate file holding its chain', () => {
    const chain = join(certs.dir, 'chain.crt');
    writeFileSync(chain, Buffer.concat([certs.read(certs.serverCert), certs.read(certs.caCert)]));
    expect(() => loadServerTls({ cert: chain, key: certs.serverKey, clientCa: undefined })).not.toThrow();
  });

  it('refuses a broken certificate, a client CA that is no certificate, and a mismatched key', () => {
    const broken = join(certs.dir, 'broken.crt');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const load = (cert: string, key: string, clientCa?: string) => () =>
      loadServerTls({ cert, key, clientCa });
    expect(load(broken, certs.serverKey)).toThrow(
      /server\.tls\.cert .*certificate 1 in .*broken\.crt is not a valid X\.509/,
    );
    expect(load(certs.serverCert, certs.serverKey, certs.clientKey)).toThrow(
      /server\.tls\.clientCa .*client\.key holds no PEM certificate/,
    );
    expect(load(certs.serverCert, certs.otherClientKey)).toThrow(ConfigError);
    expect(load(certs.serverCert, join(certs.dir, 'nope.key'))).toThrow(
      /server\.tls\.key .*cannot read .*nope\.key \(ENOENT\)/,
    );
  });
});
