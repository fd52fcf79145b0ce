// A fresh SoftHSM2 token for the benchmark, in a temporary directory with its own softhsm2.conf, so
// the run never touches the machine's tokens (test/helpers/softhsm.ts does the same for tests and
// finds the library here). SOFTHSM2_CONF goes only into the env of the HSM server and, while the library initialises,
// into this process (hsm-ceiling.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** The installed SoftHSM2 library, or undefined when SoftHSM2 is not installed. */
export function findSoftHsmModule(): string | undefined {
  return MODULE_CANDIDATES.find((path) => existsSync(path));
}

/** `softhsm2-util --version` (e.g. "2.6.1"), or "unknown version". */
export function softHsmVersion(): string {
  try {
    return execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return 'unknown version';
  }
}

export interface BenchToken {
  /** The temporary directory holding softhsm2.conf and the token files. */
  root: string;
  conf: string;
  modulePath: string;
  label: string;
  pin: string;
  /** Env selecting this token as Keyhaven's key store. */
  keyhavenEnv: Record<string, string>;
  /** Removes the temporary directory (idempotent). */
  dispose(): void;
}

/** Writes `<root>/softhsm2.conf`, whose tokens live in a new `<root>/tokens` directory. */
export function writeSoftHsmConf(root: string): { conf: string; tokenDir: string } {
  const tokenDir = join(root, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const conf = join(root, 'softhsm2.conf');
  writeFileSync(
    conf,
    [`directories.tokendir = ${tokenDir}`, 'objectstore.backend = file', 'log.level = ERROR', ''].join('\n'),
  );
  return { conf, tokenDir };
}

/** Initialises a token in the first free slot of the SoftHSM2 configuration `conf`. */
export function initSoftHsmToken(conf: string, label: string, soPin: string, pin: string): void {
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin],
    {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: 'pipe',
    },
  );
}

/** The environment that makes a Keyhaven server use this token as its pkcs11 key store. */
export function pkcs11KeyStoreEnv(conf: string, modulePath: string, label: string, pin: string) {
  return {
    SOFTHSM2_CONF: conf,
    KEYHAVEN_KEYSTORE: 'pkcs11',
    KEYHAVEN_PKCS11_MODULE: modulePath,
    KEYHAVEN_PKCS11_TOKEN: label,
    KEYHAVEN_PKCS11_PIN: pin,
  };
}

/** Creates a temp dir with its own softhsm2.conf and one initialised token. */
export function createSoftHsmToken(modulePath: string, label = 'keyhaven-bench'): BenchToken {
  const root = mkdtempSync(join(tmpdir(), 'keyhaven-bench-softhsm-'));
  const dispose = () => rmSync(root, { recursive: true, force: true });
  try {
    const { conf } = writeSoftHsmConf(root);
    const pin = `pin-${randomBytes(6).toString('hex')}`;
    initSoftHsmToken(conf, label, randomBytes(8).toString('hex'), pin);
    return {
      root,
      conf,
      modulePath,
      label,
      pin,
      keyhavenEnv: pkcs11KeyStoreEnv(conf, modulePath, label, pin),
      dispose,
    };
  } catch (error) {
    dispose();
    throw error;
  }
}
