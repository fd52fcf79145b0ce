// recipient.attestationRoots: from the file or KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS, each a PEM file
// of CA certificates, checked once at start-up with errors naming the setting and path only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAttestationRoots } from '../../src/attestation-roots.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createAttestationPki } from '../helpers/nitro-attestation.js';

const dir = mkdtempSync(join(tmpdir(), 'keyhaven-roots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('recipient.attestationRoots', () => {
  it('defaults to none, and takes a comma-separated list from the environment over the file', () => {
    expect(loadConfig({ KEYHAVEN_DATA_DIR: dir }).recipient.attestationRoots).toEqual([]);
    const file = join(dir, 'keyhaven.json');
    writeFileSync(file, JSON.stringify({ recipient: { attestationRoots: ['/from/file.pem'] } }));
    expect(loadConfig({ KEYHAVEN_DATA_DIR: dir, KEYHAVEN_CONFIG: file }).recipient.attestationRoots).toEqual([
      '/from/file.pem',
    ]);
    const config = loadConfig({
      KEYHAVEN_DATA_DIR: dir,
      KEYHAVEN_CONFIG: file,
      KEYHAVEN_RECIPIENT_ATTESTATION_ROOTS: '/a.pem, /b.pem',
    });
    expect(config.recipient.attestationRoots).toEqual(['/a.pem', '/b.pem']);
  });

  it('loads CA certificates, and refuses a missing file, a file without a certificate and a leaf', () => {
    const pki = createAttestationPki(dir, 'cfg');
    const [root] = loadAttestationRoots([pki.rootPemPath]);
    expect(root!.ca).toBe(true);
    const leafPem = join(dir, 'leaf-only.pem');
    writeFileSync(
      leafPem,
      execFileSync('openssl', ['x509', '-inform', 'DER', '-outform', 'PEM'], { input: pki.leafDer }),
    );
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'no certificate here');
    for (const [path, message] of [
      [join(dir, 'absent.pem'), 'cannot read'],
      [empty, 'holds no PEM certificate'],
      [leafPem, 'is not a CA certificate'],
    ] as const) {
      expect(() => loadAttestationRoots([path])).toThrow(ConfigError);
      expect(() => loadAttestationRoots([path])).toThrow(message);
    }
  });
});
