// The key stores the behavioural suite runs against (STYLE.md: one suite, parameterised, never
// copied). Each test file does `describe.each(keyStoreProfiles)` and starts its server with `env`.
import { afterAll } from 'vitest';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

export interface KeyStoreProfile {
  name: string;
  /** Environment passed to startServer() on top of the harness defaults. */
  env: Record<string, string>;
  /**
   * Whether the root key lives in `<dataDir>/root-key.json`, sealed by KEYHAVEN_ROOT_PASSPHRASE. A key
   * store that keeps its root key in an HSM has no passphrase to get wrong.
   */
  passphraseSealedRootKey: boolean;
}

let softHsm: SoftHsm | undefined;

/**
 * The pkcs11 profile's SoftHSM2 token, made on first use (only when that profile runs) in a temp dir
 * of its own and removed after the test file. Servers of one test file share the token; each has its
 * own data directory (the root key in the token is adopted by each).
 */
function pkcs11Env(): Record<string, string> {
  softHsm ??= createSoftHsm({ labelPrefix: 'keyhaven-suite' });
  return softHsm.keyhavenEnv;
}

// Registered while the importing test file is collected, so it runs after that file's own
// afterAll hooks have stopped its servers. (A process 'exit' handler never ran: vitest ends its
// worker processes without one, and every file left a token directory behind in the temp dir.)
afterAll(() => {
  softHsm?.dispose();
  softHsm = undefined;
});

export const keyStoreProfiles: KeyStoreProfile[] = [
  { name: 'software', env: {}, passphraseSealedRootKey: true },
  {
    name: 'pkcs11',
    get env() {
      return pkcs11Env();
    },
    passphraseSealedRootKey: false,
  },
];
