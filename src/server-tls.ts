// The REST listener's TLS: reads and checks the PEM files named by server.tls once at start-up, and
// builds the TLS server options (TLS 1.2 at least; a client certificate from server.tls.clientCa
// required on every connection when it is set). Errors name the setting and the path, never content.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { TlsOptions } from 'node:tls';
import { ConfigError, readConfiguredFile, type TlsConfig } from './config.js';

type TlsSetting = keyof TlsConfig;

const SETTING_NAMES: Record<TlsSetting, string> = {
  cert: 'server.tls.cert (KEYHAVEN_TLS_CERT)',
  key: 'server.tls.key (KEYHAVEN_TLS_KEY)',
  clientCa: 'server.tls.clientCa (KEYHAVEN_TLS_CLIENT_CA)',
};

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function loadServerTls(tls: TlsConfig): TlsOptions {
  const cert = readPemFile('cert', tls.cert);
  const key = readPemFile('key', tls.key);
  // The first certificate is the server's; any others in the file are its chain.
  const [leaf] = parseCertificates('cert', tls.cert, cert);
  if (!leaf!.checkPrivateKey(parsePrivateKey(tls.key, key))) {
    throw new ConfigError(
      `${SETTING_NAMES.key}: ${tls.key} is not the private key of the certificate in ${tls.cert}`,
    );
  }
  // TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default minimum is already 1.2, stated here
  // so that no process-wide default (--tls-min-v1.0) can lower it.
  const options: TlsOptions = { cert, key, minVersion: 'TLSv1.2' };
  if (tls.clientCa === undefined) return options;
  const ca = readPemFile('clientCa', tls.clientCa);
  parseCertificates('clientCa', tls.clientCa, ca);
  // rejectUnauthorized ends the handshake of a client without a certificate from `ca`, before any
  // HTTP is read; every request that arrives therefore has a verified peer certificate.
  return { ...options, ca, requestCert: true, rejectUnauthorized: true };
}

const readPemFile = (setting: TlsSetting, path: string): Buffer =>
  readConfiguredFile(SETTING_NAMES[setting], path);

function parseCertificates(setting: TlsSetting, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new ConfigError(`${SETTING_NAMES[setting]}: ${path} holds no PEM certificate`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      // The parser's message is dropped with it: nothing from the file goes into the error.
      throw new ConfigError(
        `${SETTING_NAMES[setting]}: certificate ${index + 1} in ${path} is not a valid X.509 certificate`,
      );
    }
  });
}

function parsePrivateKey(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new ConfigError(
      `${SETTING_NAMES.key}: ${path} is not an unencrypted PEM private key (passphrase-protected keys are not supported)`,
    );
  }
}
