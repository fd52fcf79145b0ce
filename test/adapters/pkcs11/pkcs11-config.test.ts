import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

describe('pkcs11 key store configuration', () => {
  it('selects and configures a single HSM from environment variables alone', () => {
    const config = loadConfig({
      KEYHAVEN_DATA_DIR: '/tmp/kh',
      KEYHAVEN_KEYSTORE: 'pkcs11',
      KEYHAVEN_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      KEYHAVEN_PKCS11_TOKEN: 'keyhaven',
      KEYHAVEN_PKCS11_PIN: '1234',
    });
    expect(config.keyStore.type).toBe('pkcs11');
    expect(config.keyStore.pkcs11).toMatchObject({
      backends: [{ module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'keyhaven', pin: '1234' }],
      rootKeyLabel: 'keyhaven-root',
      sessionPoolSize: 8,
      synchronousCalls: false,
      circuit: { failureThreshold: 3, openSeconds: 5 },
    });
  });

  it('turns synchronous calls on from KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS and refuses a value that is not a boolean', () => {
    const env = {
      KEYHAVEN_DATA_DIR: '/tmp/kh',
      KEYHAVEN_KEYSTORE: 'pkcs11',
      KEYHAVEN_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
      KEYHAVEN_PKCS11_TOKEN: 'keyhaven',
      KEYHAVEN_PKCS11_PIN: '1234',
    };
    expect(
      loadConfig({ ...env, KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS: 'true' }).keyStore.pkcs11?.synchronousCalls,
    ).toBe(true);
    expect(() => loadConfig({ ...env, KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS: 'yes' })).toThrow(
      /KEYHAVEN_PKCS11_SYNCHRONOUS_CALLS must be 1 or 0/,
    );
  });

  it('reads an ordered list of backends from the file, PINs from named variables, env overriding the first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      writeFileSync(
        file,
        JSON.stringify({
          dataDir: dir,
          keyStore: {
            type: 'pkcs11',
            pkcs11: {
              backends: [
                { name: 'primary', module: '/opt/vendor/lib.so', tokenLabel: 'a', pinEnv: 'HSM_A_PIN' },
                {
                  name: 'standby',
                  module: '/opt/vendor/lib.so',
                  tokenLabel: 'b',
                  pinEnv: 'HSM_B_PIN',
                  sessionPoolSize: 2,
                },
              ],
              circuit: { failureThreshold: 5, openSeconds: 10 },
            },
          },
        }),
      );
      const config = loadConfig({
        KEYHAVEN_CONFIG: file,
        HSM_A_PIN: 'pa',
        HSM_B_PIN: 'pb',
        KEYHAVEN_PKCS11_TOKEN: 'a2',
      });
      expect(config.keyStore.pkcs11?.backends).toEqual([
        { name: 'primary', module: '/opt/vendor/lib.so', tokenLabel: 'a2', pin: 'pa' },
        { name: 'standby', module: '/opt/vendor/lib.so', tokenLabel: 'b', pin: 'pb', sessionPoolSize: 2 },
      ]);
      expect(config.keyStore.pkcs11?.circuit).toEqual({ failureThreshold: 5, openSeconds: 10 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses the pkcs11 store without a backend, and a backend without a PIN', () => {
    expect(() => loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/kh', KEYHAVEN_KEYSTORE: 'pkcs11' })).toThrow(
      ConfigError,
    );
    expect(() =>
      loadConfig({
        KEYHAVEN_DATA_DIR: '/tmp/kh',
        KEYHAVEN_KEYSTORE: 'pkcs11',
        KEYHAVEN_PKCS11_MODULE: '/x.so',
        KEYHAVEN_PKCS11_TOKEN: 't',
      }),
    ).toThrow(/pin/);
    expect(() => loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/kh', KEYHAVEN_KEYSTORE: 'hsm' })).toThrow(ConfigError);
  });
});
