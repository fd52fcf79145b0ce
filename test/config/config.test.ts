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
});
