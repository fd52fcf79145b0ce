// Certificates for TLS tests, made by the openssl CLI in a temporary directory: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate from the same CA, and a client
// certificate from another CA that the server does not trust; more client certificates on demand.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OpensslWorkspace } from '../integration/openssl.js';

export interface TestCertificates {
  dir: string;
  /** Paths of PEM files. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
  /**
   * Issues another client certificate from the trusted CA (`subject` as openssl writes it, e.g.
   * `/CN=billing`; `subjectAltName` as an extension value, e.g. `DNS:a.example,email:b@example.com`).
   */
  issueClientCertificate(
    name: string,
    subject: string,
    subjectAltName?: string,
  ): { cert: string; key: string };
  /** A file's content, for SDK options. */
  read(path: string): Buffer;
  dispose(): void;
}

// P-256 keys: as good as RSA for these tests and generated in milliseconds.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function createTestCertificates(): TestCertificates {
  const openssl = new OpensslWorkspace();
  // Our own request config, so the system's openssl.cnf (or its absence) changes nothing; its [v3]
  // section makes the self-signed CA certificates, leaf extensions come from each .ext file.
  const caConfig = openssl.write(
    'ca.cnf',
    '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n' +
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  );
  const ca = (name: string) =>
    openssl.run([
      'req',
      '-x509',
      ...NEW_KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=Keyhaven test ${name}`,
      '-config',
      caConfig,
      '-extensions',
      'v3',
    ]);
  const issue = (name: string, issuer: string, subject: string, extensions: string) => {
    openssl.run([
      'req',
      ...NEW_KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
      '-config',
      caConfig,
    ]);
    openssl.write(`${name}.ext`, extensions);
    openssl.run([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    ]);
  };
  const leaf = (usage: string, san?: string) =>
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n` +
    (san ? `subjectAltName=${san}\n` : '');

  ca('ca');
  ca('other-ca');
  issue('server', 'ca', '/CN=127.0.0.1', leaf('serverAuth', 'IP:127.0.0.1,DNS:localhost'));
  issue('client', 'ca', '/CN=keyhaven-test-client', leaf('clientAuth'));
  issue('other-client', 'other-ca', '/CN=keyhaven-untrusted-client', leaf('clientAuth'));

  return {
    dir: openssl.dir,
    caCert: openssl.path('ca.crt'),
    serverCert: openssl.path('server.crt'),
    serverKey: openssl.path('server.key'),
    clientCert: openssl.path('client.crt'),
    clientKey: openssl.path('client.key'),
    otherCaCert: openssl.path('other-ca.crt'),
    otherClientCert: openssl.path('other-client.crt'),
    otherClientKey: openssl.path('other-client.key'),
    issueClientCertificate(name, subject, subjectAltName) {
      issue(name, 'ca', subject, leaf('clientAuth', subjectAltName));
      return { cert: openssl.path(`${name}.crt`), key: openssl.path(`${name}.key`) };
    },
    read: (path) => readFileSync(path),
    dispose: () => openssl.dispose(),
  };
}
