// The trust anchors of attestation documents (recipient.attestationRoots): read and checked once at
// start-up. Errors name the setting and the path, never the content.
import { X509Certificate } from 'node:crypto';
import { ConfigError, readConfiguredFile } from './config.js';

const SETTING = 'recipient.attestationRoots (KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS)';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function loadAttestationRoots(paths: readonly string[]): X509Certificate[] {
  return paths.flatMap((path) => {
    const blocks = readConfiguredFile(SETTING, path).toString('latin1').match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new ConfigError(`${SETTING}: ${path} holds no PEM certificate`);
    return blocks.map((block, index) => {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(block);
      } catch {
        throw new ConfigError(
          `${SETTING}: certificate ${index + 1} in ${path} is not a valid X.509 certificate`,
        );
      }
      if (!certificate.ca) {
        throw new ConfigError(`${SETTING}: certificate ${index + 1} in ${path} is not a CA certificate`);
      }
      return certificate;
    });
  });
}
