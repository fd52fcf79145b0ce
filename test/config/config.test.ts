import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('reads a file and lets environment variables override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      writeFileSync(
        file,
        JSON.stringify({ dataDir: dir, server: { port: 9000, host: '0.0.0.0' }, logLevel: 'warn' }),
      );
      const config = loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_PORT: '9100' });
      expect(config.server).toMatchObject({ port: 9100, host: '0.0.0.0' });
      expect(config.logLevel).toBe('warn');
      expect(config.dataDir).toBe(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies the embedded defaults: loopback, port 8400, software key store', () => {
    const config = loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x' });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8400 });
    expect(config.keyStore.type).toBe('software');
    expect(config.metadata.type).toBe('sqlite');
  });

  it('names every invalid setting in one error', () => {
    expect(() => loadConfig({ KEYHAVEN_PORT: 'eighty' })).toThrow(/KEYHAVEN_PORT must be a whole number/);
    expect(() => loadConfig({ KEYHAVEN_PORT: '70000', KEYHAVEN_LOG_LEVEL: 'loud' })).toThrow(
      /server\.port[\s\S]*logLevel/,
    );
    expect(() => loadConfig({ KEYHAVEN_ADMIN_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYHAVEN_CONFIG: '/nonexistent/keyhaven.json' })).toThrow(/cannot read/);
  });

  it('refuses unknown keys in the configuration file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      writeFileSync(file, JSON.stringify({ dataDir: dir, sever: { port: 1 } }));
      expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(/sever/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads each secret from <NAME>_FILE instead, never putting it into the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const write = (name: string, text: string) => {
        const path = join(dir, name);
        writeFileSync(path, text);
        return path;
      };
      const env: Record<string, string | undefined> = {
        KEYHAVEN_DATA_DIR: dir,
        KEYHAVEN_ROOT_PASSPHRASE_FILE: write('passphrase', 'a long passphrase\n'),
        KEYHAVEN_ADMIN_TOKEN_FILE: write('token', 'khk_0123456789abcdef\r\n'),
        KEYHAVEN_KEYSTORE: 'pkcs11',
        KEYHAVEN_PKCS11_MODULE: '/lib/a.so',
        KEYHAVEN_PKCS11_TOKEN: 'a',
        KEYHAVEN_PKCS11_PIN_FILE: write('pin', '1234'),
      };
      const config = loadConfig(env);
      expect(config.keyStore.rootPassphrase).toBe('a long passphrase');
      expect(config.adminToken).toBe('khk_0123456789abcdef');
      expect(config.keyStore.pkcs11?.backends[0]?.pin).toBe('1234');
      expect(Object.values(env)).not.toContain('a long passphrase');
      expect(Object.values(env)).not.toContain('1234');

      expect(() =>
        loadConfig({
          KEYHAVEN_DATA_DIR: dir,
          KEYHAVEN_ADMIN_TOKEN: 'x'.repeat(20),
          KEYHAVEN_ADMIN_TOKEN_FILE: write('t2', 'y'.repeat(20)),
        }),
      ).toThrow(/KEYHAVEN_ADMIN_TOKEN or KEYHAVEN_ADMIN_TOKEN_FILE, not both/);
      expect(() =>
        loadConfig({ KEYHAVEN_DATA_DIR: dir, KEYHAVEN_ROOT_PASSPHRASE_FILE: join(dir, 'missing') }),
      ).toThrow(/KEYHAVEN_ROOT_PASSPHRASE_FILE: cannot read .*missing \(ENOENT\)/);
      expect(() =>
        loadConfig({ KEYHAVEN_DATA_DIR: dir, KEYHAVEN_ROOT_PASSPHRASE_FILE: write('empty', '\n') }),
      ).toThrow(/is empty/);
      // A directory, not a file: named, and no content quoted.
      expect(() => loadConfig({ KEYHAVEN_DATA_DIR: dir, KEYHAVEN_ROOT_PASSPHRASE_FILE: dir })).toThrow(
        /KEYHAVEN_ROOT_PASSPHRASE_FILE: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deletes the secrets it read from the environment, the pinEnv-named ones too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      writeFileSync(
        file,
        JSON.stringify({
          keyStore: {
            type: 'pkcs11',
            pkcs11: {
              backends: [
                { module: '/lib/a.so', tokenLabel: 'a', pinEnv: 'HSM_A_PIN', soPinEnv: 'HSM_A_SO_PIN' },
              ],
            },
          },
        }),
      );
      const env: Record<string, string | undefined> = {
        KEYHAVEN_CONFIG: file,
        KEYHAVEN_DATA_DIR: dir,
        KEYHAVEN_ROOT_PASSPHRASE: 'a long passphrase',
        KEYHAVEN_ADMIN_TOKEN: 'khk_0123456789abcdef',
        HSM_A_PIN: '1234',
        HSM_A_SO_PIN: '5678',
        KEYHAVEN_PORT: '9000',
      };
      const config = loadConfig(env);
      expect(config.keyStore.rootPassphrase).toBe('a long passphrase');
      expect(config.adminToken).toBe('khk_0123456789abcdef');
      expect(config.keyStore.pkcs11?.backends[0]).toMatchObject({ pin: '1234', soPin: '5678' });
      expect(Object.keys(env).sort()).toEqual(['KEYHAVEN_CONFIG', 'KEYHAVEN_DATA_DIR', 'KEYHAVEN_PORT']);
      const pinOnly: Record<string, string | undefined> = {
        KEYHAVEN_DATA_DIR: dir,
        KEYHAVEN_KEYSTORE: 'pkcs11',
        KEYHAVEN_PKCS11_MODULE: '/lib/a.so',
        KEYHAVEN_PKCS11_TOKEN: 'a',
        KEYHAVEN_PKCS11_PIN: '9999',
      };
      expect(loadConfig(pinOnly).keyStore.pkcs11?.backends[0]?.pin).toBe('9999');
      expect(pinOnly.KEYHAVEN_PKCS11_PIN).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a syntax error in the file by line and column, never quoting the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      const secret = 'hunter2-correct-horse';
      const broken = ['{', `  "keyStore": { "rootPassphrase": "${secret}" "type": "software" }`, '}'].join(
        '\n',
      );
      for (const text of [
        broken,
        `{"keyStore": {"rootPassphrase": ${secret}}}`,
        `{"adminToken": "${secret}`,
      ]) {
        writeFileSync(file, text);
        let message = '';
        try {
          loadConfig({ KEYHAVEN_CONFIG: file });
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          message = (error as Error).message;
        }
        expect(message).toMatch(/not valid JSON at line \d+, column \d+/);
        expect(message).not.toContain('hunter2');
        expect(message).not.toContain('horse');
      }
      writeFileSync(file, broken);
      expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(/line 2, column 59 \(CommaExpected\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets the AES-GCM message limits be lowered, never raised above 2^32', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      const load = (limits: Record<string, number>) => {
        writeFileSync(file, JSON.stringify({ limits }));
        return loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_DATA_DIR: dir }).limits;
      };
      expect(load({})).toMatchObject({ aesGcmRotateAfter: 3 * 2 ** 30, aesGcmMaxMessages: 2 ** 32 });
      expect(load({ aesGcmRotateAfter: 1000, aesGcmMaxMessages: 2000 })).toMatchObject({
        aesGcmRotateAfter: 1000,
        aesGcmMaxMessages: 2000,
      });
      expect(() => load({ aesGcmMaxMessages: 2 ** 32 + 1 })).toThrow(/aesGcmMaxMessages/);
      expect(() => load({ aesGcmRotateAfter: 2 ** 32 })).toThrow(/aesGcmRotateAfter/);
      expect(() => load({ aesGcmRotateAfter: 10, aesGcmMaxMessages: 5 })).toThrow(/must not exceed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the size of the per-key caches apart from the material cache', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      const load = (content: unknown) => {
        writeFileSync(file, JSON.stringify(content));
        return loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_DATA_DIR: dir });
      };
      expect(load({}).cache).toEqual({
        maxEntries: 10_000,
        ttlSeconds: 300,
        keyMetadataTtlMs: 1000,
        keyMetadataMaxEntries: 10_000,
      });
      expect(load({ cache: { maxEntries: 0, keyMetadataMaxEntries: 200_000 } }).cache).toMatchObject({
        maxEntries: 0,
        keyMetadataMaxEntries: 200_000,
      });
      // Zero would leave nothing cached and every seal reserving: the material cache alone turns off.
      expect(() => load({ cache: { keyMetadataMaxEntries: 0 } })).toThrow(/keyMetadataMaxEntries/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks monitoring.knownNetworks and the audit settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      const load = (content: unknown) => {
        writeFileSync(file, JSON.stringify(content));
        return loadConfig({ KEYHAVEN_CONFIG: file, KEYHAVEN_DATA_DIR: dir });
      };
      expect(load({}).audit).toEqual({
        enabled: true,
        checkpointIntervalSeconds: 60,
        fsync: true,
        maxBatch: 500,
      });
      expect(load({ audit: { fsync: false } }).audit.fsync).toBe(false);
      expect(load({}).aws).toEqual({
        region: 'us-east-1',
        accountId: '111122223333',
        signatureSkewSeconds: 300,
      });
      const fromEnv = loadConfig({
        KEYHAVEN_CONFIG: file,
        KEYHAVEN_DATA_DIR: dir,
        KEYHAVEN_AWS_REGION: 'eu-west-3',
        KEYHAVEN_AWS_ACCOUNT_ID: '123456789012',
      });
      expect(fromEnv.aws).toMatchObject({ region: 'eu-west-3', accountId: '123456789012' });
      expect(() => load({ aws: { region: 'Europe' } })).toThrow(/aws.region/);
      expect(() => load({ aws: { accountId: '12345' } })).toThrow(/aws.accountId/);
      expect(() => load({ audit: { fsync: 'no' } })).toThrow(/fsync/);
      expect(
        load({ monitoring: { knownNetworks: ['10.0.0.0/8', 'fd00::/8', '192.0.2.1'] } }).monitoring
          .knownNetworks,
      ).toHaveLength(3);
      for (const bad of ['10.0.0.0/33', 'fd00::/129', 'ten', '10.0.0.0/8/1', '10.0.0.0/x']) {
        expect(() => load({ monitoring: { knownNetworks: [bad] } }), bad).toThrow(/knownNetworks/);
      }
      expect(() => load({ audit: { checkpointIntervalSeconds: 0 } })).toThrow(/checkpointIntervalSeconds/);
      expect(() => load({ audit: { maxBatch: 0 } })).toThrow(/maxBatch/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('TLS', () => {
    const withFile = (content: unknown, run: (file: string) => void) => {
      const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
      try {
        const file = join(dir, 'keyhaven.json');
        writeFileSync(file, JSON.stringify(content));
        run(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    it('believes X-Forwarded-For only from listed proxy addresses, never from every hop', () => {
      expect(loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x' }).server.trustProxy).toBe(false);
      for (const trustProxy of [['10.0.0.0/8', '127.0.0.1']]) {
        withFile({ dataDir: '/tmp/x', server: { trustProxy } }, (file) => {
          expect(loadConfig({ KEYHAVEN_CONFIG: file }).server.trustProxy).toEqual(trustProxy);
        });
      }
      for (const trustProxy of [true, 1, [], 'yes']) {
        withFile({ dataDir: '/tmp/x', server: { trustProxy } }, (file) => {
          expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(/trustProxy/);
        });
      }
    });

    it('is off by default, and so is serving plaintext off loopback', () => {
      const { server } = loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x' });
      expect(server.tls).toBeUndefined();
      expect(server.allowInsecure).toBe(false);
    });

    it('reads server.tls paths from the file and lets each KEYHAVEN_TLS_* variable override one', () => {
      const tls = { cert: '/etc/kh/server.crt', key: '/etc/kh/server.key', clientCa: '/etc/kh/ca.crt' };
      withFile({ dataDir: '/tmp/x', server: { tls, allowInsecure: true } }, (file) => {
        expect(loadConfig({ KEYHAVEN_CONFIG: file }).server).toMatchObject({ tls, allowInsecure: true });
        const overridden = loadConfig({
          KEYHAVEN_CONFIG: file,
          KEYHAVEN_TLS_KEY: '/run/other.key',
          KEYHAVEN_ALLOW_INSECURE: '0',
        }).server;
        expect(overridden.tls).toEqual({ ...tls, key: '/run/other.key' });
        expect(overridden.allowInsecure).toBe(false);
      });
    });

    it('takes the whole TLS setting from the environment', () => {
      const { server } = loadConfig({
        KEYHAVEN_DATA_DIR: '/tmp/x',
        KEYHAVEN_TLS_CERT: 'server.crt',
        KEYHAVEN_TLS_KEY: 'server.key',
        KEYHAVEN_TLS_CLIENT_CA: 'clients.crt',
        KEYHAVEN_ALLOW_INSECURE: '1',
      });
      expect(server.tls).toEqual({ cert: 'server.crt', key: 'server.key', clientCa: 'clients.crt' });
      expect(server.allowInsecure).toBe(true);
    });

    it('refuses a certificate without its key, a key without its certificate, and a client CA alone', () => {
      const base = { KEYHAVEN_DATA_DIR: '/tmp/x' };
      expect(() => loadConfig({ ...base, KEYHAVEN_TLS_CERT: 'server.crt' })).toThrow(
        /server\.tls\.key: server\.tls\.cert needs its key/,
      );
      expect(() => loadConfig({ ...base, KEYHAVEN_TLS_KEY: 'server.key' })).toThrow(
        /server\.tls\.cert: server\.tls\.key needs its certificate/,
      );
      expect(() => loadConfig({ ...base, KEYHAVEN_TLS_CLIENT_CA: 'ca.crt' })).toThrow(
        /server\.tls\.clientCa: .*needs server\.tls\.cert and key/,
      );
      withFile({ dataDir: '/tmp/x', server: { tls: { cert: 'server.crt' } } }, (file) => {
        expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(ConfigError);
      });
    });

    it('treats an empty server.tls as no TLS, and refuses unknown or mistyped TLS keys', () => {
      withFile({ dataDir: '/tmp/x', server: { tls: {} } }, (file) => {
        expect(loadConfig({ KEYHAVEN_CONFIG: file }).server.tls).toBeUndefined();
      });
      withFile({ dataDir: '/tmp/x', server: { tls: { cert: 'a', key: 'b', ca: 'c' } } }, (file) => {
        expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(/server\.tls[\s\S]*ca/);
      });
      withFile({ dataDir: '/tmp/x', server: { tls: 'server.crt' } }, (file) => {
        expect(() => loadConfig({ KEYHAVEN_CONFIG: file })).toThrow(/server\.tls/);
      });
    });

    it('accepts only 1/0 or true/false for KEYHAVEN_ALLOW_INSECURE', () => {
      expect(() => loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x', KEYHAVEN_ALLOW_INSECURE: 'yes' })).toThrow(
        /KEYHAVEN_ALLOW_INSECURE must be 1 or 0/,
      );
      expect(
        loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x', KEYHAVEN_ALLOW_INSECURE: 'true' }).server.allowInsecure,
      ).toBe(true);
    });
  });
});

describe('database configuration', () => {
  const url = 'postgres://keyhaven:s3cret-pw@db.internal:5432/keyhaven';

  it('is SQLite unless a PostgreSQL URL is given, with the pool and timeout defaults', () => {
    const config = loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x' });
    expect(config.database).toEqual({
      poolSize: 10,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 5000,
      tls: { verify: true },
    });
  });

  it('reads every setting from KEYHAVEN_DATABASE_* and removes the URL from the environment', () => {
    const env: Record<string, string | undefined> = {
      KEYHAVEN_DATA_DIR: '/tmp/x',
      KEYHAVEN_DATABASE_URL: url,
      KEYHAVEN_DATABASE_POOL_SIZE: '25',
      KEYHAVEN_DATABASE_STATEMENT_TIMEOUT_MS: '3000',
      KEYHAVEN_DATABASE_CONNECT_TIMEOUT_MS: '2000',
      KEYHAVEN_DATABASE_TLS_CA: '/etc/ssl/db-ca.pem',
      KEYHAVEN_DATABASE_TLS_VERIFY: '0',
      KEYHAVEN_DATABASE_TLS_CERT: '/etc/ssl/client.pem',
      KEYHAVEN_DATABASE_TLS_KEY: '/etc/ssl/client.key',
    };
    expect(loadConfig(env).database).toEqual({
      url,
      poolSize: 25,
      statementTimeoutMs: 3000,
      connectTimeoutMs: 2000,
      tls: {
        ca: '/etc/ssl/db-ca.pem',
        verify: false,
        cert: '/etc/ssl/client.pem',
        key: '/etc/ssl/client.key',
      },
    });
    // It carries the database password.
    expect(env.KEYHAVEN_DATABASE_URL).toBeUndefined();
  });

  it('refuses a URL that is not postgres://, without quoting it, and a client certificate without its key', () => {
    const wrong = 'mysql://keyhaven:s3cret-pw@db/keyhaven';
    let message = '';
    try {
      loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x', KEYHAVEN_DATABASE_URL: wrong });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/database\.url/);
    expect(message).not.toContain('s3cret-pw');
    expect(() =>
      loadConfig({
        KEYHAVEN_DATA_DIR: '/tmp/x',
        KEYHAVEN_DATABASE_URL: url,
        KEYHAVEN_DATABASE_TLS_CERT: '/c.pem',
      }),
    ).toThrow(/database\.tls/);
    expect(() => loadConfig({ KEYHAVEN_DATA_DIR: '/tmp/x', KEYHAVEN_DATABASE_POOL_SIZE: '0' })).toThrow(
      /database\.poolSize/,
    );
  });
});

describe('the scheduled work lease', () => {
  const withJobs = (jobs: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhaven-config-'));
    try {
      const file = join(dir, 'keyhaven.json');
      writeFileSync(file, JSON.stringify({ dataDir: dir, jobs }));
      return loadConfig({ KEYHAVEN_CONFIG: file }).jobs;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is unset by default (the composition root derives it), and may be set to two intervals or more', () => {
    expect(withJobs({}).leaseSeconds).toBeUndefined();
    expect(withJobs({ intervalSeconds: 1, leaseSeconds: 3 }).leaseSeconds).toBe(3);
    expect(withJobs({ intervalSeconds: 2, leaseSeconds: 4 }).leaseSeconds).toBe(4);
  });

  it('refuses a lease that would lapse between two runs of its holder', () => {
    expect(() => withJobs({ intervalSeconds: 2, leaseSeconds: 3 })).toThrow(/jobs\.leaseSeconds.*twice/);
    expect(() => withJobs({ leaseSeconds: 1 })).toThrow(/jobs\.leaseSeconds/);
  });
});
