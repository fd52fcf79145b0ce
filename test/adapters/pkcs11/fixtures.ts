// In-process fixtures for the PKCS#11 adapter tests: one SoftHSM2 instance per test file (the
// library reads SOFTHSM2_CONF once, at C_Initialize), and tokens/stores built from its tokens.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pkcs11Config } from '../../../src/config.js';
import { KmsError } from '../../../src/domain/errors.js';
import type { KeyVersion } from '../../../src/domain/key.js';
import { keyFamily, type KeySpec, type KeyUsage } from '../../../src/domain/key-spec.js';
import type { KeyBackend, VersionRef } from '../../../src/ports/key-backend.js';
import { createSoftHsm, SO_PIN, type SoftHsm, type SoftHsmToken } from '../../helpers/softhsm.js';

export interface Pkcs11Fixture {
  hsm: SoftHsm;
  dataDir: string;
  config(tokens?: SoftHsmToken[], overrides?: Partial<Pkcs11Config>): Pkcs11Config;
  dispose(): void;
}

export function createPkcs11Fixture(tokenCount = 1): Pkcs11Fixture {
  const hsm = createSoftHsm({ tokens: tokenCount });
  const restoreEnv = hsm.useInProcess();
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhaven-pkcs11-data-'));
  return {
    hsm,
    dataDir,
    config(tokens = [hsm.tokens[0]!], overrides = {}) {
      return {
        backends: tokens.map((token, i) => ({
          name: `hsm-${i + 1}`,
          module: hsm.modulePath,
          tokenLabel: token.label,
          pin: token.pin,
          soPin: SO_PIN,
        })),
        rootKeyLabel: 'keyhaven-root',
        transportKeyLabel: 'keyhaven-transport',
        replicationWindowSeconds: 86_400,
        sessionPoolSize: 4,
        sessionWaitMs: 2000,
        synchronousCalls: false,
        healthCheckSeconds: 0,
        circuit: { failureThreshold: 2, openSeconds: 0.3 },
        ...overrides,
      };
    },
    dispose() {
      restoreEnv();
      hsm.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The usage a test key of `spec` gets unless the test names one (RSA keys: signing). */
export function defaultUsage(spec: KeySpec): KeyUsage {
  const family = keyFamily(spec);
  if (family === 'AES') return 'ENCRYPT_DECRYPT';
  if (family === 'HMAC') return 'GENERATE_VERIFY_MAC';
  return 'SIGN_VERIFY';
}

/** The code of the KmsError `promise` rejects with (a description if it resolves or throws another). */
export async function kmsErrorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof KmsError ? error.code : `not a KmsError: ${String(error)}`;
}

/** Makes version 1 of a new key of `keySpec` on `backend` and returns its reference. */
export async function createVersionRef(
  backend: KeyBackend,
  keySpec: KeySpec,
  usage: KeyUsage = defaultUsage(keySpec),
): Promise<VersionRef> {
  const keyId = randomUUID();
  const created = await backend.createVersionMaterial(keyId, 1, keySpec, usage);
  const version: KeyVersion = { keyId, version: 1, state: 'Enabled', createdAt: new Date(), ...created };
  return { keyId, keySpec, version };
}

/** Objects pkcs11-tool lists on a token, with the flags the issue asks to check. */
export interface ListedObject {
  kind: string;
  label: string;
  flags: string[];
  /** The `Usage:` line's functions (sign, decrypt, encrypt, verify, ...). */
  usage: string[];
  /** The `Allowed mechanisms:` line, as OpenSC names them (e.g. ECDSA, RSA-PKCS-OAEP). */
  allowedMechanisms: string[];
}

/** Parses `pkcs11-tool --list-objects` output (OpenSC 0.2x): one block per object. */
export function parseListObjects(output: string): ListedObject[] {
  const objects: ListedObject[] = [];
  let current: ListedObject | undefined;
  for (const line of output.split('\n')) {
    const header = /^(Secret Key|Private Key|Public Key|Certificate|Data) Object/.exec(line);
    if (header) {
      current = { kind: header[1]!, label: '', flags: [], usage: [], allowedMechanisms: [] };
      objects.push(current);
      continue;
    }
    if (!current) continue;
    const label = /^\s+label:\s+(.*)$/.exec(line);
    if (label) current.label = label[1]!.trim();
    const access = /^\s+Access:\s+(.*)$/.exec(line);
    if (access) current.flags.push(...access[1]!.split(',').map((flag) => flag.trim()));
    const usage = /^\s+Usage:\s+(.*)$/.exec(line);
    if (usage) current.usage.push(...usage[1]!.split(',').map((use) => use.trim()));
    const allowed = /^\s+Allowed mechanisms:\s+(.*)$/.exec(line);
    if (allowed) current.allowedMechanisms.push(...allowed[1]!.split(',').map((m) => m.trim()));
  }
  return objects;
}
