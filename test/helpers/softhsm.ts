// Fresh SoftHSM2 tokens in a temporary directory with their own softhsm2.conf, so tests never touch
// the machine's tokens. SOFTHSM2_CONF goes only into the env handed to child processes, or into
// process.env of a test worker that loads the module in process (`useInProcess`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  findSoftHsmModule,
  initSoftHsmToken,
  pkcs11KeyStoreEnv,
  writeSoftHsmConf,
} from '../../bench/softhsm.js';

export const SO_PIN = '12345678';

export function softhsmModulePath(): string {
  const found = findSoftHsmModule();
  if (!found) throw new Error('libsofthsm2.so not found: install softhsm2 (apt-get install softhsm2)');
  return found;
}

export interface SoftHsmToken {
  label: string;
  pin: string;
  /** The directory SoftHSM keeps this token's files in (remove it to make the token vanish). */
  directory(): string;
}

export interface SoftHsm {
  /** Path of this instance's softhsm2.conf. */
  conf: string;
  tokenDir: string;
  modulePath: string;
  tokens: SoftHsmToken[];
  /** The first token, for single-token tests. */
  label: string;
  pin: string;
  /** Env for a child process (server, pkcs11-tool) using these tokens. */
  env: Record<string, string>;
  /** Env selecting this token as Keyhaven's key store (KEYHAVEN_KEYSTORE=pkcs11 ...). */
  keyhavenEnv: Record<string, string>;
  /** Sets SOFTHSM2_CONF in this process (before the module is first loaded) and returns a restorer. */
  useInProcess(): () => void;
  /** Runs pkcs11-tool against the first token, logged in; returns stdout. Throws on failure. */
  pkcs11Tool(args: string[], token?: SoftHsmToken): string;
  dispose(): void;
}

export interface CreateSoftHsmOptions {
  tokens?: number;
  labelPrefix?: string;
}

/** Creates a temp dir with its own softhsm2.conf and initialised tokens. */
export function createSoftHsm(options: CreateSoftHsmOptions = {}): SoftHsm {
  const root = mkdtempSync(join(tmpdir(), 'keyhaven-softhsm-'));
  const { conf, tokenDir } = writeSoftHsmConf(root);
  const modulePath = softhsmModulePath();
  const env = { SOFTHSM2_CONF: conf };
  const childEnv = { ...process.env, ...env };
  const prefix = options.labelPrefix ?? 'keyhaven-test';
  const tokens: SoftHsmToken[] = [];
  for (let i = 0; i < (options.tokens ?? 1); i++) {
    const label = `${prefix}-${i + 1}`;
    const pin = `pin-${i + 1}-${Math.random().toString(36).slice(2, 10)}`;
    const before = new Set(listDirs(tokenDir));
    initSoftHsmToken(conf, label, SO_PIN, pin);
    const created = listDirs(tokenDir).find((dir) => !before.has(dir));
    if (!created) throw new Error(`softhsm2-util created no token directory for ${label}`);
    tokens.push({ label, pin, directory: () => join(tokenDir, created) });
  }
  const first = tokens[0]!;
  return {
    conf,
    tokenDir,
    modulePath,
    tokens,
    label: first.label,
    pin: first.pin,
    env,
    keyhavenEnv: pkcs11KeyStoreEnv(conf, modulePath, first.label, first.pin),
    useInProcess() {
      const previous = process.env.SOFTHSM2_CONF;
      process.env.SOFTHSM2_CONF = conf;
      return () => {
        if (previous === undefined) delete process.env.SOFTHSM2_CONF;
        else process.env.SOFTHSM2_CONF = previous;
      };
    },
    pkcs11Tool(args, token = first) {
      return execFileSync(
        'pkcs11-tool',
        ['--module', modulePath, '--token-label', token.label, '--login', '--pin', token.pin, ...args],
        { env: childEnv, stdio: 'pipe', encoding: 'utf8' },
      );
    },
    dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function listDirs(path: string): string[] {
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
}

/**
 * Writes a configuration file that puts every token of `hsm` behind the server as backends
 * hsm-a, hsm-b, ... with probe and circuit timings shortened so failover tests run in seconds
 * (defaults: 2 s probe, 3 failures, 5 s open). Returns the file's path.
 */
export function writeMultiBackendConfig(hsm: SoftHsm, extra: Record<string, unknown> = {}): string {
  const path = join(dirname(hsm.tokenDir), 'keyhaven.json');
  writeFileSync(
    path,
    JSON.stringify({
      keyStore: {
        type: 'pkcs11',
        pkcs11: {
          backends: hsm.tokens.map((token, i) => ({
            name: `hsm-${String.fromCharCode(97 + i)}`,
            module: hsm.modulePath,
            tokenLabel: token.label,
            pin: token.pin,
            soPin: SO_PIN,
          })),
          sessionPoolSize: 4,
          sessionWaitMs: 2000,
          healthCheckSeconds: 0.2,
          circuit: { failureThreshold: 2, openSeconds: 0.5 },
        },
      },
      ...extra,
    }),
  );
  return path;
}
